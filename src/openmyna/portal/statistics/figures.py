"""The installation's own figures, counted from its databases and kept for a short time.

``PublicStatistics.figures`` counts, in one pass of grouped queries:

- cards per municipality and status and issued per month (the card register,
  ``CardLifecycle.counts``), the municipalities' current residents (the identity index) for
  the rate (交付率 = valid cards ÷ residents);
- the holders of valid cards by age band and sex: their resident-record codes are paged
  from the register and counted by date of birth and sex in the identity index
  (``IdentityIndex.birth_sex_counts``); only counts come back, and no code is kept;
- the hub's exchange records per month, affair, item and outcome for the last twelve months
  in Japan time (``ExchangeRecords.counts``).

The page is public, so an anonymous flood must not turn into a flood of queries: the figures
are kept in memory and counted again only ``PortalSettings.statistics_ttl`` after the last
count, by the injected clock. One lock makes concurrent requests on a stale cache wait for
one count instead of each starting their own.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from openmyna.card.counts import CardCounts
from openmyna.card.models import CardStatus
from openmyna.clock import JST, Clock
from openmyna.config import PortalSettings
from openmyna.errors import OpenMynaError
from openmyna.law import age_on
from openmyna.network.records import Outcome, RecordCount
from openmyna.portal.statistics.reference import AgeBand
from openmyna.registry import MunicipalityKind, Sex, find_municipality, municipality_kind
from openmyna.registry.models import MunicipalityInfo

#: The age bands of the government's table: 0–4, 5–9, …, 95–99, 100 and over.
AGE_BANDS: tuple[AgeBand, ...] = (*((a, a + 4) for a in range(0, 100, 5)), (100, None))
#: How many months of exchanges are counted (the current month and the eleven before it).
MONTHS = 12
#: Resident-record codes looked up per query when counting holders by age and sex.
HOLDER_CHUNK = 500

Month = tuple[int, int]


class CardSource(Protocol):
    """The card register's counts (``CardLifecycle``)."""

    def counts(self) -> CardCounts:
        """Cards per municipality and status, issued per month."""
        ...

    def valid_holders(self, chunk: int = ...) -> Iterator[list[str]]:
        """The codes of valid cards' holders, in chunks."""
        ...


class PopulationSource(Protocol):
    """The identity index's counts (``IdentityIndex``)."""

    def municipalities(self) -> list[MunicipalityInfo]:
        """Every municipality with a registry."""
        ...

    def current_by_municipality(self) -> dict[str, int]:
        """Current residents per municipality."""
        ...

    def birth_sex_counts(
        self, resident_codes: Sequence[str] | None = None
    ) -> dict[tuple[dt.date, Sex], int]:
        """Entries by date of birth and sex."""
        ...


class RecordSource(Protocol):
    """The hub's exchange records' counts (``ExchangeRecords``)."""

    def counts(self, bounds: Sequence[dt.datetime]) -> list[RecordCount]:
        """Records per period, affair, item and outcome."""
        ...


@dataclass(frozen=True)
class Place:
    """One municipality of the installation: its residents and valid cards."""

    lg_code: str
    prefecture: str
    name: str
    kind: MunicipalityKind
    population: int
    cards: int


@dataclass(frozen=True)
class AgeSex:
    """Residents and holders of valid cards in one age band, by sex (男, 女)."""

    band: AgeBand
    population: Mapping[Sex, int]
    cards: Mapping[Sex, int]


@dataclass(frozen=True)
class Exchanges:
    """Exchange records of one month, affair and item: queries (照会) and provisions (提供)."""

    month: Month
    affair: str
    item: str
    queries: int
    provided: int


@dataclass(frozen=True)
class Figures:
    """Everything the statistics page shows of the installation, as counted at one moment."""

    counted_at: dt.datetime
    #: The day ages are counted on (Japan time).
    on: dt.date
    places: tuple[Place, ...]
    #: Valid cards whatever the municipality (the sum of ``places`` and of no other place).
    valid_cards: int
    ages: tuple[AgeSex, ...]
    statuses: Mapping[CardStatus, int]
    #: Cards issued in each of ``months``, and before the first of them.
    issued_by_month: Mapping[Month, int]
    issued_before: int
    #: The months counted, oldest first (the last is the current month).
    months: tuple[Month, ...]
    exchanges: tuple[Exchanges, ...]


def _month(index: int) -> Month:
    return index // 12, index % 12 + 1


def last_months(today: dt.date, n: int = MONTHS) -> tuple[Month, ...]:
    """The ``n`` months (year, month) ending with ``today``'s, oldest first."""
    last = today.year * 12 + today.month - 1
    return tuple(_month(i) for i in range(last - n + 1, last + 1))


def month_bounds(months: Sequence[Month]) -> list[dt.datetime]:
    """The first moments (Japan time) of ``months`` and of the month after the last."""
    year, month = months[-1]
    after = _month(year * 12 + month)
    return [dt.datetime(y, m, 1, tzinfo=JST) for y, m in (*months, after)]


def band_of(age: int) -> AgeBand:
    """The age band an age falls in."""
    return AGE_BANDS[min(age // 5, len(AGE_BANDS) - 1)]


def _by_band(
    counts: Mapping[tuple[dt.date, Sex], int], on: dt.date
) -> dict[AgeBand, dict[Sex, int]]:
    out: dict[AgeBand, dict[Sex, int]] = {b: {Sex.MALE: 0, Sex.FEMALE: 0} for b in AGE_BANDS}
    for (born, sex), n in counts.items():
        # The registry records 男 or 女; any other code (ISO 5218 0, 9) has no column here.
        if sex in (Sex.MALE, Sex.FEMALE) and born <= on:
            out[band_of(age_on(born, on))][sex] += n
    return out


def _known_name(lg_code: str) -> tuple[str, str]:
    try:
        m = find_municipality(lg_code)
    except OpenMynaError:
        return "", lg_code
    return m.prefecture, m.name


class PublicStatistics:
    """The statistics page's figures, counted at most once per ``statistics_ttl``."""

    def __init__(
        self,
        cards: CardSource,
        index: PopulationSource,
        records: RecordSource,
        clock: Clock,
        settings: PortalSettings,
    ) -> None:
        self.cards = cards
        self.index = index
        self.records = records
        self.clock = clock
        self.ttl = settings.statistics_ttl
        #: Counts below this are shown as ``X`` (``suppression``).
        self.min_count = settings.statistics_min_count
        #: How many times the figures were counted (each one a few grouped queries).
        self.counted = 0
        self._held: Figures | None = None
        self._lock = threading.Lock()

    def figures(self) -> Figures:
        """The figures, from memory while younger than ``ttl``, else counted now."""
        with self._lock:
            held, now = self._held, self.clock.now()
            if held is not None and held.counted_at <= now < held.counted_at + self.ttl:
                return held
            self._held = self._count(now)
            self.counted += 1
            return self._held

    def _count(self, now: dt.datetime) -> Figures:
        today = now.astimezone(JST).date()
        counts = self.cards.counts()
        population = self.index.current_by_municipality()
        names = {m.lg_code: (m.prefecture, m.name) for m in self.index.municipalities()}
        for code, _status in counts.by_municipality:  # a card of a place with no registry here
            names.setdefault(code, _known_name(code))
        places = [
            Place(
                code,
                prefecture,
                name,
                municipality_kind(code),
                population.get(code, 0),
                counts.valid_in(code),
            )
            for code, (prefecture, name) in names.items()
        ]
        holders: dict[tuple[dt.date, Sex], int] = {}
        for chunk in self.cards.valid_holders(HOLDER_CHUNK):
            for key, n in self.index.birth_sex_counts(chunk).items():
                holders[key] = holders.get(key, 0) + n
        people = _by_band(self.index.birth_sex_counts(), today)
        holding = _by_band(holders, today)
        ages = tuple(AgeSex(b, people[b], holding[b]) for b in AGE_BANDS)
        months = last_months(today)
        issued = {m: counts.issued_by_month.get(m, 0) for m in months}
        before = sum(n for m, n in counts.issued_by_month.items() if m < months[0])
        return Figures(
            counted_at=now,
            on=today,
            places=tuple(sorted(places, key=lambda p: p.lg_code)),
            valid_cards=sum(p.cards for p in places),
            ages=ages,
            statuses=counts.by_status,
            issued_by_month=issued,
            issued_before=before,
            months=months,
            exchanges=self._exchanges(months),
        )

    def _exchanges(self, months: tuple[Month, ...]) -> tuple[Exchanges, ...]:
        grouped: dict[tuple[int, str, str], list[int]] = {}
        for c in self.records.counts(month_bounds(months)):
            tally = grouped.setdefault((c.period, c.affair, c.item), [0, 0])
            tally[0] += c.count
            if c.outcome is Outcome.PROVIDED:
                tally[1] += c.count
        return tuple(
            Exchanges(months[p], affair, item, q, provided)
            for (p, affair, item), (q, provided) in sorted(grouped.items())
        )
