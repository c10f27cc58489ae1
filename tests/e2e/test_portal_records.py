"""やりとり履歴 (P2) and 自己情報 (P3) in a real browser: reading, filtering, a fetch.

Screenshots go to the test's folder, or to ``$OPENMYNA_SCREENSHOTS`` when set (the docs'
images docs/images/portal-records-*.png, portal-record-*.png and portal-my-data-*.png are
taken that way: ``OPENMYNA_SCREENSHOTS=docs/images``).
"""

from __future__ import annotations

import datetime as dt
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
from openmyna.portal.pages import LANGUAGE_COOKIE
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from portal_helpers import Holder, authenticate, holder
from records_helpers import bulk, exchange, store_tax

START = dt.datetime(2026, 1, 5, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("records"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    who = holder(platform)
    store_tax(platform, who)
    # 84 records over twelve weeks: local tax, pension and resident-registry queries in turn.
    bulk(platform, who, 84, start=START, step=dt.timedelta(days=1))
    exchange(platform, who, key="e2e-tax-1")
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform, who
    finally:
        platform.close()


def _logged_in(b: Any, url: str, platform: Platform, who: Holder, language: str = "ja") -> Any:
    result = authenticate(platform, who.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    locale = "ja-JP" if language == "ja" else "en-GB"
    context = b.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.add_cookies(
        [
            {"name": COOKIE, "value": token, "url": url},
            {"name": LANGUAGE_COOKIE, "value": language, "url": url},
        ]
    )
    return context


def _rows(page: Any) -> list[str]:
    return [str(t) for t in page.locator("table.records-table tbody tr").all_inner_texts()]


def test_reading_and_filtering_the_records(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, who = served
    shots = screenshots(tmp_path)
    with browser() as b:
        context = _logged_in(b, url, platform, who)
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_role("navigation", name="メニュー").get_by_role(
            "link", name="やりとり履歴"
        ).click()
        page.wait_for_url("**/records")
        assert "85件中 1〜50件目" in page.inner_text("main")
        assert len(_rows(page)) == 50
        assert "兵庫県神戸市" in _rows(page)[0]  # the real exchange is the newest
        assert serious_violations(page) == []

        page.get_by_role("link", name="次のページ").click()
        page.wait_for_url("**/records?page=2")
        assert len(_rows(page)) == 35

        page.get_by_label("開始日").fill("2026-02-01")
        page.get_by_label("終了日").fill("2026-03-15")
        page.get_by_label("特定個人情報の項目").select_option(label="年金関係情報")
        page.get_by_role("button", name="絞り込む").click()
        page.wait_for_url("**item=pension**")
        rows = _rows(page)
        assert rows
        assert all("年金関係情報" in r and "日本年金機構" in r for r in rows)
        assert len(rows) == 14  # every third day, 2026-02-01 to 2026-03-15
        assert page.get_by_label("特定個人情報の項目").input_value() == "pension"
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "portal-records-ja.png"), full_page=True)

        page.locator("#agency").select_option(label="群馬県前橋市")
        page.get_by_label("開始日").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")  # a date field submits its form
        assert "条件に合う記録はありません" in page.inner_text("main")

        page.goto(url + "/records?item=pension&since=2026-02-01&until=2026-03-15")
        page.locator("table.records-table tbody tr a").first.click()
        page.wait_for_url("**/records/*")
        main = page.inner_text("main")
        assert "日本年金機構" in main
        assert "年金関係情報" in main
        assert "児童手当の支給" in main
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "portal-record-ja.png"), full_page=True)

        page.goto(url + "/records?since=2026-13-40")
        assert "開始日を正しく入力してください" in page.inner_text("main")

        phone = context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(url + "/records")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
        phone.screenshot(path=str(tmp_path / "records-phone.png"), full_page=True)

        english = _logged_in(b, url, platform, who, "en").new_page()
        english.goto(url + "/records?item=pension&since=2026-02-01&until=2026-03-15")
        assert english.get_by_role("heading", name="Exchange records").is_visible()
        assert serious_violations(english) == []
        english.screenshot(path=str(shots / "portal-records-en.png"), full_page=True)
        english.locator("table.records-table tbody tr a").first.click()
        english.wait_for_url("**/records/*")
        english.screenshot(path=str(shots / "portal-record-en.png"), full_page=True)


def test_fetching_own_information_and_seeing_it_recorded(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, who = served
    shots = screenshots(tmp_path)
    with browser() as b:
        context = _logged_in(b, url, platform, who)
        page = context.new_page()
        page.goto(url + "/my-data")
        assert serious_violations(page) == []
        page.get_by_role("link", name="地方税関係情報").click()
        page.wait_for_url("**/my-data?item=local_tax")
        page.get_by_label("照会先の機関").select_option(label="群馬県前橋市")
        assert serious_violations(page) == []
        page.get_by_role("button", name="照会する").click()
        page.wait_for_load_state()
        main = page.inner_text("main")
        assert "次の情報が提供されました" in main
        assert "182,700円" in main
        assert "群馬県前橋市（102016）" in main
        assert serious_violations(page) == []
        page.screenshot(path=str(shots / "portal-my-data-ja.png"), full_page=True)

        page.get_by_role("link", name="やりとり履歴を見る").click()
        page.wait_for_url("**/records")
        newest = _rows(page)[0]
        assert "マイナポータル" in newest
        assert "自己情報の表示" in newest

        english = _logged_in(b, url, platform, who, "en").new_page()
        english.goto(url + "/my-data?item=local_tax")
        english.get_by_label("Agency asked").select_option(label="群馬県前橋市")
        english.get_by_role("button", name="Ask").click()
        english.wait_for_load_state()
        assert "¥182,700" in english.inner_text("main")
        assert serious_violations(english) == []
        english.screenshot(path=str(shots / "portal-my-data-en.png"), full_page=True)
