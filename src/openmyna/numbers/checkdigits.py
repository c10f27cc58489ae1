"""Check digits, validation, classification and masking of numbers (SPEC N1–N3).

* Individual Number (個人番号): 12 digits, the last a check digit. Weights on the first 11
  digits, left to right, 6 5 4 3 2 7 6 5 4 3 2; r = sum mod 11; check = 0 if r <= 1 else
  11 - r (個人番号の指定に関する省令, 平成26年総務省令第85号, §5).
* Corporate Number (法人番号): 13 digits, the check digit FIRST. Weights on the 12-digit
  base, left to right, 2 1 2 1 … 2 1; check = 9 - (sum mod 9) (法人番号の指定等に関する省令 §2).
* Resident-record code (住民票コード): 11 digits, 10 digits then a check digit. openmyna's
  choice: modulus 11 with weights 2 3 4 5 6 7 2 3 4 5 from the right of the 10 digits,
  check = 0 if r <= 1 else 11 - r.

Validators accept what people type (full-width digits, spaces, hyphens) and return the
canonical ASCII digit string. Error messages never contain the number.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import NewType

from openmyna.numbers.errors import InvalidNumber

IndividualNumber = NewType("IndividualNumber", str)
CorporateNumber = NewType("CorporateNumber", str)
ResidentCode = NewType("ResidentCode", str)

#: Weights of the 11 base digits of an individual number, left to right.
INDIVIDUAL_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
#: Weights of the 12 base digits of a corporate number, left to right.
CORPORATE_WEIGHTS = (2, 1) * 6
#: Weights of the 10 base digits of a resident-record code, left to right
#: (2 3 4 5 6 7 2 3 4 5 read from the right).
RESIDENT_CODE_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

INDIVIDUAL_LENGTH = 12
CORPORATE_LENGTH = 13
RESIDENT_CODE_LENGTH = 11

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー]+")
_ASCII_DIGITS = re.compile(r"[0-9]*")


class NumberKind(enum.Enum):
    """Which number a digit string is."""

    INDIVIDUAL = "individual"
    CORPORATE = "corporate"

    @property
    def label(self) -> str:
        """A human name of the kind, with the Japanese term."""
        return _LABELS[self]


_LABELS = {
    NumberKind.INDIVIDUAL: "Individual Number (個人番号)",
    NumberKind.CORPORATE: "Corporate Number (法人番号)",
}


def normalize_digits(text: str) -> str:
    """Full-width to ASCII (NFKC) and drop spaces and hyphens, as people type numbers."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


def require_digits(digits: str, length: int, kind: str, what: str) -> None:
    """Raise ``InvalidNumber`` unless ``digits`` is exactly ``length`` ASCII digits."""
    if len(digits) != length:
        raise InvalidNumber(
            f"{what} must be {length} digits, got {len(digits)} characters",
            kind=kind,
            reason="length",
            expected_length=length,
            length=len(digits),
        )
    if not _ASCII_DIGITS.fullmatch(digits):
        raise InvalidNumber(
            f"{what} must contain only the digits 0-9", kind=kind, reason="non_digit"
        )


def _weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(ch) * w for ch, w in zip(digits, weights, strict=True))


def _mod11_check(total: int) -> int:
    r = total % 11
    return 0 if r <= 1 else 11 - r


# ---- Individual Number ---------------------------------------------------------------


def individual_check_digit(base: str) -> int:
    """The check digit of an individual number from its first 11 digits."""
    require_digits(base, 11, "individual", "individual number base")
    return _mod11_check(_weighted_sum(base, INDIVIDUAL_WEIGHTS))


def validate_individual_number(text: str) -> IndividualNumber:
    """The canonical 12-digit individual number, or ``InvalidNumber`` saying why not."""
    digits = normalize_digits(text)
    require_digits(digits, INDIVIDUAL_LENGTH, "individual", "an individual number")
    if int(digits[-1]) != _mod11_check(_weighted_sum(digits[:11], INDIVIDUAL_WEIGHTS)):
        raise InvalidNumber(
            "individual number check digit does not match", kind="individual", reason="check_digit"
        )
    return IndividualNumber(digits)


def is_valid_individual_number(text: str) -> bool:
    """Whether ``text`` is a valid individual number."""
    try:
        validate_individual_number(text)
    except InvalidNumber:
        return False
    return True


# ---- Corporate Number ----------------------------------------------------------------


def corporate_check_digit(base: str) -> int:
    """The (leading) check digit of a corporate number from its 12-digit base."""
    require_digits(base, 12, "corporate", "corporate number base")
    return 9 - _weighted_sum(base, CORPORATE_WEIGHTS) % 9


def validate_corporate_number(text: str) -> CorporateNumber:
    """The canonical 13-digit corporate number, or ``InvalidNumber`` saying why not."""
    digits = normalize_digits(text)
    require_digits(digits, CORPORATE_LENGTH, "corporate", "a corporate number")
    if int(digits[0]) != 9 - _weighted_sum(digits[1:], CORPORATE_WEIGHTS) % 9:
        raise InvalidNumber(
            "corporate number check digit does not match", kind="corporate", reason="check_digit"
        )
    return CorporateNumber(digits)


def is_valid_corporate_number(text: str) -> bool:
    """Whether ``text`` is a valid corporate number."""
    try:
        validate_corporate_number(text)
    except InvalidNumber:
        return False
    return True


# ---- Resident-record code ------------------------------------------------------------


def resident_code_check_digit(base: str) -> int:
    """The check digit of a resident-record code from its first 10 digits."""
    require_digits(base, 10, "resident_code", "resident-record code base")
    return _mod11_check(_weighted_sum(base, RESIDENT_CODE_WEIGHTS))


def validate_resident_code(text: str) -> ResidentCode:
    """The canonical 11-digit resident-record code, or ``InvalidNumber`` saying why not."""
    digits = normalize_digits(text)
    require_digits(digits, RESIDENT_CODE_LENGTH, "resident_code", "a resident-record code")
    if int(digits[-1]) != _mod11_check(_weighted_sum(digits[:10], RESIDENT_CODE_WEIGHTS)):
        raise InvalidNumber(
            "resident-record code check digit does not match",
            kind="resident_code",
            reason="check_digit",
        )
    return ResidentCode(digits)


def is_valid_resident_code(text: str) -> bool:
    """Whether ``text`` is a valid resident-record code."""
    try:
        validate_resident_code(text)
    except InvalidNumber:
        return False
    return True


# ---- Classification and masking ------------------------------------------------------


def classify_number(text: str) -> NumberKind:
    """Whether ``text`` is a valid individual or corporate number; ``InvalidNumber`` if neither."""
    digits = normalize_digits(text)
    if len(digits) == INDIVIDUAL_LENGTH:
        validate_individual_number(digits)
        return NumberKind.INDIVIDUAL
    if len(digits) == CORPORATE_LENGTH:
        validate_corporate_number(digits)
        return NumberKind.CORPORATE
    raise InvalidNumber(
        "a number must be 12 digits (individual) or 13 digits (corporate), "
        f"got {len(digits)} characters",
        kind="any",
        reason="length",
        length=len(digits),
    )


def mask_individual_number(text: str) -> str:
    """``**** **** 9018``: safe for displays and logs; anything malformed masks entirely."""
    digits = normalize_digits(text)
    if len(digits) == INDIVIDUAL_LENGTH and _ASCII_DIGITS.fullmatch(digits):
        return f"**** **** {digits[-4:]}"
    return "**** **** ****"


def mask_resident_code(text: str) -> str:
    """``*******1234``: safe for displays and logs; anything malformed masks entirely."""
    digits = normalize_digits(text)
    if len(digits) == RESIDENT_CODE_LENGTH and _ASCII_DIGITS.fullmatch(digits):
        return "*" * 7 + digits[-4:]
    return "*" * RESIDENT_CODE_LENGTH
