"""やりとり履歴 (P2): the person's exchange records, read from the hub under the portal's code.

The portal is agency ``myna-portal`` on the network and knows the person by its own
agency-specific code (obtained at the first login, ``portal.accounts``); the hub maps it to
the person's record key. The individual number is never used here. Filters (period,
agency, item) and paging run in the hub's database (``ExchangeRecords.page_for_person``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from openmyna.clock import JST
from openmyna.errors import InvalidInput
from openmyna.network.local import LocalNetwork, NetworkNames
from openmyna.network.records import ExchangeRecord, Outcome, PersonQuery
from openmyna.portal.accounts import PORTAL_AGENCY
from openmyna.portal.nav import N_

#: Records per page of the list.
PAGE_SIZE = 50
#: The highest page number accepted at all (beyond the last page, the last is shown).
MAX_PAGE = 100_000
#: The most rows an export holds: a PDF is printed, a CSV opened in a spreadsheet.
PDF_MAX_ROWS = 2_000
CSV_MAX_ROWS = 100_000
#: Dates a filter may name (the network's records start long after the first).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)

#: The agency filter lists agencies in this order of kinds (the portal itself first).
AGENCY_KIND_ORDER = (
    "portal",
    "municipality",
    "prefecture",
    "pension_service",
    "health_insurance",
    "mutual_aid",
    "hello_work",
    "jasso",
)

#: How an exchange ended, for people (gettext messages).
OUTCOMES: dict[str, str] = {
    Outcome.PROVIDED.value: N_("提供されました"),
    Outcome.NO_DATA.value: N_("該当する情報はありませんでした"),
    Outcome.NOT_ALLOWED.value: N_("提供は認められませんでした（法令で定められていない照会）"),
    Outcome.INVALID_DATA.value: N_("提供された情報が形式に合いませんでした"),
    Outcome.FAILED.value: N_("提供できませんでした"),
}


class InvalidRecordFilter(InvalidInput):
    """A filter of the records that cannot be read (a bad date, an unknown agency or item)."""

    code = "RECORDS_INVALID_FILTER"


class ExportTooLarge(InvalidInput):
    """More records than an export holds: narrow the filter."""

    code = "RECORDS_EXPORT_TOO_LARGE"
    http_status = 422


@dataclass(frozen=True)
class RecordFilter:
    """Which records a person looks at: a period (Japan dates), an agency, an item."""

    since: dt.date | None = None
    until: dt.date | None = None
    agency: str | None = None
    item: str | None = None

    @property
    def active(self) -> bool:
        """Whether anything is filtered."""
        return any(v is not None for v in (self.since, self.until, self.agency, self.item))

    def query(self, *, offset: int = 0, limit: int = PAGE_SIZE) -> PersonQuery:
        """The hub's query: whole days in Japan time, ``until`` included."""
        since = dt.datetime.combine(self.since, dt.time(), JST) if self.since else None
        until = (
            dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), JST)
            if self.until
            else None
        )
        return PersonQuery(since, until, self.agency, self.item, offset, limit)

    def params(self, **extra: object) -> str:
        """The filter as a query string (for links to pages and exports)."""
        values: dict[str, object] = {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "agency": self.agency,
            "item": self.item,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _date(name: str, value: str | None) -> dt.date | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRecordFilter("a date is written as YYYY-MM-DD", field=name) from None
    if not (EARLIEST <= day <= LATEST):
        raise InvalidRecordFilter("the date is outside 2000-2100", field=name)
    return day


def parse_filter(
    names: NetworkNames,
    *,
    since: str | None = None,
    until: str | None = None,
    agency: str | None = None,
    item: str | None = None,
) -> RecordFilter:
    """A filter from a page's query (``RECORDS_INVALID_FILTER`` for what cannot be read)."""
    start, end = _date("since", since), _date("until", until)
    if start and end and start > end:
        raise InvalidRecordFilter("the period ends before it starts", field="until")
    chosen_agency = agency.strip() if agency and agency.strip() else None
    if chosen_agency is not None and chosen_agency not in names.agencies:
        raise InvalidRecordFilter("no such agency on the network", field="agency")
    chosen_item = item.strip() if item and item.strip() else None
    if chosen_item is not None and chosen_item not in names.items:
        raise InvalidRecordFilter("no such information item", field="item")
    return RecordFilter(start, end, chosen_agency, chosen_item)


def parse_page(value: str | None) -> int:
    """A page number from the query: 1 when absent; ``RECORDS_INVALID_FILTER`` if it is no page."""
    if value is None or value == "":
        return 1
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        raise InvalidRecordFilter("the page is a whole number", field="page")
    number = int(value)
    if not (1 <= number <= MAX_PAGE):
        raise InvalidRecordFilter("no such page", field="page")
    return number


def parse_seq(value: str) -> int | None:
    """A record number from a path, or None if it cannot be one (then: not found)."""
    if not value.isascii() or not value.isdigit() or len(value) > 10 or value.startswith("0"):
        return None
    return int(value)


@dataclass(frozen=True)
class RecordRow:
    """One record as a person reads it: names, not ids; the outcome in words."""

    seq: int
    recorded_at: dt.datetime
    requester: str
    provider: str
    affair: str
    item: str
    outcome: str
    provided: bool
    hash: str


def rows_of(
    records: tuple[ExchangeRecord, ...] | list[ExchangeRecord],
    names: NetworkNames,
    gettext: Callable[[str], str],
) -> list[RecordRow]:
    """The records with the network's names and the outcome translated (once per outcome)."""
    words = {k: gettext(v) for k, v in OUTCOMES.items()}
    agencies, affairs, items = names.agencies, names.affairs, names.items
    return [
        RecordRow(
            r.seq,
            r.recorded_at,
            agencies.get(r.requester, r.requester),
            agencies.get(r.provider, r.provider),
            affairs.get(r.affair, r.affair),
            items.get(r.item, r.item),
            words.get(r.outcome.value, r.outcome.value),
            r.outcome is Outcome.PROVIDED,
            r.hash,
        )
        for r in records
    ]


@dataclass(frozen=True)
class HistoryPage:
    """One page of the person's records and where it sits."""

    records: tuple[ExchangeRecord, ...]
    total: int
    page: int
    pages: int
    filter: RecordFilter

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first record."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.records else 0

    @property
    def last(self) -> int:
        """The position of the page's last record."""
        return self.first + len(self.records) - 1 if self.records else 0


class ExchangeHistory:
    """The person's やりとり履歴 as the portal reads it from the network's hub."""

    def __init__(self, network: LocalNetwork, agency_id: str = PORTAL_AGENCY) -> None:
        self.network = network
        self.agency_id = agency_id

    @property
    def names(self) -> NetworkNames:
        """The Japanese names of agencies, affairs and items."""
        return self.network.names

    def page(self, code: str, chosen: RecordFilter, number: int) -> HistoryPage:
        """Page ``number`` of the records matching ``chosen``, newest first (the last if beyond)."""
        found = self.network.person_records(
            self.agency_id, code, chosen.query(offset=(number - 1) * PAGE_SIZE)
        )
        pages = max(1, -(-found.total // PAGE_SIZE))
        if number > pages:  # an old link, or a typed number: the last page there is
            number = pages
            found = self.network.person_records(
                self.agency_id, code, chosen.query(offset=(number - 1) * PAGE_SIZE)
            )
        return HistoryPage(found.records, found.total, number, pages, chosen)

    def record(self, code: str, seq: int | None) -> ExchangeRecord:
        """One record of the person (``RECORD_NOT_FOUND`` if none, or someone else's)."""
        return self.network.person_record(self.agency_id, code, seq if seq is not None else 0)

    def agencies(self) -> list[str]:
        """The agency filter's choices: the network's agencies, by kind, then by id.

        Every agency on the network, not only those in the person's records: finding those
        would read all of the person's records on every page (40 ms at 10,000 of them).
        """
        order = {kind: n for n, kind in enumerate(AGENCY_KIND_ORDER)}
        agencies = sorted(self.network.agencies(), key=lambda a: (order.get(str(a.kind), 99), a.id))
        return [a.id for a in agencies]

    def for_export(self, code: str, chosen: RecordFilter, cap: int) -> list[ExchangeRecord]:
        """Every record matching ``chosen``, newest first; ``RECORDS_EXPORT_TOO_LARGE`` past cap."""
        counted = self.network.person_records(self.agency_id, code, chosen.query(limit=0))
        if counted.total > cap:
            raise ExportTooLarge(
                "more records than one export holds: narrow the period",
                records=counted.total,
                limit=cap,
            )
        found = self.network.person_records(
            self.agency_id, code, replace(chosen.query(), limit=max(cap, 1))
        )
        return list(found.records)
