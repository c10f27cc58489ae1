"""Municipalities and their local government codes (全国地方公共団体コード, JIS X 0402).

A code is 5 digits (2 for the prefecture, 3 for the body) and a check digit: weights
6, 5, 4, 3, 2 on the 5 digits, ``r = Σ mod 11``, check = last digit of ``11 − r``.

The 3 digits of the body also say what kind of body it is (``municipality_kind``), the
classification the government's card-issuance tables use (団体区分): 100–199 are the
designated cities (政令指定都市) with their wards, and in Tokyo (13) the special wards
(特別区, 13101–13123); 200–299 are the other cities (市); 300 and above the towns and villages
(町村), numbered by county (郡). A city that becomes designated is given a new 1xx code
(静岡市 22201 → 22100 in 2005), so the code follows the kind.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
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


class MunicipalityKind(StrEnum):
    """The kind of a municipality (団体区分), as the card-issuance tables group them."""

    SPECIAL_WARD = "special_ward"  # 特別区 (Tokyo's 23 wards)
    DESIGNATED_CITY = "designated_city"  # 政令指定都市
    CITY = "city"  # 市 (other than the designated cities)
    TOWN_VILLAGE = "town_village"  # 町村


def municipality_kind(lg_code: str) -> MunicipalityKind:
    """The kind of the body a local government code names (the code's structure)."""
    body = int(validate_lg_code(lg_code)[2:5])
    if body < 100:
        raise InvalidLgCode("a prefecture's code names no municipality")
    if body < 200:
        tokyo = lg_code.startswith("13")
        return MunicipalityKind.SPECIAL_WARD if tokyo else MunicipalityKind.DESIGNATED_CITY
    if body < 300:
        return MunicipalityKind.CITY
    return MunicipalityKind.TOWN_VILLAGE


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
    def kind(self) -> MunicipalityKind:
        """特別区, 政令指定都市, 市 or 町村 (``municipality_kind``)."""
        return municipality_kind(self.lg_code)

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
