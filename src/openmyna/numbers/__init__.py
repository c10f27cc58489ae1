"""Numbers (SPEC N1–N3): individual numbers (個人番号), corporate numbers (法人番号) and
resident-record codes (住民票コード) — check digits, validation, masking, and keyed issuance.

The pure functions need no key. Issuance needs the issuing body's keys and counter:
``NumberingAuthority.open(settings)``.
"""

from openmyna.numbers.authority import IssuedNumber, NumberingAuthority
from openmyna.numbers.bulk import (
    corporate_check_digits,
    digit_lines,
    individual_check_digits,
    resident_code_check_digits,
    to_strings,
    valid_individual_numbers,
    valid_resident_codes,
)
from openmyna.numbers.checkdigits import (
    CorporateNumber,
    IndividualNumber,
    NumberKind,
    ResidentCode,
    classify_number,
    corporate_check_digit,
    individual_check_digit,
    is_valid_corporate_number,
    is_valid_individual_number,
    is_valid_resident_code,
    mask_individual_number,
    mask_resident_code,
    normalize_digits,
    resident_code_check_digit,
    validate_corporate_number,
    validate_individual_number,
    validate_resident_code,
)
from openmyna.numbers.errors import InvalidNumber, NumberingExhausted, NumberingKeyError
from openmyna.numbers.ff1 import FF1, FF1Error

__all__ = [
    "FF1",
    "CorporateNumber",
    "FF1Error",
    "IndividualNumber",
    "InvalidNumber",
    "IssuedNumber",
    "NumberKind",
    "NumberingAuthority",
    "NumberingExhausted",
    "NumberingKeyError",
    "ResidentCode",
    "classify_number",
    "corporate_check_digit",
    "corporate_check_digits",
    "digit_lines",
    "individual_check_digit",
    "individual_check_digits",
    "is_valid_corporate_number",
    "is_valid_individual_number",
    "is_valid_resident_code",
    "mask_individual_number",
    "mask_resident_code",
    "normalize_digits",
    "resident_code_check_digit",
    "resident_code_check_digits",
    "to_strings",
    "valid_individual_numbers",
    "valid_resident_codes",
    "validate_corporate_number",
    "validate_individual_number",
    "validate_resident_code",
]
