"""Array check digits and the bulk derivation agree with the scalar definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.numbers import (
    corporate_check_digit,
    corporate_check_digits,
    digit_lines,
    individual_check_digit,
    individual_check_digits,
    is_valid_corporate_number,
    resident_code_check_digit,
    resident_code_check_digits,
    to_strings,
    valid_individual_numbers,
    valid_resident_codes,
)
from openmyna.numbers.bulk import Deriver
from openmyna.numbers.ff1 import CHUNK, FF1

RES = FF1(bytes([1]) * 32)
IND = FF1(bytes([2]) * 32)
CORP = FF1(bytes([3]) * 32)
DERIVER = Deriver(RES, IND, CORP)


@given(st.lists(st.integers(0, 10**11 - 1), min_size=1, max_size=20))
def test_individual_check_digits_match_scalar(bases: list[int]) -> None:
    got = individual_check_digits(np.array(bases, dtype=np.uint64)).tolist()
    assert got == [individual_check_digit(f"{b:011d}") for b in bases]


@given(st.lists(st.integers(0, 10**12 - 1), min_size=1, max_size=20))
def test_corporate_check_digits_match_scalar(bases: list[int]) -> None:
    got = corporate_check_digits(np.array(bases, dtype=np.uint64)).tolist()
    assert got == [corporate_check_digit(f"{b:012d}") for b in bases]


@given(st.lists(st.integers(0, 10**10 - 1), min_size=1, max_size=20))
def test_resident_code_check_digits_match_scalar(bases: list[int]) -> None:
    got = resident_code_check_digits(np.array(bases, dtype=np.uint64)).tolist()
    assert got == [resident_code_check_digit(f"{b:010d}") for b in bases]


def test_array_validity() -> None:
    numbers = np.array([123456789018, 895980423138, 548836529885, 10**12], dtype=np.uint64)
    assert valid_individual_numbers(numbers).tolist() == [True, False, True, False]
    codes = np.array([10000000006, 10000000007, 19], dtype=np.uint64)
    assert valid_resident_codes(codes).tolist() == [True, False, True]


def test_out_of_range_bases_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        individual_check_digits(np.array([10**11], dtype=np.uint64))


def test_digit_lines_and_strings() -> None:
    assert digit_lines(np.array([7, 123456789018], dtype=np.uint64), 12) == (
        b"000000000007\n123456789018\n"
    )
    assert to_strings([42], 11) == ["00000000042"]
    with pytest.raises(ValueError, match="wider"):
        digit_lines([10**12], 12)


def test_issue_range_matches_the_scalar_pipeline() -> None:
    first = 10**10 - CHUNK - 5  # crosses a chunk boundary and ends at the last serial
    codes, numbers = DERIVER.issue_range(first, CHUNK + 5)
    for i in (0, 1, CHUNK - 1, CHUNK, CHUNK + 4):
        base10 = f"{RES.encrypt_int(first + i, 10):010d}"
        code = base10 + str(resident_code_check_digit(base10))
        base11 = f"{IND.encrypt_int(int(code), 11):011d}"
        number = base11 + str(individual_check_digit(base11))
        assert f"{int(codes[i]):011d}" == code
        assert f"{int(numbers[i]):012d}" == number
    assert valid_resident_codes(codes).all()
    assert valid_individual_numbers(numbers).all()
    with pytest.raises(ValueError, match="serials"):
        DERIVER.issue_range(10**10 - 1, 2)


def test_issuance_is_unique_for_a_batch() -> None:
    codes, numbers = DERIVER.issue_range(0, 200_000)
    assert len(np.unique(codes)) == len(codes)
    assert len(np.unique(numbers)) == len(numbers)
    # The same serials always give the same codes: issuance is a pure function of the key.
    again, _ = DERIVER.issue_range(0, 10)
    assert np.array_equal(again, codes[:10])
    # Separate derivations agree with the fused pipeline.
    assert np.array_equal(DERIVER.resident_codes(np.arange(100, dtype=np.uint64)), codes[:100])
    assert np.array_equal(DERIVER.individual_numbers(codes[:100]), numbers[:100])


def test_serials_do_not_look_sequential() -> None:
    codes, _ = DERIVER.issue_range(0, 1000)
    gaps = np.diff(codes.astype(np.int64))
    assert (gaps > 0).sum() < 900  # not increasing
    assert len(np.unique(codes // 10**8)) > 50  # spread over the space


def test_corporate_numbers_match_scalar() -> None:
    bases = np.array([0, 123456789012, 10**12 - 1], dtype=np.uint64)
    out = DERIVER.corporate_numbers(bases)
    for b, n in zip(bases.tolist(), out.tolist(), strict=True):
        derived = f"{CORP.encrypt_int(b, 12):012d}"
        assert f"{n:013d}" == str(corporate_check_digit(derived)) + derived
        assert is_valid_corporate_number(f"{n:013d}")
