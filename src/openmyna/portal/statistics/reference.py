"""The reference figures: the government's tables of December 2018 (``data/statistics_2018.toml``).

Card issuance by municipality kind, the ten municipalities with the highest rate in each of
the two groups the source ranks (特別区・市 and 町村), and by age and sex (総務省「マイナンバー
カードの市区町村別交付枚数等について（平成30年12月1日現在）」); the exchanges of 2018 with
their five most frequent items and procedures. The file holds the counts as printed; rates
are computed from them (``rate``) as the source computes its own.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from openmyna.registry import MunicipalityKind

#: Age bands of the tables: five years each, the last one open (100 and over).
AgeBand = tuple[int, int | None]


def rate(cards: int, population: int) -> Decimal | None:
    """Cards per population in per cent, rounded half up to 0.1 (None with no population)."""
    if population <= 0:
        return None
    exact = Decimal(cards) * 100 / Decimal(population)
    return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Source:
    """Where a table comes from."""

    title_ja: str
    title_en: str
    publisher_ja: str
    publisher_en: str
    document: str


@dataclass(frozen=True)
class Issued:
    """Population and cards of one group (a kind, a municipality, the whole country)."""

    population: int
    cards: int

    @property
    def rate(self) -> Decimal | None:
        """交付率: cards per population (%)."""
        return rate(self.cards, self.population)


@dataclass(frozen=True)
class NamedIssued(Issued):
    """A municipality of a ranking, with its name in both languages."""

    name_ja: str
    name_en: str


@dataclass(frozen=True)
class BySex:
    """Male, female and total of one age band."""

    male: int
    female: int
    total: int


@dataclass(frozen=True)
class AgeRow:
    """One age band of the age-and-sex table."""

    band: AgeBand
    population: BySex
    cards: BySex


@dataclass(frozen=True)
class CardReference:
    """The card-issuance tables of 1 December 2018."""

    source: Source
    population_on: dt.date
    cards_on: dt.date
    total: Issued
    kinds: dict[MunicipalityKind, Issued]
    top_cities: tuple[NamedIssued, ...]
    top_towns: tuple[NamedIssued, ...]
    ages: tuple[AgeRow, ...]


@dataclass(frozen=True)
class Ranked:
    """One row of a ranking of items or procedures: its names, count, openmyna's id if any."""

    name_ja: str
    name_en: str
    count: int
    key: str | None


@dataclass(frozen=True)
class ExchangeReference:
    """The exchanges of 2018: totals, the five most frequent items and procedures."""

    source: Source
    first_day: dt.date
    last_day: dt.date
    queries: int
    provisions: int
    items: tuple[Ranked, ...]
    affairs: tuple[Ranked, ...]


@dataclass(frozen=True)
class Reference:
    """Every reference table."""

    cards: CardReference
    exchanges: ExchangeReference
    #: English names of the municipalities openmyna knows, by local government code.
    names_en: dict[str, str]


def _source(raw: dict[str, Any]) -> Source:
    return Source(
        raw["title_ja"], raw["title_en"], raw["publisher_ja"], raw["publisher_en"], raw["document"]
    )


def _named(raw: dict[str, Any]) -> NamedIssued:
    return NamedIssued(int(raw["population"]), int(raw["cards"]), raw["name_ja"], raw["name_en"])


def _by_sex(raw: dict[str, Any]) -> BySex:
    return BySex(int(raw["male"]), int(raw["female"]), int(raw["total"]))


def _ranked(raw: dict[str, Any], key: str) -> Ranked:
    return Ranked(raw["name_ja"], raw["name_en"], int(raw["count"]), raw.get(key))


@cache
def reference() -> Reference:
    """The reference tables from the package's data file (read once)."""
    text = (
        resources.files("openmyna.portal")
        .joinpath("data/statistics_2018.toml")
        .read_text(encoding="utf-8")
    )
    raw = tomllib.loads(text)
    c, x = raw["cards"], raw["exchanges"]
    cards = CardReference(
        source=_source(c),
        population_on=c["population_on"],
        cards_on=c["cards_on"],
        total=Issued(int(c["total"]["population"]), int(c["total"]["cards"])),
        kinds={
            MunicipalityKind(k["kind"]): Issued(int(k["population"]), int(k["cards"]))
            for k in c["kind"]
        },
        top_cities=tuple(_named(r) for r in c["top_city"]),
        top_towns=tuple(_named(r) for r in c["top_town"]),
        ages=tuple(
            AgeRow((int(a["from"]), a.get("to")), _by_sex(a["population"]), _by_sex(a["cards"]))
            for a in c["age"]
        ),
    )
    exchanges = ExchangeReference(
        source=_source(x),
        first_day=x["from"],
        last_day=x["to"],
        queries=int(x["queries"]),
        provisions=int(x["provisions"]),
        items=tuple(_ranked(r, "item") for r in x["item"]),
        affairs=tuple(_ranked(r, "affair") for r in x["affair"]),
    )
    return Reference(cards, exchanges, {str(k): str(v) for k, v in raw["names_en"].items()})
