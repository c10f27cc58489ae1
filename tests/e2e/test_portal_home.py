"""The portal's home page in a real browser: Japanese first, English by the switch, logout."""

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
    """A platform with one card holder, served on a free port."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("portal"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform
    finally:
        platform.close()


def _session_cookie(platform: Platform, url: str) -> dict[str, str]:
    result = authenticate(platform, holder(platform).card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    return {"name": COOKIE, "value": token, "url": url}


def test_the_home_page_in_japanese_then_english(
    served: tuple[str, Platform], tmp_path: Path
) -> None:
    url, _ = served
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        assert page.locator("html").get_attribute("lang") == "ja"
        heading = page.locator("h1").inner_text()
        assert heading == "マイナンバーカードで、行政の手続とあなたの情報を。"
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-home-ja.png"), full_page=True)
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert "Log in with your My Number Card" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-home-en.png"), full_page=True)


def test_the_home_page_fits_a_phone(served: tuple[str, Platform], tmp_path: Path) -> None:
    url, _ = served
    with browser() as b:
        page = b.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        page.goto(url + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "home-phone.png"), full_page=True)


def test_a_logged_in_person_sees_the_menu_and_logs_out(served: tuple[str, Platform]) -> None:
    url, platform = served
    with browser() as b:
        context = b.new_context()
        context.add_cookies([_session_cookie(platform, url)])
        page = context.new_page()
        page.goto(url + "/")
        assert "マイナンバーカードでログインしています" in page.inner_text("main")
        assert serious_violations(page) == []
        page.get_by_role("button", name="ログアウト").click()
        page.wait_for_load_state()
        assert page.get_by_role("link", name="マイナンバーカードでログイン").is_visible()
        page.reload()
        assert page.get_by_role("link", name="マイナンバーカードでログイン").is_visible()


def test_the_account_page_in_a_browser(served: tuple[str, Platform], tmp_path: Path) -> None:
    url, platform = served
    with browser() as b:
        context = b.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([_session_cookie(platform, url)])
        page = context.new_page()
        page.goto(url + "/account")
        assert page.get_by_role("heading", name="ログイン中のセッション").is_visible()
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots(tmp_path) / "portal-account-ja.png"), full_page=True)
        page.get_by_label("ページを開いていないときに送るお知らせの言語").select_option("en")
        page.get_by_role("button", name="保存する").click()
        page.wait_for_load_state()
        assert page.locator("#language-choice").input_value() == "en"
        phone = context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(url + "/account")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
        phone.screenshot(path=str(tmp_path / "account-phone.png"), full_page=True)
        page.get_by_role("button", name="終了する").first.click()
        page.wait_for_load_state()
        assert page.get_by_role("link", name="マイナンバーカードでログイン").is_visible()
