"""申請 (P5) in a real browser: search, open the child-allowance form, fill it from the card
through the demo wallet, sign it there, and follow its status; in English and on a phone.

Screenshots go to the test's folder, or to ``$OPENMYNA_SCREENSHOTS`` when set (the docs'
images are taken that way: ``OPENMYNA_SCREENSHOTS=docs/images``).
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
from openmyna.config import PortalSettings, Settings
from openmyna.platform import Platform
from openmyna.portal.eapply.models import ApplicationStatus, Outcome
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from eapply_helpers import demo_card
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, Holder, authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    """The demo wallet on, one card holder whose card is a demo card file."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("eapply"), portal=PortalSettings(demo_wallet=True)
    )
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    who = holder(platform)
    demo_card(platform, who, "yamada-hanako", "山田 花子（申請者）")
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform, who
    finally:
        platform.close()


def _logged_in(b: Any, url: str, platform: Platform, who: Holder, **options: Any) -> Any:
    result = authenticate(platform, who.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(locale="ja-JP", **options)
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context.new_page()


def _no_violations(page: Any) -> None:
    found = serious_violations(page)
    assert found == [], found


def _wallet(page: Any, secret: str) -> None:
    """On the card page: open the demo wallet, use the demo card, come back."""
    page.get_by_role("link", name="デモ用ウォレット", exact=False).first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "デモ用ウォレット"
    _no_violations(page)
    page.get_by_label("山田 花子（申請者）").check()
    page.locator("#secret").fill(secret)
    page.get_by_role("button", name="送信する", exact=False).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "送信しました"
    page.get_by_role("link", name="申請の画面に戻る").click()
    page.wait_for_load_state()


def test_search_fill_from_the_card_sign_and_follow(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, who = served
    shots = screenshots(tmp_path)
    with browser() as b:
        page = _logged_in(b, url, platform, who, viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.get_by_role("link", name="申請", exact=True).first.click()
        page.wait_for_load_state()
        page.get_by_label("市区町村").select_option("102016")
        page.get_by_label("ライフイベント").select_option("pregnancy_birth")
        page.get_by_role("button", name="検索する").click()
        page.wait_for_load_state()
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-search-ja.png"), full_page=True)
        page.get_by_role("link", name="児童手当 認定請求").click()
        page.wait_for_load_state()
        assert "群馬県前橋市" in page.inner_text("main")
        _no_violations(page)
        page.get_by_role("button", name="申請を始める").click()
        page.wait_for_load_state()

        # The form, empty; a try without consent is refused beside the checkbox.
        assert page.locator("h1").inner_text() == "児童手当 認定請求"
        _no_violations(page)
        page.get_by_role("button", name="カードから読み取る").click()
        page.wait_for_load_state()
        assert "同意が必要です" in page.inner_text("main")
        page.get_by_label("上記の項目をカードから読み取り、入力することに同意します").check()
        page.get_by_role("button", name="カードから読み取る").click()
        page.wait_for_load_state()
        assert "openmyna card prefill" in page.inner_text("main")
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-card-ja.png"), full_page=True)
        _wallet(page, AUTH_PIN)

        # Back on the form, filled from the card: the rest is typed, with one mistake first.
        assert page.locator("#f-claimant-name").input_value() == "山田 花子"
        assert "**** ****" in page.inner_text("main")
        page.locator("#f-claimant-name_kana").fill("yamada")
        page.locator("#f-claimant-tel").fill("0272231111")
        page.locator("#f-claimant-pension").select_option("employees")
        page.get_by_role("button", name="入力内容を確認する").click()
        page.wait_for_load_state()
        assert "入力内容を確認してください" in page.inner_text("main")
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-errors-ja.png"), full_page=True)
        page.locator("#f-claimant-name_kana").fill("ヤマダ ハナコ")
        page.get_by_label("なし").check()
        page.locator("#f-children-0-name").fill("山田 一郎")
        page.locator("#f-children-0-name_kana").fill("ヤマダ イチロウ")
        page.locator("#f-children-0-date_of_birth").fill("2020-05-05")
        page.locator("#f-children-0-relationship").select_option("child")
        page.locator("#f-children-0-living").select_option("together")
        page.locator("#f-account-bank").fill("前橋銀行")
        page.locator("#f-account-branch").fill("本店")
        page.locator("#f-account-kind").select_option("ordinary")
        page.locator("#f-account-number").fill("1234567")
        page.locator("#f-account-holder_kana").fill("ヤマダ ハナコ")
        page.get_by_role("button", name="入力内容を確認する").click()
        page.wait_for_load_state()

        # Confirm, sign in the wallet, submitted.
        assert page.locator("h1").inner_text() == "入力内容の確認"
        assert "山田 一郎" in page.inner_text("main")
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-confirm-ja.png"), full_page=True)
        page.get_by_role("button", name="電子署名へ進む").click()
        page.wait_for_load_state()
        assert "openmyna card sign-application" in page.inner_text("main")
        _wallet(page, SIGN_PASSWORD)
        main = page.inner_text("main")
        assert "申請を受け付けました" in main
        assert "申請済み" in main
        _no_violations(page)

        # The municipality receives and approves it; the applicant sees it.
        [application] = platform.portal.eapply.office.inbox("102016")
        office = platform.portal.eapply.office
        office.receive("102016", application.application_id, actor="clerk-1")
        office.decide(
            "102016",
            application.application_id,
            Outcome.APPROVED,
            actor="clerk-2",
            reason="令和8年4月分から支給します。",
        )
        page.reload()
        main = page.inner_text("main")
        assert "決定（承認）" in main
        assert "令和8年4月分から支給します。" in main
        assert application.reference in main
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-status-ja.png"), full_page=True)
        page.goto(url + "/services/applications")
        assert application.reference in page.inner_text("main")
        _no_violations(page)

        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert "Approved" in page.inner_text("main")
        _no_violations(page)
        page.goto(f"{url}/services/applications/{application.application_id}")
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-status-en.png"), full_page=True)
        page.goto(url + "/services?municipality=102016")
        assert "Child allowance: claim for recognition" in page.inner_text("main")
        page.screenshot(path=str(shots / "portal-apply-search-en.png"), full_page=True)
        assert platform.portal.eapply.office.get("102016", application.application_id).status is (
            ApplicationStatus.APPROVED
        )


def test_the_form_fits_a_phone(served: tuple[str, Platform, Holder], tmp_path: Path) -> None:
    url, platform, who = served
    shots = screenshots(tmp_path)
    with browser() as b:
        page = _logged_in(
            b, url, platform, who, viewport={"width": 375, "height": 740}, device_scale_factor=2
        )
        page.goto(url + "/services?municipality=281000")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        _no_violations(page)
        page.get_by_role("link", name="罹災証明書 交付申請").click()
        page.get_by_role("button", name="申請を始める").click()
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        _no_violations(page)
        page.screenshot(path=str(shots / "portal-apply-form-phone.png"), full_page=True)
