"""Check digits, validation, classification and masking (N1–N3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.numbers import (
    InvalidNumber,
    NumberKind,
    classify_number,
    corporate_check_digit,
    individual_check_digit,
    is_valid_corporate_number,
    is_valid_individual_number,
    is_valid_resident_code,
    mask_individual_number,
    mask_resident_code,
    resident_code_check_digit,
    validate_corporate_number,
    validate_individual_number,
    validate_resident_code,
)

VALID_INDIVIDUAL = ["123456789018", "548836529885", "895980423139", "465281266333"]
VALID_CORPORATE = ["7123456789012", "4011001098993", "1010601008968", "2010001163289"]

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def _individual(base: str) -> str:
    return base + str(individual_check_digit(base))


def _mod11_residue(base: str, weights: tuple[int, ...]) -> int:
    return sum(int(c) * w for c, w in zip(base, weights, strict=True)) % 11


# ---- the published vectors ----------------------------------------------------------


@pytest.mark.parametrize("number", VALID_INDIVIDUAL)
def test_valid_individual_numbers(number: str) -> None:
    assert is_valid_individual_number(number)
    assert validate_individual_number(number) == number
    assert individual_check_digit(number[:11]) == int(number[-1])
    assert classify_number(number) is NumberKind.INDIVIDUAL


def test_invalid_individual_number_is_a_check_digit_mismatch() -> None:
    assert not is_valid_individual_number("895980423138")
    with pytest.raises(InvalidNumber) as info:
        validate_individual_number("895980423138")
    assert info.value.reason == "check_digit"
    assert info.value.code == "INVALID_NUMBER"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("number", VALID_CORPORATE)
def test_valid_corporate_numbers(number: str) -> None:
    assert is_valid_corporate_number(number)
    assert validate_corporate_number(number) == number
    assert corporate_check_digit(number[1:]) == int(number[0])
    assert classify_number(number) is NumberKind.CORPORATE


def test_invalid_corporate_number() -> None:
    assert not is_valid_corporate_number("2010001163285")
    with pytest.raises(InvalidNumber) as info:
        classify_number("2010001163285")
    assert info.value.reason == "check_digit"
    assert info.value.kind == "corporate"


def test_individual_check_digit_by_hand() -> None:
    # 1*6+2*5+3*4+4*3+5*2+6*7+7*6+8*5+9*4+0*3+1*2 = 212; 212 mod 11 = 3; 11 - 3 = 8.
    assert individual_check_digit("12345678901") == 8
    # r <= 1 gives 0: all zeros has r = 0; "00000000006" has r = 12 mod 11 = 1.
    assert individual_check_digit("00000000000") == 0
    assert individual_check_digit("00000000006") == 0


def test_resident_code_check_digit_by_hand() -> None:
    # Weights 2..7,2..5 from the right: 0000000001 -> r = 2 -> 9.
    assert resident_code_check_digit("0000000001") == 9
    # 1000000000: leftmost weight is 5 -> r = 5 -> 6.
    assert resident_code_check_digit("1000000000") == 6
    assert is_valid_resident_code("00000000019")
    assert validate_resident_code("10000000006") == "10000000006"
    assert not is_valid_resident_code("10000000007")


# ---- reasons, and no number in any message -------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12345678901", "length"),
        ("2010001163285", "check_digit"),  # 13 digits: read as corporate
        ("", "length"),
        ("12345678901a", "non_digit"),
        ("12345678901٣", "non_digit"),  # a non-ASCII digit
        ("123456789017", "check_digit"),
    ],
)
def test_classify_reasons(text: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        classify_number(text)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "call",
    [validate_individual_number, validate_corporate_number, validate_resident_code],
)
@pytest.mark.parametrize("text", ["895980423138", "2010001163285", "1234567890", "12345678901x"])
def test_errors_never_echo_the_number(call: object, text: str) -> None:
    assert callable(call)
    with pytest.raises(OpenMynaError) as info:
        call(text)
    exc = info.value
    shown = exc.diagnostics() + str(exc.problem()) + str(exc)
    assert text not in shown
    assert text[:8] not in shown


def test_people_type_full_width_digits_spaces_and_hyphens() -> None:
    assert validate_individual_number("１２３４ ５６７８ ９０１８") == "123456789018"
    assert validate_individual_number("1234-5678-9018") == "123456789018"
    assert validate_corporate_number("7-1234-5678-9012") == "7123456789012"


def test_base_functions_are_strict() -> None:
    with pytest.raises(InvalidNumber):
        individual_check_digit("1234567890")
    with pytest.raises(InvalidNumber):
        corporate_check_digit("12345678901x")
    with pytest.raises(InvalidNumber):
        resident_code_check_digit("12345678901")


# ---- masking -------------------------------------------------------------------------


def test_masking() -> None:
    assert mask_individual_number("123456789018") == "**** **** 9018"
    assert mask_resident_code("10000000006") == "*******0006"
    # Malformed input masks entirely rather than leaking part of it.
    assert mask_individual_number("12345") == "**** **** ****"
    assert mask_individual_number("12345678901234") == "**** **** ****"
    assert mask_resident_code("abc") == "***********"


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_masked_individual_number_shows_only_the_last_four(base: str) -> None:
    number = _individual(base)
    masked = mask_individual_number(number)
    assert masked.endswith(number[-4:])
    assert sum(ch.isdigit() for ch in masked) == 4


# ---- properties ------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_appending_the_check_digit_makes_a_valid_number(base: str) -> None:
    number = _individual(base)
    assert is_valid_individual_number(number)
    assert classify_number(number) is NumberKind.INDIVIDUAL


@given(
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.integers(min_value=0, max_value=11),
    st.integers(min_value=1, max_value=9),
)
def test_single_digit_changes_are_detected_unless_r_moves_between_0_and_1(
    base: str, pos: int, delta: int
) -> None:
    number = _individual(base)
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    if pos == 11:
        assert not is_valid_individual_number(changed)  # the check digit itself
        return
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    before = _mod11_residue(number[:11], weights)
    after = _mod11_residue(changed[:11], weights)
    # The ordinance maps r = 0 and r = 1 to the same check digit 0: the one blind spot.
    blind = {before, after} == {0, 1}
    assert is_valid_individual_number(changed) is blind


def test_the_blind_spot_is_real() -> None:
    # Documented limitation of the official algorithm: r 0 -> 1 keeps check digit 0.
    assert is_valid_individual_number("000000000000")
    assert is_valid_individual_number("000000000060")


@given(
    st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(min_value=0, max_value=9)
)
def test_adjacent_transpositions_are_detected_unless_r_moves_between_0_and_1(
    base: str, pos: int
) -> None:
    number = _individual(base)
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
    if swapped == number:
        return
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    blind = {_mod11_residue(number[:11], weights), _mod11_residue(swapped[:11], weights)} == {0, 1}
    if pos < 10:
        assert is_valid_individual_number(swapped) is blind


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=9),
)
def test_corporate_single_digit_changes_detected_except_0_9(
    base: str, pos: int, delta: int
) -> None:
    number = str(corporate_check_digit(base)) + base
    old = int(number[pos])
    new = (old + delta) % 10
    changed = number[:pos] + str(new) + number[pos + 1 :]
    # Modulus 9 cannot tell 0 from 9 in the base; the check digit is never 0.
    blind = pos > 0 and {old, new} == {0, 9}
    assert is_valid_corporate_number(changed) is blind


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_resident_code_check_digit_round_trip(base: str) -> None:
    code = base + str(resident_code_check_digit(base))
    assert validate_resident_code(code) == code
    wrong = code[:10] + str((int(code[10]) + 1) % 10)
    assert not is_valid_resident_code(wrong)
