"""Municipalities and their local government codes (全国地方公共団体コード, JIS X 0402).

A code is 5 digits (2 for the prefecture, 3 for the body) and a check digit: weights
6, 5, 4, 3, 2 on the 5 digits, ``r = Σ mod 11``, check = last digit of ``11 − r``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from openmyna.registry.errors import InvalidLgCode, MunicipalityNotFound

_WEIGHTS = (6, 5, 4, 3, 2)


def lg_check_digit(five_digits: str) -> str:
    """The check digit of a 5-digit local government code."""
    if len(five_digits) != 5 or not five_digits.isascii() or not five_digits.isdigit():
        raise InvalidLgCode("a local government code body is 5 ASCII digits")
    r = sum(int(d) * w for d, w in zip(five_digits, _WEIGHTS, strict=True)) % 11
    return str((11 - r) % 10)


def validate_lg_code(code: str) -> str:
    """Return ``code`` if it is a valid 6-digit local government code, else raise."""
    if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidLgCode("a local government code is 6 ASCII digits")
    if lg_check_digit(code[:5]) != code[5]:
        raise InvalidLgCode("the local government code's check digit does not match")
    return code


@dataclass(frozen=True)
class Municipality:
    """A municipality (市区町村) as listed in the data file."""

    lg_code: str
    prefecture: str
    name: str
    kana: str
    #: Population on 2018-01-01 (住民基本台帳人口), used by the demo for proportions.
    population: int
    #: Where the population figure comes from: ``documents`` or ``approximate``.
    population_source: str

    @property
    def full_name(self) -> str:
        """Prefecture and municipality, e.g. 群馬県前橋市."""
        return f"{self.prefecture}{self.name}"


@cache
def known_municipalities() -> tuple[Municipality, ...]:
    """Every municipality in ``registry/data/municipalities.toml``, in file order."""
    text = (
        resources.files("openmyna.registry")
        .joinpath("data/municipalities.toml")
        .read_text(encoding="utf-8")
    )
    raw = tomllib.loads(text)
    out: list[Municipality] = []
    for row in raw["municipality"]:
        out.append(
            Municipality(
                lg_code=validate_lg_code(str(row["lg_code"])),
                prefecture=str(row["prefecture"]),
                name=str(row["name"]),
                kana=str(row["kana"]),
                population=int(row["population"]),
                population_source=str(row["population_source"]),
            )
        )
    return tuple(out)


def find_municipality(lg_code: str) -> Municipality:
    """The municipality with that code from the data file."""
    validate_lg_code(lg_code)
    for m in known_municipalities():
        if m.lg_code == lg_code:
            return m
    raise MunicipalityNotFound("no municipality with that code in the data file", lg_code=lg_code)
