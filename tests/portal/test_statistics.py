"""Public statistics (統計, issue 10 §5): the reference tables, the installation's own counts,
small counts suppressed, CSV files, charts and the cache, on both storage backends."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from portal_helpers import AUTH_PIN, SIGN_PASSWORD

from openmyna.builder import Builder
from openmyna.card.models import CardStatus
from openmyna.clock import JST, FixedClock
from openmyna.config import PortalSettings, Settings
from openmyna.law import may_hold_sign_cert
from openmyna.network.allow_list import default_allow_list
from openmyna.network.layouts import LAYOUTS
from openmyna.network.records import Outcome
from openmyna.platform import Platform
from openmyna.portal.pages import LANGUAGE_COOKIE
from openmyna.portal.statistics import labels
from openmyna.portal.statistics.charts import bar_chart
from openmyna.portal.statistics.figures import last_months, month_bounds
from openmyna.portal.statistics.reference import rate, reference
from openmyna.portal.statistics.suppression import line, suppressed
from openmyna.portal.statistics.tables import X, build_view
from openmyna.registry import MunicipalityKind, NewPerson, Resident, Sex
from openmyna.web import create_app

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "001_5fe514f087376edb.txt"
IN_CI = os.environ.get("CI", "").lower() == "true"
MAEBASHI, KOBE, MINATO = "102016", "281000", "131032"
ADDRESSES = {
    MAEBASHI: "群馬県前橋市大手町二丁目12番1号",
    KOBE: "兵庫県神戸市中央区加納町六丁目5番1号",
    MINATO: "東京都港区芝公園一丁目5番25号",
}
# The clock of the tests: 2026-04-01 09:00 JST.
NOW = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)


# --- the reference tables ------------------------------------------------------------------


def _source_text() -> str:
    if not SEEDS.exists():
        reason = f"source documents not available at {SEEDS}"
        if IN_CI:
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)
    return SEEDS.read_text(encoding="utf-8")


def _printed(n: int) -> str:
    return f"{n:,}"


def test_the_reference_figures_are_the_source_documents() -> None:
    text = _source_text()
    ref = reference().cards
    names = {
        MunicipalityKind.SPECIAL_WARD: "特別区",
        MunicipalityKind.DESIGNATED_CITY: "政令指定都市",
        MunicipalityKind.CITY: "市（政令指定都市を除く）",
        MunicipalityKind.TOWN_VILLAGE: "町村",
    }
    rows = [(names[k], v) for k, v in ref.kinds.items()] + [("全国", ref.total)]
    rows += [(m.name_ja, m) for m in (*ref.top_cities, *ref.top_towns)]
    for label, r in rows:
        # The line as printed: name, population, cards and the rate the source computed.
        printed = f"{label} {_printed(r.population)} {_printed(r.cards)} {r.rate}"
        assert re.search(rf"^{re.escape(printed)}[%％]", text, re.MULTILINE), printed
    for a in ref.ages:
        low, high = a.band
        label = "0～4歳" if low == 0 else ("100歳以上" if high is None else f"{low}～{high}")
        p, c = a.population, a.cards
        counts = " ".join(_printed(n) for n in (p.male, p.female, p.total, c.male, c.female))
        match = re.search(
            rf"^{label} {counts} {_printed(c.total)} (\S+)% (\S+)% (\S+)%", text, re.M
        )
        assert match, label
        computed = [rate(c.male, p.male), rate(c.female, p.female), rate(c.total, p.total)]
        assert [str(x) for x in computed] == [match[1], match[2], match[3]]
    exchanges = reference().exchanges
    assert f"情報照会件数：{_printed(exchanges.queries)}件" in text
    assert f"情報提供件数：{_printed(exchanges.provisions)}件" in text
    for n, ranked in enumerate((*exchanges.items, *exchanges.affairs)):
        assert f" {ranked.name_ja} {_printed(ranked.count)}" in text, (n, ranked.name_ja)


def test_the_reference_tables_add_up() -> None:
    ref = reference().cards
    assert sum(k.population for k in ref.kinds.values()) == ref.total.population
    assert sum(k.cards for k in ref.kinds.values()) == ref.total.cards
    assert sum(a.cards.total for a in ref.ages) == ref.total.cards
    for a in ref.ages:
        assert a.population.male + a.population.female == a.population.total
        assert a.cards.male + a.cards.female == a.cards.total
    for ranked in (ref.top_cities, ref.top_towns):
        # In the source's order, by the rate as printed (昭和村's 29.75 % and 伊是名村's
        # 29.85 % both print as 29.8 %, in that order).
        rates = [r.rate for r in ranked if r.rate is not None]
        assert len(ranked) == 10
        assert rates == sorted(rates, reverse=True)


def test_the_item_and_affair_names_are_the_networks() -> None:
    items = {item: max(v.items())[1].name_ja for item, v in LAYOUTS.items()}
    assert items == labels.ITEMS
    affairs = {a: v.name_ja for a, v in default_allow_list().affairs.items()}
    assert affairs == labels.AFFAIRS
    mapped = {r.key for r in reference().exchanges.items if r.key}
    assert mapped <= set(items)
    assert {r.key for r in reference().exchanges.affairs if r.key} <= set(affairs)


# --- suppression ---------------------------------------------------------------------------


def test_a_small_count_and_its_complement_are_suppressed() -> None:
    counts = {"m": 1, "f": 5, "t": 6, "m2": 4, "f2": 4, "t2": 8}
    lines = [line(["m", "f"], "t"), line(["m2", "f2"], "t2")]
    assert suppressed(counts, lines, threshold=3) == {"m", "f"}
    assert suppressed(counts, lines, threshold=1) == frozenset()


def test_a_count_among_few_is_suppressed_even_when_zero() -> None:
    counts = {"a": 0, "b": 9, "t": 9}
    hidden = suppressed(counts, [line(["a", "b"], "t")], threshold=3, sensitive=["a"])
    assert hidden == {"a", "b"}


def test_suppression_follows_the_lines_through_totals() -> None:
    # Two rows and a column of totals: hiding row a's 1 hides a's other cell, then the
    # column that cell is in has one hidden cell and needs another.
    counts = {"a1": 1, "a2": 7, "a": 8, "b1": 9, "b2": 6, "b": 15, "c1": 10, "c2": 13, "c": 23}
    lines = [
        line(["a1", "a2"], "a"),
        line(["b1", "b2"], "b"),
        line(["c1", "c2"], "c"),
        line(["a1", "b1"], "c1"),
        line(["a2", "b2"], "c2"),
        line(["a", "b"], "c"),
    ]
    hidden = suppressed(counts, lines, threshold=3)
    assert {"a1", "a2"} <= hidden
    for ln in lines:
        assert sum(1 for e in (*ln.members, ln.total) if e in hidden) != 1


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 6), min_size=2, max_size=4), min_size=1, max_size=5),
    st.integers(1, 5),
)
def test_no_suppressed_count_can_be_worked_out_from_one_line(
    grid: list[list[int]], threshold: int
) -> None:
    width = min(len(r) for r in grid)
    rows = [r[:width] for r in grid]
    counts: dict[object, int] = {}
    lines = []
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            counts[(i, j)] = v
        counts[(i, "t")] = sum(r)
        lines.append(line([(i, j) for j in range(width)], (i, "t")))
    for j in range(width):
        counts[("t", j)] = sum(r[j] for r in rows)
        lines.append(line([(i, j) for i in range(len(rows))], ("t", j)))
    counts[("t", "t")] = sum(map(sum, rows))
    lines.append(line([(i, "t") for i in range(len(rows))], ("t", "t")))
    hidden = suppressed(counts, lines, threshold=threshold)
    assert {c for c, v in counts.items() if 0 < v < threshold} <= hidden
    for ln in lines:
        assert sum(1 for e in (*ln.members, ln.total) if e in hidden) != 1


# --- the installation's figures ------------------------------------------------------------


def _platform(settings: Settings, clock: FixedClock, min_count: int) -> Platform:
    portal = PortalSettings(statistics_min_count=min_count, statistics_ttl=dt.timedelta(minutes=5))
    return Platform(Builder(settings.model_copy(update={"portal": portal}), clock))


@pytest.fixture
def exact(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    """A platform that shows every count (``statistics_min_count`` 1)."""
    built = _platform(settings, clock, 1)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def guarded(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    """A platform with the default suppression (counts below 3 shown as X)."""
    built = _platform(settings, clock, 3)
    try:
        yield built
    finally:
        built.close()


def _resident(
    platform: Platform, lg_code: str, born: dt.date, sex: Sex, given: str = "花子"
) -> Resident:
    regs = platform.registries
    if not any(m.lg_code == lg_code for m in regs.list_municipalities()):
        regs.add_municipality(lg_code)
    person = NewPerson("山田", given, "ヤマダ", "ハナコ", born, sex)
    place = regs.municipality(lg_code)
    r = place.move_in_from_abroad(person, on=platform.clock.today(), address=ADDRESSES[lg_code])
    platform.sync_once()
    return r


def _card(platform: Platform, r: Resident, born: dt.date) -> str:
    platform.cards.apply(r.resident_code)
    adult = may_hold_sign_cert(born, platform.clock.today())
    issued = platform.cards.issue(
        r.resident_code,
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD if adult else None,
        identity_check="旅券",
    )
    return issued.record.card_id


def _town(platform: Platform, clock: FixedClock) -> list[Resident]:
    """前橋市: 5 residents, 4 with cards (one suspended); 神戸市: 2 residents, no card.

    Cards are issued in two months (2026-03 and 2026-04); the holders are a woman of 41, a
    man of 41, a woman of 70 and a boy of 8 on 2026-04-01.
    """
    clock.set(dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC))
    people = {
        "f41": (dt.date(1985, 2, 3), Sex.FEMALE),
        "m41": (dt.date(1984, 6, 1), Sex.MALE),
        "f70": (dt.date(1955, 12, 24), Sex.FEMALE),
        "m8": (dt.date(2017, 9, 1), Sex.MALE),
        "none": (dt.date(2000, 1, 1), Sex.MALE),
    }
    residents = {k: _resident(platform, MAEBASHI, born, sex) for k, (born, sex) in people.items()}
    cards = {k: _card(platform, residents[k], people[k][0]) for k in ("f41", "m41")}
    clock.set(NOW)
    cards |= {k: _card(platform, residents[k], people[k][0]) for k in ("f70", "m8")}
    platform.cards.report_lost(cards["m8"])
    kobe = [
        _resident(platform, KOBE, b, Sex.FEMALE) for b in (dt.date(1990, 1, 1), dt.date(2001, 5, 5))
    ]
    return [*residents.values(), *kobe]


def _exchanges(platform: Platform, clock: FixedClock) -> None:
    """Records in three months: 2025-05 (the first counted), 2026-03, 2026-04; one before."""
    records = platform.builder.exchange_records()

    def at(moment: dt.datetime, affair: str, item: str, outcome: Outcome | str, n: int = 1) -> None:
        clock.set(moment)
        for _ in range(n):
            records.append(
                requester="kobe", provider="maebashi", affair=affair, item=item, outcome=outcome
            )

    # 2025-04-30 23:59 JST: before the twelve months counted.
    at(dt.datetime(2025, 4, 30, 14, 59, tzinfo=dt.UTC), "child_allowance", "local_tax", "provided")
    # 2025-05-01 00:00 JST is 2025-04-30 15:00 UTC: the first month counted.
    at(dt.datetime(2025, 4, 30, 15, 0, tzinfo=dt.UTC), "child_allowance", "local_tax", "provided")
    at(dt.datetime(2026, 3, 5, tzinfo=dt.UTC), "child_allowance", "local_tax", Outcome.PROVIDED, 3)
    at(dt.datetime(2026, 3, 6, tzinfo=dt.UTC), "child_allowance", "resident_registry", "no_data")
    at(dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC), "public_assistance", "welfare", "provided")
    at(dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.UTC), "child_allowance", "pension", "not_allowed")
    clock.set(NOW)


def _csv(client: TestClient, slug: str, **params: str) -> list[list[str]]:
    response = client.get(f"/statistics/{slug}.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_installations_cards_by_kind_place_age_and_status(
    exact: Platform, clock: FixedClock
) -> None:
    _town(exact, clock)
    f = exact.portal.statistics.figures()
    places = {p.lg_code: p for p in f.places}
    assert (places[MAEBASHI].population, places[MAEBASHI].cards) == (5, 4)
    assert (places[KOBE].population, places[KOBE].cards) == (2, 0)
    assert places[KOBE].kind is MunicipalityKind.DESIGNATED_CITY
    assert f.valid_cards == 4
    assert f.statuses[CardStatus.ACTIVE] == 3
    assert f.statuses[CardStatus.SUSPENDED] == 1
    ages = {a.band: a for a in f.ages}
    assert ages[(40, 44)].cards == {Sex.MALE: 1, Sex.FEMALE: 1}
    assert ages[(70, 74)].cards == {Sex.MALE: 0, Sex.FEMALE: 1}
    assert ages[(5, 9)].cards == {Sex.MALE: 1, Sex.FEMALE: 0}
    assert ages[(25, 29)].population == {Sex.MALE: 1, Sex.FEMALE: 0}  # born 2000: 26, no card
    assert ages[(20, 24)].population == {Sex.MALE: 0, Sex.FEMALE: 1}  # in 神戸市
    assert f.issued_by_month[(2026, 3)] == 2
    assert f.issued_by_month[(2026, 4)] == 2
    assert f.issued_before == 0

    with TestClient(create_app(exact), base_url="http://127.0.0.1") as client:
        kinds = {r[0]: r for r in _csv(client, "kinds")}
        assert kinds["市（政令指定都市を除く）"][4:] == ["5", "4", "80.0"]
        assert kinds["政令指定都市"][4:] == ["2", "0", "0.0"]
        assert kinds["特別区"][1:4] == ["9396597", "1562843", "16.6"]
        assert kinds["特別区"][4:] == ["0", "0", ""]  # no population: no rate
        assert kinds["計"][4:] == ["7", "4", "57.1"]
        header, *rows = _csv(client, "municipalities")
        assert header == ["順位", "団体名", "区分", "人口", "交付枚数", "交付率"]
        assert rows[0] == ["1", "群馬県前橋市", "市（政令指定都市を除く）", "5", "4", "80.0"]
        assert rows[1] == ["2", "兵庫県神戸市", "政令指定都市", "2", "0", "0.0"]
        ages_csv = {r[0]: r for r in _csv(client, "age-sex")}
        assert ages_csv["40～44歳"][4:7] == ["1", "1", "2"]
        assert ages_csv["全体"][1:7] == ["3", "4", "7", "2", "2", "4"]
        statuses = dict(r[:2] for r in _csv(client, "card-status")[1:])
        assert statuses == {
            "有効": "3",
            "一時停止": "1",
            "失効": "0",
            "有効期限切れ": "0",
            "返納": "0",
            "計": "4",
        }
        issued = dict(r[:2] for r in _csv(client, "cards-issued-by-month")[1:])
        assert issued["2026-03"] == "2"
        assert issued["2026-04"] == "2"
        assert issued["計"] == "4"


def test_the_exchanges_per_month_item_and_procedure(exact: Platform, clock: FixedClock) -> None:
    _exchanges(exact, clock)
    f = exact.portal.statistics.figures()
    assert f.months[0] == (2025, 5)
    assert f.months[-1] == (2026, 4)
    with TestClient(create_app(exact), base_url="http://127.0.0.1") as client:
        months = {r[0]: r[1:] for r in _csv(client, "exchanges-by-month")[1:]}
        assert months["2025-05"] == ["1", "1"]  # the one at 2025-04-30 14:59 UTC is not counted
        assert months["2026-03"] == ["4", "3"]  # queries (refusals too), provisions
        assert months["2026-04"] == ["2", "1"]  # 2026-03-31 15:30 UTC is April in Japan
        assert months["計"] == ["7", "5"]
        items = [r for r in _csv(client, "exchanges-by-item")[1:]]
        assert items == [  # most queried first, the total last
            ["地方税関係情報", "4", "4"],
            ["住民票関係情報", "1", "0"],  # ties in the network's order of items
            ["生活保護関係情報", "1", "1"],
            ["年金関係情報", "1", "0"],
            ["計", "7", "5"],
        ]
        march = {r[0]: r[1:] for r in _csv(client, "exchanges-by-affair", period="2026-03")[1:]}
        assert march == {"児童手当の支給": ["4", "3"], "計": ["4", "3"]}
        reference_items = {r[1]: r[2:] for r in _csv(client, "exchanges-2018-items")[1:]}
        assert reference_items["地方税の課税情報"] == ["5459546", "4"]
        assert reference_items["介護保険給付等関係情報"] == ["23214", ""]  # no such item here


def test_the_record_counts_are_grouped_in_the_database(exact: Platform, clock: FixedClock) -> None:
    _exchanges(exact, clock)
    months = last_months(clock.today())
    counts = exact.builder.exchange_records().counts(month_bounds(months))
    assert sum(c.count for c in counts) == 7
    march = months.index((2026, 3))
    assert {(c.item, c.outcome, c.count) for c in counts if c.period == march} == {
        ("local_tax", Outcome.PROVIDED, 3),
        ("resident_registry", Outcome.NO_DATA, 1),
    }
    one = exact.builder.exchange_records().counts(month_bounds(months[-1:]))
    assert {c.period for c in one} == {0}
    assert sum(c.count for c in one) == 2
    with pytest.raises(ValueError, match="increasing"):
        exact.builder.exchange_records().counts([NOW, NOW])


def test_small_counts_are_shown_as_x_with_their_complements(
    guarded: Platform, clock: FixedClock
) -> None:
    _town(guarded, clock)
    with TestClient(create_app(guarded), base_url="http://127.0.0.1") as client:
        ages = {r[0]: r for r in _csv(client, "age-sex")}
        # One woman and one man aged 40-44: both hidden, and the row's total of 2 as well.
        assert ages["40～44歳"][4:7] == ["X", "X", "X"]
        assert ages["40～44歳"][7:10] == ["X", "X", "X"]
        assert ages["40～44歳"][1:4] == ["1", "1", "2"]  # residents are not suppressed
        for row in ages.values():
            cells = row[4:7]
            assert cells.count("X") != 1  # 男 + 女 = 計: never one hidden alone
        columns = list(zip(*(r[4:7] for r in ages.values()), strict=True))
        for column in columns:
            assert column.count("X") != 1
        statuses = dict(r[:2] for r in _csv(client, "card-status")[1:])
        assert statuses["一時停止"] == "X"
        assert list(statuses.values()).count("X") != 1
        kinds = {r[0]: r for r in _csv(client, "kinds")}
        # No card among 神戸市's 2 residents says as much about them as a card would; and 市's
        # 4 is hidden with it, or the total (4) less 市 would give it away.
        assert kinds["政令指定都市"][4:] == ["2", "X", "X"]
        assert kinds["市（政令指定都市を除く）"][4:] == ["5", "X", "X"]
        assert kinds["計"][4:] == ["7", "4", "57.1"]
        places = {r[1]: r for r in _csv(client, "municipalities")}
        assert places["兵庫県神戸市"][4:] == ["X", "X"]
        assert places["兵庫県神戸市"][0] == ""  # not ranked
        page = client.get("/statistics")
        assert page.status_code == 200
        assert "X" in page.text
        assert "3人未満" in page.text


def test_the_figures_are_counted_once_per_ttl(exact: Platform, clock: FixedClock) -> None:
    stats = exact.portal.statistics
    with TestClient(create_app(exact), base_url="http://127.0.0.1") as client:
        for _ in range(20):  # an anonymous flood
            assert client.get("/statistics").status_code == 200
            assert client.get("/statistics/kinds.csv").status_code == 200
        assert stats.counted == 1
        _resident(exact, MINATO, dt.date(1970, 1, 1), Sex.MALE)
        kinds = {r[0]: r for r in _csv(client, "kinds")}
        assert kinds["特別区"][4] == "0"  # still the figures counted before the move-in
        clock.advance(dt.timedelta(minutes=4, seconds=59))
        assert {r[0]: r for r in _csv(client, "kinds")}["特別区"][4] == "0"
        assert stats.counted == 1
        clock.advance(dt.timedelta(seconds=1))
        assert {r[0]: r for r in _csv(client, "kinds")}["特別区"][4] == "1"
        assert stats.counted == 2
        clock.set(NOW - dt.timedelta(hours=1))  # a clock set back counts again too
        stats.figures()
        assert stats.counted == 3


def test_the_page_is_public_in_both_languages(exact: Platform, clock: FixedClock) -> None:
    residents = _town(exact, clock)
    with TestClient(create_app(exact), base_url="http://127.0.0.1") as client:
        home = client.get("/")
        assert 'href="/statistics"' in home.text  # in the menu for visitors
        page = client.get("/statistics")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        text = page.text
        assert "<h1>統計</h1>" in text
        assert "総務省" in text
        assert text.count('role="img"') >= 10
        assert "<script" not in text.split("</head>")[1]
        for r in residents:
            assert r.resident_code not in text
            assert (
                exact.registries.index.by_resident_code(r.resident_code).individual_number
                not in text
            )
            assert "山田" not in text
        client.cookies.set(LANGUAGE_COOKIE, "en")
        english = client.get("/statistics")
        assert '<html lang="en">' in english.text
        assert "Ministry of Internal Affairs and Communications" in english.text
        assert "Maebashi, Gunma" in english.text
        header, *rows = _csv(client, "municipalities")
        assert header == ["Rank", "Municipality", "Kind", "Population", "Cards", "Rate"]
        assert rows[0][1:3] == ["Maebashi, Gunma", "City (other than designated cities)"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/statistics?period=2019-01", 400),
        ("/statistics?period=2026-4", 400),
        ("/statistics?period=" + "9" * 5000, 400),
        ("/statistics?period=<script>", 400),
        ("/statistics/kinds.csv?period=1999-12", 400),
        ("/statistics/nothing.csv", 404),
        ("/statistics/..%2Fkinds.csv", 404),
    ],
)
def test_bad_input_is_refused(exact: Platform, path: str, status: int) -> None:
    with TestClient(create_app(exact), base_url="http://127.0.0.1") as client:
        response = client.get(path)
        assert response.status_code == status
        assert "<script>" not in response.text
        if "%2F" not in path:  # a path no route matches is the app's own 404 (problem+json)
            assert "text/html" in response.headers["content-type"]


def test_a_chart_is_an_accessible_svg_with_one_bar_per_shown_value(
    guarded: Platform, clock: FixedClock
) -> None:
    _town(guarded, clock)
    view = build_view(reference(), guarded.portal.statistics.figures(), threshold=3)
    kinds = view.table("kinds")
    assert kinds is not None
    svg = str(bar_chart(kinds, "ja"))
    assert svg.startswith('<svg class="chart" role="img"')
    assert 'aria-labelledby="chart-kinds-title chart-kinds-desc"' in svg
    assert '<title id="chart-kinds-title">団体区分別の交付状況</title>' in svg
    # 2018: 4 bars; the installation: none (政令指定都市 and 市 are X, the others have no
    # residents: —); and the legend's 2 keys.
    assert svg.count("<rect") == 6
    assert svg.count(">X</text>") == 2
    ages = view.table("age-sex")
    assert ages is not None
    drawn = str(bar_chart(ages, "en"))
    assert ">X</text>" in drawn  # a suppressed rate has no bar, only its X
    hidden = [c for r in ages.rows for c in r.cells if c is X]
    assert hidden
    assert "bar chart" in drawn.lower()
    assert drawn.endswith("</svg>")


def test_months_and_their_bounds_in_japan_time() -> None:
    months = last_months(dt.date(2026, 1, 15))
    assert months[0] == (2025, 2)
    assert months[-1] == (2026, 1)
    assert len(months) == 12
    bounds = month_bounds(months)
    assert bounds[0] == dt.datetime(2025, 2, 1, tzinfo=JST)
    assert bounds[-1] == dt.datetime(2026, 2, 1, tzinfo=JST)
    assert len(bounds) == 13
