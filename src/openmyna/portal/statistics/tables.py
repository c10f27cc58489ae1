"""The statistics page's tables: the reference figures beside the installation's, one model
for the page, its charts and its CSV files.

Every table is a ``StatTable`` of typed cells (a text to translate, a count, a rate, a month,
``X`` for a suppressed count, ``None`` for "not applicable"); ``cell_text`` and ``cell_csv``
write a cell for a page or for a CSV file, so that a table and its download never differ.
Counts of people (cards, holders) go through ``suppression`` first.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Literal

from openmyna.card.models import CardStatus
from openmyna.portal.i18n import format_date, format_month, translations
from openmyna.portal.nav import N_
from openmyna.portal.statistics import labels
from openmyna.portal.statistics.figures import Exchanges, Figures, Month, Place
from openmyna.portal.statistics.reference import (
    AgeBand,
    AgeRow,
    BySex,
    NamedIssued,
    Ranked,
    Reference,
    rate,
)
from openmyna.portal.statistics.suppression import CellId, Line, line, suppressed
from openmyna.registry import Sex


class Suppressed(Enum):
    """A count not published (秘匿), shown as ``X``."""

    X = "X"


X = Suppressed.X


@dataclass(frozen=True)
class Text:
    """Words of the page: a catalogue message (Japanese, with ``%(name)s`` parameters), or a
    name from the data with its English (``en``), or one shown as it is (``fixed``)."""

    message: str
    params: Mapping[str, Param] = field(default_factory=dict)
    en: str | None = None
    fixed: bool = False


@dataclass(frozen=True)
class MonthCell:
    """A month (年月)."""

    year: int
    month: int


Cell = Text | MonthCell | int | Decimal | Suppressed | None
#: What a message's parameter may be.
Param = str | int | dt.date | Text | MonthCell
Kind = Literal["text", "count", "rate"]


@dataclass(frozen=True)
class Column:
    """A column: its heading, what it holds, and the heading of its group (if any)."""

    label: Text
    kind: Kind = "count"
    group: Text | None = None


@dataclass(frozen=True)
class Row:
    """A row of cells; ``total`` marks a row of totals (bold, not charted)."""

    cells: tuple[Cell, ...]
    total: bool = False


@dataclass(frozen=True)
class Chart:
    """A bar chart of a table: the column naming each group, the columns of its bars."""

    label: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class StatTable:
    """One table of the page (and its CSV file ``/statistics/<slug>.csv``)."""

    slug: str
    title: Text
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    chart: Chart | None = None
    note: Text | None = None


def t(message: str, **params: Param) -> Text:
    """A catalogue message with its parameters."""
    return Text(message, params)


def name(ja: str, en: str | None) -> Text:
    """A name from the data, with its English if the data has one."""
    return Text(ja, en=en, fixed=en is None)


# --- writing cells -------------------------------------------------------------------------


def say(text: Text, language: str) -> str:
    """``text`` in ``language``."""
    if language != "ja" and text.en is not None:
        return text.en
    if text.fixed or (language == "ja" and text.en is not None):
        return text.message
    message = translations(language).gettext(text.message)
    if not text.params:
        return message
    return message % {k: _param(v, language) for k, v in text.params.items()}


def _param(value: Param, language: str) -> str:
    if isinstance(value, Text):
        return say(value, language)
    if isinstance(value, MonthCell):
        return format_month(value.year, value.month, language)
    if isinstance(value, dt.date):
        return format_date(value, language)
    if isinstance(value, int):
        return f"{value:,}"
    return value


def cell_text(cell: Cell, language: str) -> str:
    """A cell as the page shows it: ``1,234``, ``12.2%``, ``X``, ``—``."""
    if cell is None:
        return "—"
    if isinstance(cell, Suppressed):
        return "X"
    if isinstance(cell, Text):
        return say(cell, language)
    if isinstance(cell, MonthCell):
        return format_month(cell.year, cell.month, language)
    if isinstance(cell, Decimal):
        return f"{cell}%"
    return f"{cell:,}"


def cell_csv(cell: Cell, language: str) -> str:
    """A cell as a CSV file holds it: plain numbers, ``2026-04`` for a month, empty for —."""
    if cell is None:
        return ""
    if isinstance(cell, MonthCell):
        return f"{cell.year:04d}-{cell.month:02d}"
    if isinstance(cell, Decimal | int) and not isinstance(cell, bool):
        return str(cell)
    return cell_text(cell, language)


def heading(column: Column, language: str) -> str:
    """A column's heading with its group's (for CSV: one line of headings)."""
    label = say(column.label, language)
    return f"{say(column.group, language)} {label}" if column.group else label


def to_csv(table: StatTable, language: str) -> str:
    """The table as CSV (RFC 4180 line ends), with a byte order mark for spreadsheets."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(heading(c, language) for c in table.columns)
    for row in table.rows:
        writer.writerow(cell_csv(c, language) for c in row.cells)
    return out.getvalue()


def chart_value(cell: Cell) -> float | None:
    """The length a cell's bar stands for (None: no bar)."""
    if isinstance(cell, Decimal):
        return float(cell)
    if isinstance(cell, int) and not isinstance(cell, bool):
        return float(cell)
    return None


# --- the card tables -----------------------------------------------------------------------

KIND_ORDER = tuple(labels.KINDS)
SEXES = (Sex.MALE, Sex.FEMALE)


def band_label(band: AgeBand) -> Text:
    """``0～4歳`` / ``100歳以上``."""
    low, high = band
    if high is None:
        return t(N_("%(low)s歳以上"), low=str(low))
    return t(N_("%(low)s～%(high)s歳"), low=str(low), high=str(high))


@dataclass(frozen=True)
class CardCells:
    """The installation's counts of people with their suppression decided."""

    values: Mapping[CellId, int]
    hidden: frozenset[CellId]
    #: The cell of all holders counted by age: ``"valid"`` when they are the valid cards.
    age_total: CellId

    def count(self, cell: CellId) -> int | Suppressed:
        """The count, or ``X``."""
        return X if cell in self.hidden else self.values[cell]

    def rate(self, cell: CellId, population: int) -> Decimal | Suppressed | None:
        """The rate of a count, ``X`` with the count."""
        return X if cell in self.hidden else rate(self.values[cell], population)


def card_cells(f: Figures, threshold: int) -> CardCells:
    """Every count of people the card tables show, and which of them are suppressed."""
    values: dict[CellId, int] = {}
    lines: list[Line] = []
    # The number of residents each count of holders is taken among (its rate's population).
    among: dict[CellId, int] = {}
    for p in f.places:
        values[("place", p.lg_code)] = p.cards
        among[("place", p.lg_code)] = p.population
    for k in KIND_ORDER:
        members = [("place", p.lg_code) for p in f.places if p.kind is k]
        values[("kind", k)] = sum(values[m] for m in members)
        among[("kind", k)] = sum(among[m] for m in members)
        lines.append(line(members, ("kind", k)))
    values["valid"] = f.valid_cards
    lines.append(line([("kind", k) for k in KIND_ORDER], "valid"))
    for a in f.ages:
        for s in SEXES:
            values[("age", a.band, s)] = a.cards[s]
            among[("age", a.band, s)] = a.population[s]
        values[("age", a.band, "total")] = sum(a.cards[s] for s in SEXES)
        among[("age", a.band, "total")] = sum(a.population[s] for s in SEXES)
        lines.append(line([("age", a.band, s) for s in SEXES], ("age", a.band, "total")))
    everyone = sum(values[("age", a.band, "total")] for a in f.ages)
    # Holders counted by age are the valid cards' holders: one cell when the two agree.
    age_total: CellId = "valid" if everyone == f.valid_cards else ("age", "all", "total")
    values[age_total] = everyone
    for s in SEXES:
        values[("age", "all", s)] = sum(a.cards[s] for a in f.ages)
    lines.append(line([("age", "all", s) for s in SEXES], age_total))
    for s in SEXES:
        lines.append(line([("age", a.band, s) for a in f.ages], ("age", "all", s)))
    lines.append(line([("age", a.band, "total") for a in f.ages], age_total))
    for st in CardStatus:
        values[("status", st)] = f.statuses.get(st, 0)
    values["all"] = sum(f.statuses.values())
    lines.append(line([("status", st) for st in CardStatus], "all"))
    lines.append(line([("status", st) for st in CardStatus if st.valid], "valid"))
    values[("issued", "before")] = f.issued_before
    for m in f.months:
        values[("issued", m)] = f.issued_by_month[m]
    lines.append(line([("issued", "before"), *(("issued", m) for m in f.months)], "all"))
    small = [cell for cell, n in among.items() if 0 < n < threshold]
    hidden = suppressed(values, lines, threshold=threshold, sensitive=small)
    return CardCells(values, hidden, age_total)


def _ref_group(ref: Reference) -> Text:
    return t(N_("%(date)s現在（総務省）"), date=ref.cards.cards_on)


def _own_group(f: Figures) -> Text:
    return t(N_("このインストール（%(date)s現在）"), date=f.on)


def kinds_table(ref: Reference, f: Figures, cells: CardCells) -> StatTable:
    """Cards by municipality kind (団体区分別): 2018 beside the installation."""
    rg, og = _ref_group(ref), _own_group(f)
    columns = (
        Column(t(N_("区分")), "text"),
        Column(t(N_("人口")), group=rg),
        Column(t(N_("交付枚数")), group=rg),
        Column(t(N_("交付率")), "rate", group=rg),
        Column(t(N_("人口")), group=og),
        Column(t(N_("交付枚数")), group=og),
        Column(t(N_("交付率")), "rate", group=og),
    )
    rows = []
    for k in KIND_ORDER:
        r = ref.cards.kinds[k]
        people = sum(p.population for p in f.places if p.kind is k)
        rows.append(
            Row(
                (
                    t(labels.KINDS[k]),
                    r.population,
                    r.cards,
                    r.rate,
                    people,
                    cells.count(("kind", k)),
                    cells.rate(("kind", k), people),
                )
            )
        )
    total = ref.cards.total
    people = sum(p.population for p in f.places)
    rows.append(
        Row(
            (
                t(N_("計")),
                total.population,
                total.cards,
                total.rate,
                people,
                cells.count("valid"),
                cells.rate("valid", people),
            ),
            total=True,
        )
    )
    return StatTable(
        "kinds",
        t(N_("団体区分別の交付状況")),
        columns,
        tuple(rows),
        chart=Chart(0, (3, 6)),
        note=t(N_("交付率は人口に対する交付枚数の割合です。")),
    )


def _ranking(slug: str, title: Text, ranked: Sequence[NamedIssued]) -> StatTable:
    columns = (
        Column(t(N_("順位"))),
        Column(t(N_("団体名")), "text"),
        Column(t(N_("人口"))),
        Column(t(N_("交付枚数"))),
        Column(t(N_("交付率")), "rate"),
    )
    rows = tuple(
        Row((i, name(r.name_ja, r.name_en), r.population, r.cards, r.rate))
        for i, r in enumerate(ranked, start=1)
    )
    return StatTable(slug, title, columns, rows, chart=Chart(1, (4,)))


def top_tables(ref: Reference) -> tuple[StatTable, StatTable]:
    """The ten municipalities with the highest rate, in each group the source ranks."""
    on = ref.cards.cards_on
    return (
        _ranking(
            "top-cities-2018",
            t(N_("交付率の上位10団体【特別区・市】（%(date)s現在）"), date=on),
            ref.cards.top_cities,
        ),
        _ranking(
            "top-towns-2018",
            t(N_("交付率の上位10団体【町村】（%(date)s現在）"), date=on),
            ref.cards.top_towns,
        ),
    )


def places_table(ref: Reference, f: Figures, cells: CardCells) -> StatTable:
    """The installation's municipalities, by rate (those with a suppressed count unranked)."""

    def key(p: Place) -> tuple[bool, Decimal, str]:
        r = cells.rate(("place", p.lg_code), p.population)
        hidden = not isinstance(r, Decimal)
        return hidden, -(r if isinstance(r, Decimal) else Decimal(0)), p.lg_code

    ordered = sorted(f.places, key=key)
    rows = []
    for rank, p in enumerate(ordered, start=1):
        count = cells.count(("place", p.lg_code))
        shown_rate = cells.rate(("place", p.lg_code), p.population)
        rows.append(
            Row(
                (
                    rank if isinstance(shown_rate, Decimal) else None,
                    name(p.prefecture + p.name, ref.names_en.get(p.lg_code)),
                    t(labels.KINDS[p.kind]),
                    p.population,
                    count,
                    shown_rate,
                )
            )
        )
    columns = (
        Column(t(N_("順位"))),
        Column(t(N_("団体名")), "text"),
        Column(t(N_("区分")), "text"),
        Column(t(N_("人口"))),
        Column(t(N_("交付枚数"))),
        Column(t(N_("交付率")), "rate"),
    )
    return StatTable(
        "municipalities",
        t(N_("このインストールの市区町村別の交付状況（%(date)s現在）"), date=f.on),
        columns,
        tuple(rows),
        chart=Chart(1, (5,)),
        note=t(
            N_(
                "人口は住民基本台帳の現在の住民数、交付枚数は有効なカード（一時停止を含む）の枚数です。"
            )
        ),
    )


def _age_columns() -> tuple[Column, ...]:
    people, cards, rates = t(N_("人口")), t(N_("交付枚数")), t(N_("交付率"))
    male, female, total = t(N_("男")), t(N_("女")), t(N_("計"))
    return (
        Column(t(N_("年齢")), "text"),
        *(Column(s, group=people) for s in (male, female, total)),
        *(Column(s, group=cards) for s in (male, female, total)),
        *(Column(s, "rate", group=rates) for s in (male, female, total)),
    )


def _ref_age_row(a: AgeRow, label: Text, total: bool = False) -> Row:
    p, c = a.population, a.cards
    return Row(
        (
            label,
            p.male,
            p.female,
            p.total,
            c.male,
            c.female,
            c.total,
            rate(c.male, p.male),
            rate(c.female, p.female),
            rate(c.total, p.total),
        ),
        total=total,
    )


def ref_age_table(ref: Reference) -> StatTable:
    """Cards by age and sex in 2018 (男女・年齢別)."""
    ages = ref.cards.ages
    rows = [_ref_age_row(a, band_label(a.band)) for a in ages]

    def whole(part: Callable[[AgeRow], BySex]) -> BySex:
        return BySex(*(sum(getattr(part(a), s) for a in ages) for s in ("male", "female", "total")))

    everyone = AgeRow((0, None), whole(lambda a: a.population), whole(lambda a: a.cards))
    rows.append(_ref_age_row(everyone, t(N_("全体")), total=True))
    return StatTable(
        "age-sex-2018",
        t(N_("男女・年齢別の交付状況（%(date)s現在）"), date=ref.cards.cards_on),
        _age_columns(),
        tuple(rows),
        chart=Chart(0, (7, 8)),
    )


def own_age_table(f: Figures, cells: CardCells) -> StatTable:
    """The installation's holders of valid cards by age and sex."""
    rows = []
    for a in f.ages:
        people = [a.population[s] for s in SEXES]
        people.append(sum(people))
        ids: list[CellId] = [("age", a.band, s) for s in (*SEXES, "total")]
        rows.append(
            Row(
                (
                    band_label(a.band),
                    *people,
                    *(cells.count(i) for i in ids),
                    *(cells.rate(i, n) for i, n in zip(ids, people, strict=True)),
                )
            )
        )
    people = [sum(a.population[s] for a in f.ages) for s in SEXES]
    people.append(sum(people))
    ids = [("age", "all", Sex.MALE), ("age", "all", Sex.FEMALE), cells.age_total]
    rows.append(
        Row(
            (
                t(N_("全体")),
                *people,
                *(cells.count(i) for i in ids),
                *(cells.rate(i, n) for i, n in zip(ids, people, strict=True)),
            ),
            total=True,
        )
    )
    return StatTable(
        "age-sex",
        t(N_("このインストールの男女・年齢別の交付状況（%(date)s現在）"), date=f.on),
        _age_columns(),
        tuple(rows),
        # The total's rate: in a small installation most cells of 男 and 女 are suppressed.
        chart=Chart(0, (9,)),
        note=t(N_("年齢は%(date)s現在の満年齢です。"), date=f.on),
    )


def status_table(f: Figures, cells: CardCells) -> StatTable:
    """Every card the register holds, by status."""
    rows = [Row((t(labels.STATUSES[s]), cells.count(("status", s)))) for s in CardStatus]
    rows.append(Row((t(N_("計")), cells.count("all")), total=True))
    return StatTable(
        "card-status",
        t(N_("カードの状態別の枚数")),
        (Column(t(N_("状態")), "text"), Column(t(N_("枚数")))),
        tuple(rows),
        chart=Chart(0, (1,)),
        note=t(
            N_("これまでに交付したすべてのカードです。有効と一時停止のカードを交付枚数に数えます。")
        ),
    )


def issued_table(f: Figures, cells: CardCells) -> StatTable:
    """Cards issued per month (the last twelve, and before)."""
    first = f.months[0]
    before = t(N_("%(month)sより前"), month=MonthCell(*first))
    rows = [Row((before, cells.count(("issued", "before"))))]
    rows += [Row((MonthCell(*m), cells.count(("issued", m)))) for m in f.months]
    rows.append(Row((t(N_("計")), cells.count("all")), total=True))
    return StatTable(
        "cards-issued-by-month",
        t(N_("月別の交付枚数")),
        (Column(t(N_("交付月")), "text"), Column(t(N_("交付枚数")))),
        tuple(rows),
        chart=Chart(0, (1,)),
    )


# --- the exchange tables -------------------------------------------------------------------


def item_name(item: str) -> Text:
    """An information item's name (its id if the network no longer knows it)."""
    label = labels.ITEMS.get(item)
    return t(label) if label else Text(item, fixed=True)


def affair_name(affair: str) -> Text:
    """An affair's name (its id if the network no longer knows it)."""
    label = labels.AFFAIRS.get(affair)
    return t(label) if label else Text(affair, fixed=True)


def _period(period: Month | None) -> Text:
    return t(N_("直近12か月")) if period is None else t("%(month)s", month=MonthCell(*period))


_QUERIES = N_("照会件数")
_PROVIDED = N_("提供件数")


def _tallies(rows: Iterable[Exchanges], key: Callable[[Exchanges], str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for e in rows:
        tally = out.setdefault(key(e), [0, 0])
        tally[0] += e.queries
        tally[1] += e.provided
    return out


def _exchange_table(
    slug: str,
    title: Text,
    first: Text,
    tallies: Mapping[str, list[int]],
    naming: Callable[[str], Text],
    known: Sequence[str],
) -> StatTable:
    # Most queried first; ties in the network's own order, ids it no longer knows last.
    place = {k: i for i, k in enumerate(known)}
    ordered = sorted(
        tallies.items(), key=lambda kv: (-kv[1][0], place.get(kv[0], len(place)), kv[0])
    )
    rows = [Row((naming(k), q, p)) for k, (q, p) in ordered]
    rows.append(
        Row(
            (t(N_("計")), sum(q for q, _ in tallies.values()), sum(p for _, p in tallies.values())),
            True,
        )
    )
    columns = (Column(first, "text"), Column(t(_QUERIES)), Column(t(_PROVIDED)))
    return StatTable(slug, title, columns, tuple(rows), chart=Chart(0, (1, 2)))


def exchange_tables(f: Figures, period: Month | None) -> tuple[StatTable, ...]:
    """Exchanges per month, and per item and per procedure in ``period`` (all months: None)."""
    by_month = _tallies(f.exchanges, lambda e: f"{e.month[0]:04d}-{e.month[1]:02d}")
    month_rows = []
    for y, m in f.months:
        q, p = by_month.get(f"{y:04d}-{m:02d}", [0, 0])
        month_rows.append(Row((MonthCell(y, m), q, p)))
    month_rows.append(
        Row(
            (
                t(N_("計")),
                sum(e.queries for e in f.exchanges),
                sum(e.provided for e in f.exchanges),
            ),
            True,
        )
    )
    monthly = StatTable(
        "exchanges-by-month",
        t(N_("月別の情報照会・提供件数")),
        (Column(t(N_("月")), "text"), Column(t(_QUERIES)), Column(t(_PROVIDED))),
        tuple(month_rows),
        chart=Chart(0, (1, 2)),
        note=t(
            N_(
                "照会件数は情報提供ネットワークシステムで記録されたすべての照会（拒否を含む）、"
                "提供件数はそのうち情報が提供されたものです。"
            )
        ),
    )
    chosen = [e for e in f.exchanges if period is None or e.month == period]
    span = _period(period)
    return (
        monthly,
        _exchange_table(
            "exchanges-by-item",
            t(N_("特定個人情報別の件数（%(period)s）"), period=span),
            t(N_("特定個人情報")),
            _tallies(chosen, lambda e: e.item),
            item_name,
            tuple(labels.ITEMS),
        ),
        _exchange_table(
            "exchanges-by-affair",
            t(N_("手続（事務）別の件数（%(period)s）"), period=span),
            t(N_("手続（事務）")),
            _tallies(chosen, lambda e: e.affair),
            affair_name,
            tuple(labels.AFFAIRS),
        ),
    )


def _ref_ranking(
    slug: str, title: Text, first: Text, ranked: Sequence[Ranked], own: Mapping[str, list[int]]
) -> StatTable:
    rows = tuple(
        Row(
            (
                i,
                name(r.name_ja, r.name_en),
                r.count,
                None if r.key is None else own.get(r.key, [0, 0])[0],
            )
        )
        for i, r in enumerate(ranked, start=1)
    )
    columns = (
        Column(t(N_("順位"))),
        Column(first, "text"),
        Column(t(N_("件数（平成30年）"))),
        Column(t(N_("このインストールの照会件数（直近12か月）"))),
    )
    return StatTable(slug, title, columns, rows, chart=Chart(1, (2,)))


def ref_exchange_tables(ref: Reference, f: Figures) -> tuple[StatTable, StatTable]:
    """The five most frequent items and procedures of 2018, the installation's counts beside."""
    x = ref.exchanges
    return (
        _ref_ranking(
            "exchanges-2018-items",
            t(N_("主な特定個人情報の件数（平成30年）")),
            t(N_("特定個人情報")),
            x.items,
            _tallies(f.exchanges, lambda e: e.item),
        ),
        _ref_ranking(
            "exchanges-2018-affairs",
            t(N_("主な手続の件数（平成30年）")),
            t(N_("手続")),
            x.affairs,
            _tallies(f.exchanges, lambda e: e.affair),
        ),
    )


# --- the page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsView:
    """Every table of the statistics page, in its order."""

    figures: Figures
    reference: Reference
    period: Month | None
    cards: tuple[StatTable, ...]
    exchanges: tuple[StatTable, ...]
    exchanges_2018: tuple[StatTable, ...]
    #: Counts of people below this are suppressed; how many cells were (shown as X).
    min_count: int
    suppressed: int

    @property
    def tables(self) -> tuple[StatTable, ...]:
        """Every table."""
        return (*self.cards, *self.exchanges, *self.exchanges_2018)

    def table(self, slug: str) -> StatTable | None:
        """The table of that slug, if any."""
        return next((x for x in self.tables if x.slug == slug), None)


def build_view(
    ref: Reference, f: Figures, *, threshold: int, period: Month | None = None
) -> StatisticsView:
    """The page's tables from the reference and the installation's figures."""
    cells = card_cells(f, threshold)
    cities, towns = top_tables(ref)
    cards = (
        kinds_table(ref, f, cells),
        cities,
        towns,
        places_table(ref, f, cells),
        ref_age_table(ref),
        own_age_table(f, cells),
        status_table(f, cells),
        issued_table(f, cells),
    )
    return StatisticsView(
        f,
        ref,
        period,
        cards,
        exchange_tables(f, period),
        ref_exchange_tables(ref, f),
        threshold,
        len(cells.hidden),
    )
