"""公金決済 in a real browser: from the list to the provider's checkout to the receipt."""

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
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from portal_helpers import authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("payments"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform
    finally:
        platform.close()


def test_paying_a_fee_by_card(served: tuple[str, Platform], tmp_path: Path) -> None:
    url, platform = served
    hanako = holder(platform)
    code = platform.network.issue_code("lg-102016", hanako.resident.individual_number)
    platform.portal.payments.request(
        "lg-102016",
        code,
        purpose="令和8年度 市県民税 第1期",
        amount=12_300,
        due_on=dt.date(2026, 6, 30),
        agency_key="tax-2026-1",
    )
    result = authenticate(platform, hanako.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    with browser() as b:
        context = b.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
        page = context.new_page()
        page.goto(url + "/payments")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-payments-ja.png"), full_page=True)
        page.get_by_role("link", name="令和8年度 市県民税 第1期").click()
        assert "12,300 円" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-payment-ja.png"), full_page=True)
        page.get_by_role("button", name="納付へ進む").click()
        page.wait_for_url("**/payment-provider/checkout/**")
        assert serious_violations(page) == []
        page.get_by_label("カード番号").fill("4242 4242 4242 4242")
        page.screenshot(path=str(screenshots(tmp_path) / "portal-provider-ja.png"), full_page=True)
        page.get_by_role("button", name="支払う").click()
        page.wait_for_url("**/receipt")
        assert page.get_by_role("heading", name="領収証書").is_visible()
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-receipt-ja.png"), full_page=True)
        phone = context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(page.url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
        phone.screenshot(
            path=str(screenshots(tmp_path) / "portal-receipt-phone.png"), full_page=True
        )
    assert platform.portal.payments.open_count(account.portal_code) == 0
