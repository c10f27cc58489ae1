"""Numbers in bulk: check digits, derivation and text output over numpy ``uint64`` arrays.

Everything here works on whole arrays (numpy, and one AES-ECB call per Feistel round), so
the whole 2018 population of Japan can be numbered on one core in well under two minutes.
Arrays are processed in chunks that fit the CPU cache; no Python loop runs per number.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from openmyna.numbers.checkdigits import (
    CORPORATE_WEIGHTS,
    INDIVIDUAL_WEIGHTS,
    RESIDENT_CODE_WEIGHTS,
)
from openmyna.numbers.ff1 import CHUNK, FF1, U64

_P5 = np.uint64(10**5)
_P6 = np.uint64(10**6)
_TEN = np.uint64(10)


@functools.cache
def _weight_table(weights: tuple[int, ...]) -> npt.NDArray[np.uint16]:
    """For every k-digit value x (k = len(weights)), the weighted sum of its digits."""
    k = len(weights)
    x = np.arange(10**k, dtype=np.uint32)
    total = np.zeros(10**k, dtype=np.uint16)
    for pos, w in enumerate(weights):
        digit = (x // 10 ** (k - 1 - pos)) % 10
        total += (digit * w).astype(np.uint16)
    return total


@functools.cache
def _mod11_table() -> npt.NDArray[np.uint64]:
    """Check digit (0 if r <= 1 else 11 - r, r = s mod 11) for every weighted sum s."""
    s = np.arange(9 * 47 + 1, dtype=np.uint64)
    r = s % np.uint64(11)
    out: npt.NDArray[np.uint64] = np.where(r <= 1, np.uint64(0), np.uint64(11) - r).astype(
        np.uint64
    )
    return out


@functools.cache
def _mod9_table() -> npt.NDArray[np.uint64]:
    """Corporate check digit 9 - (s mod 9) for every weighted sum s."""
    s = np.arange(9 * 18 + 1, dtype=np.uint64)
    out: npt.NDArray[np.uint64] = np.uint64(9) - s % np.uint64(9)
    return out


def _split_check(
    hi: U64, lo: U64, weights: tuple[int, ...], lo_digits: int, table: npt.NDArray[np.uint64]
) -> U64:
    """Check digits from a base already split into its high and low ``lo_digits`` digits."""
    t_hi = _weight_table(weights[:-lo_digits])
    t_lo = _weight_table(weights[-lo_digits:])
    s = np.take(t_hi, hi)
    s += np.take(t_lo, lo)
    out: U64 = np.take(table, s)
    return out


def _check_digits(bases: U64, weights: tuple[int, ...], table: npt.NDArray[np.uint64]) -> U64:
    lo_digits = min(6, len(weights) // 2 + 1)
    p = np.uint64(10**lo_digits)
    hi = bases // p
    lo = bases - hi * p
    return _split_check(hi, lo, weights, lo_digits, table)


def _require_below(values: U64, limit: int, what: str) -> None:
    if values.size and int(values.max()) >= limit:
        raise ValueError(f"{what} out of range")


def individual_check_digits(bases: npt.ArrayLike) -> U64:
    """Check digits of many 11-digit individual-number bases (uint64 array)."""
    x = np.asarray(bases, dtype=np.uint64)
    _require_below(x, 10**11, "individual number base")
    return _check_digits(x, INDIVIDUAL_WEIGHTS, _mod11_table())


def corporate_check_digits(bases: npt.ArrayLike) -> U64:
    """Check digits of many 12-digit corporate-number bases (uint64 array)."""
    x = np.asarray(bases, dtype=np.uint64)
    _require_below(x, 10**12, "corporate number base")
    return _check_digits(x, CORPORATE_WEIGHTS, _mod9_table())


def resident_code_check_digits(bases: npt.ArrayLike) -> U64:
    """Check digits of many 10-digit resident-record-code bases (uint64 array)."""
    x = np.asarray(bases, dtype=np.uint64)
    _require_below(x, 10**10, "resident-record code base")
    return _check_digits(x, RESIDENT_CODE_WEIGHTS, _mod11_table())


def valid_individual_numbers(numbers: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which of many 12-digit individual numbers (uint64) have a right check digit."""
    x = np.asarray(numbers, dtype=np.uint64)
    base = x // _TEN
    ok: npt.NDArray[np.bool_] = (x < np.uint64(10**12)) & (
        x - base * _TEN == individual_check_digits(base % np.uint64(10**11))
    )
    return ok


def valid_resident_codes(codes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which of many 11-digit resident-record codes (uint64) have a right check digit."""
    x = np.asarray(codes, dtype=np.uint64)
    base = x // _TEN
    ok: npt.NDArray[np.bool_] = (x < np.uint64(10**11)) & (
        x - base * _TEN == resident_code_check_digits(base % np.uint64(10**10))
    )
    return ok


class Deriver:
    """The keyed conversions of the issuing body, over arrays, reusing buffers per chunk."""

    def __init__(self, resident_ff1: FF1, individual_ff1: FF1, corporate_ff1: FF1) -> None:
        self._resident = resident_ff1.batch(10, CHUNK)
        self._individual = individual_ff1.batch(11, CHUNK)
        self._corporate = corporate_ff1.batch(12, CHUNK)
        self._mod11 = _mod11_table()
        self._mod9 = _mod9_table()
        # Warm the weight tables once so the first chunk is not slower than the rest.
        for w, k in ((RESIDENT_CODE_WEIGHTS, 5), (INDIVIDUAL_WEIGHTS, 6), (CORPORATE_WEIGHTS, 6)):
            _weight_table(w[:-k])
            _weight_table(w[-k:])

    def _code_chunk(self, serials: U64) -> tuple[U64, U64, U64]:
        """Resident codes of serials: (codes, first 5 digits, last 6 digits)."""
        a = serials // _P5
        b = serials - a * _P5
        a, b = self._resident.encrypt(a, b)
        cd = _split_check(a, b, RESIDENT_CODE_WEIGHTS, 5, self._mod11)
        # The code's last 6 digits: the 5 low base digits and the check digit.
        b *= _TEN
        b += cd
        codes: U64 = a * _P6 + b
        return codes, a, b

    def _number_chunk(self, hi: U64, lo: U64) -> U64:
        """Individual numbers of resident codes given as (first 5 digits, last 6 digits)."""
        a, b = self._individual.encrypt(hi, lo)
        cd = _split_check(a, b, INDIVIDUAL_WEIGHTS, 6, self._mod11)
        a *= _P6
        a += b
        a *= _TEN
        a += cd
        return a

    def _chunks(self, total: int) -> Iterator[slice]:
        for start in range(0, total, CHUNK):
            yield slice(start, min(start + CHUNK, total))

    def issue_range(self, first_serial: int, count: int) -> tuple[U64, U64]:
        """Resident codes and individual numbers for serials ``first_serial`` … ``+count-1``."""
        if first_serial < 0 or first_serial + count > 10**10:
            raise ValueError("serials must lie in 0 .. 10**10 - 1")
        codes = np.empty(count, dtype=np.uint64)
        numbers = np.empty(count, dtype=np.uint64)
        for sl in self._chunks(count):
            serials = np.arange(first_serial + sl.start, first_serial + sl.stop, dtype=np.uint64)
            c, hi, lo = self._code_chunk(serials)
            codes[sl] = c
            numbers[sl] = self._number_chunk(hi, lo)
        return codes, numbers

    def resident_codes(self, serials: npt.ArrayLike) -> U64:
        """Resident-record codes (11 digits) of serials below 10**10."""
        s = np.asarray(serials, dtype=np.uint64)
        _require_below(s, 10**10, "serial")
        out = np.empty(len(s), dtype=np.uint64)
        for sl in self._chunks(len(s)):
            out[sl] = self._code_chunk(s[sl])[0]
        return out

    def individual_numbers(self, codes: npt.ArrayLike) -> U64:
        """Individual numbers (12 digits) of resident-record codes (11 digits, not checked)."""
        c = np.asarray(codes, dtype=np.uint64)
        _require_below(c, 10**11, "resident-record code")
        out = np.empty(len(c), dtype=np.uint64)
        for sl in self._chunks(len(c)):
            hi = c[sl] // _P6
            out[sl] = self._number_chunk(hi, c[sl] - hi * _P6)
        return out

    def corporate_numbers(self, bases: npt.ArrayLike) -> U64:
        """Corporate numbers (13 digits) of 12-digit bases."""
        x = np.asarray(bases, dtype=np.uint64)
        _require_below(x, 10**12, "corporate number base")
        out = np.empty(len(x), dtype=np.uint64)
        for sl in self._chunks(len(x)):
            hi = x[sl] // _P6
            a, b = self._corporate.encrypt(hi, x[sl] - hi * _P6)
            cd = _split_check(a, b, CORPORATE_WEIGHTS, 6, self._mod9)
            a *= _P6
            a += b
            a += cd * np.uint64(10**12)
            out[sl] = a
        return out


def digit_lines(values: npt.ArrayLike, width: int) -> bytes:
    """Values as zero-padded decimal lines of ``width`` digits, newline-terminated, in bulk."""
    x = np.array(values, dtype=np.uint64)
    if x.size and int(x.max()) >= 10**width:
        raise ValueError("value wider than the requested width")
    out = np.empty((len(x), width + 1), dtype=np.uint8)
    out[:, width] = ord("\n")
    for pos in range(width - 1, -1, -1):
        q = x // _TEN
        out[:, pos] = (x - q * _TEN).astype(np.uint8) + ord("0")
        x = q
    return out.tobytes()


def to_strings(values: npt.ArrayLike, width: int) -> list[str]:
    """Values as zero-padded decimal strings of ``width`` digits."""
    return digit_lines(values, width).decode("ascii").splitlines()
