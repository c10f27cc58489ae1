"""The public statistics page in a real browser: Japanese and English, a phone, axe, CSV."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import browser, live_server, screenshots, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import seed_town
from openmyna.law import may_hold_sign_cert
from openmyna.platform import Platform
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from portal_helpers import AUTH_PIN, SIGN_PASSWORD

NOW = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)
#: Every how many residents one gets a card, and how many residents the town has.
EVERY, RESIDENTS = 8, 320


def _issue_cards(platform: Platform, clock: FixedClock) -> int:
    """Cards for every 8th resident of each municipality, issued over the last months."""
    issued = 0
    for m in platform.registries.list_municipalities():
        people = platform.registries.municipality(m.lg_code).list_residents(limit=RESIDENTS)
        for n, r in enumerate(people[::EVERY]):
            clock.set(NOW - dt.timedelta(days=20 * (n % 6)))
            platform.cards.apply(r.resident_code)
            adult = may_hold_sign_cert(r.date_of_birth, clock.today())
            platform.cards.issue(
                r.resident_code,
                auth_pin=AUTH_PIN,
                sign_password=SIGN_PASSWORD if adult else None,
                identity_check="旅券",
            )
            issued += 1
    clock.set(NOW)
    return issued


def _record_exchanges(platform: Platform, clock: FixedClock) -> None:
    """Exchange records over six months: mostly local tax for the child allowance."""
    records = platform.builder.exchange_records()
    kinds = [
        ("child_allowance", "local_tax", "provided", 6),
        ("child_allowance", "resident_registry", "provided", 2),
        ("nursery_certification", "local_tax", "provided", 3),
        ("public_assistance", "welfare", "no_data", 1),
        ("national_health_insurance", "health_insurance_eligibility", "provided", 2),
        ("child_allowance", "pension", "not_allowed", 1),
    ]
    for month in range(6):
        clock.set(NOW - dt.timedelta(days=30 * month + 3))
        for affair, item, outcome, n in kinds:
            for _ in range(n + (5 - month)):
                records.append(
                    requester="kobe-city",
                    provider="maebashi-city",
                    affair=affair,
                    item=item,
                    outcome=outcome,
                )
    clock.set(NOW)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small seeded town with cards and exchanges, served on a free port."""
    clock = FixedClock(NOW)
    settings = Settings(data_dir=tmp_path_factory.mktemp("statistics"))
    platform = Platform(Builder(settings, clock))
    try:
        seed_town(platform.registries, RESIDENTS)
        platform.sync_once()
        assert _issue_cards(platform, clock) >= 30
        _record_exchanges(platform, clock)
        with live_server(create_app(platform)) as url:
            yield url
    finally:
        platform.close()


def test_the_statistics_in_japanese_then_english(served: str, tmp_path: Path) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(served + "/")
        page.get_by_role("link", name="統計").first.click()  # in the menu, without a login
        page.wait_for_load_state()
        assert page.url.endswith("/statistics")
        assert page.locator("h1").inner_text() == "統計"
        assert page.locator("svg[role=img]").count() >= 10
        kinds = page.locator("#kinds")
        assert "政令指定都市" in kinds.inner_text()
        assert "27,445,782" in kinds.inner_text()  # the 2018 population of the designated cities
        assert page.locator("#chart-kinds-title").text_content() == "団体区分別の交付状況"
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-statistics-ja.png"))
        page.locator("#age-sex").screenshot(
            path=str(screenshots(tmp_path) / "portal-statistics-age-ja.png")
        )
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Statistics"
        assert "Cards issued by kind of municipality" in page.inner_text("main")
        assert serious_violations(page) == []
        page.locator("#exchanges-by-month").screenshot(
            path=str(screenshots(tmp_path) / "portal-statistics-exchanges-en.png")
        )
        page.locator("#municipalities").screenshot(
            path=str(screenshots(tmp_path) / "portal-statistics-municipalities-en.png")
        )


def test_the_statistics_fit_a_phone(served: str, tmp_path: Path) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        page.goto(served + "/statistics")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        # Each chart fits the screen; a wide table scrolls inside its own region.
        widths = page.eval_on_selector_all(
            "svg.chart", "els => els.map(e => e.getBoundingClientRect().right)"
        )
        assert widths
        assert max(widths) <= 375
        assert serious_violations(page) == []
        page.locator("#kinds").screenshot(
            path=str(screenshots(tmp_path) / "portal-statistics-phone.png")
        )


def test_a_table_downloads_as_csv_and_the_period_narrows(served: str, tmp_path: Path) -> None:
    with browser() as b:
        context = b.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(served + "/statistics")
        with page.expect_download() as info:
            page.locator("#kinds").get_by_role("link", name="CSVでダウンロード").click()
        download = info.value
        assert download.suggested_filename == "openmyna-kinds.csv"
        data = Path(download.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert data.decode("utf-8-sig").splitlines()[0].startswith("区分,")
        page.select_option("#period", "2026-03")
        page.get_by_role("button", name="表示").click()
        page.wait_for_load_state()
        assert "period=2026-03" in page.url
        title = page.locator("#exchanges-by-item-h").inner_text()
        assert title == "特定個人情報別の件数（令和8年3月）"
        assert page.locator("#period").input_value() == "2026-03"
        assert serious_violations(page) == []
