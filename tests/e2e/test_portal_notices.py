"""お知らせ (P4) in a real browser: a notice arrives, the menu counts it, opening it reads it.

Screenshots (Japanese, English, a phone) are written to the test's folder; the ones in
docs/images/portal-notices-*.png were taken by these tests.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, screenshots, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from notice_helpers import post, write_services
from portal_helpers import Holder, authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    """A platform with one card holder, a delivery service listed, served on a free port."""
    folder = tmp_path_factory.mktemp("notices")
    services = write_services(
        folder / "delivery-services.toml",
        [("demo-post", "http://127.0.0.1:9/hooks", secrets.token_bytes(32))],
    )
    settings = Settings(data_dir=folder / "data")
    settings = settings.model_copy(
        update={"portal": settings.portal.model_copy(update={"delivery_services": services})}
    )
    clock = FixedClock(dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC))
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        post(
            platform,
            person.resident,
            title="令和8年度 住民税（普通徴収）の納税通知書を送付しました",
            body="令和8年度の住民税の納税通知書を送付しました。\n第1期の納期限は6月30日です。"
            "\n\nお支払いは、このお知らせからオンラインでもできます。",
            category="tax",
            link="/payments/tax-2026-1",
        )
        clock.advance(dt.timedelta(days=2, hours=3))
        post(
            platform,
            person.resident,
            agency="nenkin",
            title="ねんきん定期便をお送りしました",
            body="これまでの加入期間と年金見込額をお知らせします。",
            category="pension",
        )
        clock.advance(dt.timedelta(hours=5))
        with live_server(create_app(platform)) as url:
            yield url, platform, person
    finally:
        platform.close()


def _logged_in(b: Any, url: str, platform: Platform, person: Holder, **options: Any) -> Any:
    result = authenticate(platform, person.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(**options)
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context


def _badge(page: Any) -> str:
    return str(page.locator("nav.menu .badge").inner_text())


def test_a_notice_arrives_is_counted_and_is_read_when_opened(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, person = served
    with browser() as b:
        context = _logged_in(b, url, platform, person, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/")
        before = int(_badge(page))
        # An agency posts a notice while the person is on the portal.
        post(
            platform,
            person.resident,
            title="児童手当の認定通知書を送付しました",
            body="児童手当の認定をしました。<script>alert('x')</script>\n支給は6月分からです。",
            category="childcare",
            link="/applications/app-2026-0042",
        )
        page.reload()
        assert int(_badge(page)) == before + 1
        page.get_by_role("link", name="お知らせ").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "お知らせ"
        assert f"未読のお知らせが{before + 1}件あります。" in page.inner_text("main")
        titles = page.locator(".notice-title").all_inner_texts()
        assert titles[0] == "児童手当の認定通知書を送付しました"  # newest first
        assert serious_violations(page) == []
        page.screenshot(
            path=str(screenshots(tmp_path) / "portal-notices-list-ja.png"), full_page=True
        )
        page.get_by_role("link", name="児童手当の認定通知書を送付しました").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "児童手当の認定通知書を送付しました"
        body = page.locator(".notice-body").inner_text()
        assert "<script>alert('x')</script>" in body  # shown as text, never run
        assert page.get_by_role("link", name="申請の状況を見る").get_attribute("href") == (
            "/applications/app-2026-0042"
        )
        assert serious_violations(page) == []
        page.screenshot(
            path=str(screenshots(tmp_path) / "portal-notices-notice-ja.png"), full_page=True
        )
        # It is read: one fewer in the menu, and no longer marked in the list.
        assert int(_badge(page)) == before
        page.get_by_role("link", name="お知らせの一覧へ戻る").click()
        page.wait_for_load_state()
        first = page.locator(".notice-item").first
        assert "unread" not in (first.get_attribute("class") or "")
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Notices"
        assert serious_violations(page) == []
        page.screenshot(
            path=str(screenshots(tmp_path) / "portal-notices-list-en.png"), full_page=True
        )
        context.close()


def test_the_forwarding_setting_by_keyboard(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, person = served
    with browser() as b:
        context = _logged_in(b, url, platform, person, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/notices/delivery")
        assert serious_violations(page) == []
        page.get_by_label("送達サービス demo-post").check()
        page.get_by_role("button", name="保存する").focus()
        # A key press does not wait for the navigation it starts (a click does): wait for it.
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "設定を保存しました。" in page.inner_text("main")
        assert page.locator(".link-id").inner_text()
        assert serious_violations(page) == []
        page.screenshot(
            path=str(screenshots(tmp_path) / "portal-notices-delivery-ja.png"), full_page=True
        )
        page.get_by_label("転送しない").check()
        page.get_by_role("button", name="保存する").click()
        page.wait_for_load_state()
        assert page.get_by_label("転送しない").is_checked()
        context.close()


def test_the_notices_fit_a_phone(served: tuple[str, Platform, Holder], tmp_path: Path) -> None:
    url, platform, person = served
    with browser() as b:
        context = _logged_in(
            b, url, platform, person, viewport={"width": 375, "height": 740}, device_scale_factor=2
        )
        page = context.new_page()
        page.goto(url + "/notices")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        assert serious_violations(page) == []
        page.screenshot(
            path=str(screenshots(tmp_path) / "portal-notices-phone.png"), full_page=True
        )
        page.locator(".notice-item a").first.click()
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        context.close()
