"""児童手当 end to end in a real browser: the family that lived in 前橋市 on 1 January claims at
神戸市 from the portal (filled from the card and signed in the demo wallet), 神戸市's
supervisor receives the claim, looks up 前橋市's local tax over the network, approves it,
and the notice arrives; the back office in Japanese and in English.

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
from openmyna.demo.family import FAMILY_FROM, FAMILY_INCOMES, FAMILY_TO
from openmyna.demo.network_seed import seed_network
from openmyna.network.agencies import municipality_agency_id
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.eapply.models import ApplicationStatus
from openmyna.portal.sessions import COOKIE
from openmyna.registry import Relationship
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from eapply_helpers import demo_card
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, Holder, authenticate, holder

LABEL = "森田 健太（児童手当の申請者）"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Platform, Holder, Holder]]:
    """The scenario family at 神戸市 with 前橋市's items, the parent's demo card, a supervisor."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("child-allowance"),
        portal=PortalSettings(demo_wallet=True),
    )
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    seeded = seed_network(platform.network, platform.registries, max_households=0)
    platform.sync_once()
    parent = seeded.family.applicant
    platform.cards.apply(parent.resident_code)
    issued = platform.cards.issue(
        parent.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check="旅券"
    )
    applicant = Holder(parent, issued.card)
    demo_card(platform, applicant, "morita-kenta", LABEL)
    supervisor = holder(platform, "高橋", "三郎")
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform, applicant, supervisor
    finally:
        platform.close()


def _context(b: Any, url: str, platform: Platform, who: Holder) -> Any:
    result = authenticate(platform, who.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context


def _no_violations(page: Any) -> None:
    found = serious_violations(page)
    assert found == [], found


def _wallet(page: Any, secret: str) -> None:
    """On the card page: the demo wallet uses the family's demo card, then back."""
    page.get_by_role("link", name="デモ用ウォレット", exact=False).first.click()
    page.wait_for_load_state()
    page.get_by_label(LABEL).check()
    page.locator("#secret").fill(secret)
    page.get_by_role("button", name="送信する", exact=False).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "送信しました"
    page.get_by_role("link", name="申請の画面に戻る", exact=False).first.click()
    page.wait_for_load_state()


def _claim(page: Any, url: str) -> str:
    """The parent fills the claim at 神戸市 from the card, signs it; its reference."""
    page.goto(f"{url}/services/{FAMILY_TO}-child-allowance-claim")
    assert "兵庫県神戸市" in page.inner_text("main")
    assert "課税証明書" in page.inner_text("main")  # a document no longer attached
    page.get_by_role("button", name="申請を始める").click()
    page.wait_for_load_state()
    page.get_by_label("上記の項目をカードから読み取り、入力することに同意します").check()
    page.get_by_role("button", name="カードから読み取る").click()
    page.wait_for_load_state()
    _wallet(page, AUTH_PIN)
    assert page.locator("#f-claimant-name").input_value() == "森田 健太"
    page.locator("#f-claimant-name_kana").fill("モリタ ケンタ")
    page.locator("#f-claimant-tel").fill("0783311111")
    page.locator("#f-claimant-pension").select_option("employees")
    page.get_by_label("あり").check()
    page.locator("#f-spouse-name").fill("森田 美咲")
    page.locator("#f-children-0-name").fill("森田 陽翔")
    page.locator("#f-children-0-name_kana").fill("モリタ ハルト")
    page.locator("#f-children-0-date_of_birth").fill("2019-05-14")
    page.locator("#f-children-0-relationship").select_option("child")
    page.locator("#f-children-0-living").select_option("together")
    page.locator("#f-account-bank").fill("神戸銀行")
    page.locator("#f-account-branch").fill("三宮支店")
    page.locator("#f-account-kind").select_option("ordinary")
    page.locator("#f-account-number").fill("7654321")
    page.locator("#f-account-holder_kana").fill("モリタ ケンタ")
    page.get_by_role("button", name="入力内容を確認する").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "入力内容の確認"
    page.get_by_role("button", name="電子署名へ進む").click()
    page.wait_for_load_state()
    _wallet(page, SIGN_PASSWORD)
    main = page.inner_text("main")
    assert "申請を受け付けました" in main
    reference: str = page.locator("dl.summary strong").first.inner_text()
    return reference


def test_claim_at_b_decided_with_a_s_local_tax_and_noticed(
    served: tuple[str, Platform, Holder, Holder], tmp_path: Path
) -> None:
    url, platform, applicant, supervisor = served
    shots = screenshots(tmp_path)
    number = applicant.resident.individual_number
    with browser() as b:
        resident = _context(b, url, platform, applicant).new_page()
        reference = _claim(resident, url)

        staff_context = _context(b, url, platform, supervisor)
        account = platform.portal.accounts.for_login(authenticate(platform, supervisor.card))
        platform.backoffice.staff.grant(
            FAMILY_TO, account.account_id, Role.SUPERVISOR, "高橋 三郎", by=None
        )
        office = staff_context.new_page()
        office.goto(f"{url}/backoffice/{FAMILY_TO}")
        office.get_by_role("link", name="電子申請", exact=True).first.click()
        office.wait_for_load_state()
        assert reference in office.inner_text("main")
        _no_violations(office)
        office.screenshot(path=str(shots / "portal-backoffice-applications-ja.png"), full_page=True)

        office.get_by_role("link", name=reference).click()
        office.wait_for_load_state()
        assert "検証済み" in office.inner_text("main")
        assert number not in office.content()
        office.get_by_role("button", name="受付する").click()
        office.wait_for_load_state()
        assert "受付を記録しました。" in office.inner_text("main")
        # Approving before the income is looked at is refused on the page.
        office.get_by_role("button", name="決定して通知する").click()
        office.wait_for_load_state()
        assert "所得（地方税関係情報）を照会してください" in office.inner_text("main")
        office.get_by_role("button", name="地方税関係情報を照会する").click()
        office.wait_for_load_state()
        main = office.inner_text("main")
        assert f"{FAMILY_INCOMES[Relationship.HEAD][0]:,}" in main
        assert "群馬県前橋市 から情報提供ネットワークシステムで取得しました" in main
        assert "所得による支給制限はありません" in main
        _no_violations(office)
        office.screenshot(path=str(shots / "portal-backoffice-application-ja.png"), full_page=True)
        hub = [
            r
            for r in platform.network.records_for_number(number)
            if r.item == "local_tax" and r.affair == "child_allowance"
        ]
        assert [(r.requester, r.provider) for r in hub] == [
            (municipality_agency_id(FAMILY_TO), municipality_agency_id(FAMILY_FROM))
        ]

        # In English: the inbox, and the page after a second look-up (another recorded exchange).
        office.get_by_role("link", name="English").click()
        office.wait_for_load_state()
        assert office.locator("html").get_attribute("lang") == "en"
        office.get_by_role("button", name="Ask for the local-tax information").click()
        office.wait_for_load_state()
        assert "No income limit applies" in office.inner_text("main")
        _no_violations(office)
        office.screenshot(path=str(shots / "portal-backoffice-application-en.png"), full_page=True)
        office.get_by_label("Reason or note (required for a rejection)").fill(
            "令和8年5月分から支給します。"
        )
        office.get_by_role("button", name="Decide and notify").click()
        office.wait_for_load_state()
        assert "the applicant was sent a notice" in office.inner_text("main")
        office.goto(f"{url}/backoffice/{FAMILY_TO}/applications")
        _no_violations(office)
        office.screenshot(path=str(shots / "portal-backoffice-applications-en.png"), full_page=True)

        # The notice arrives; its link leads to the claim's status.
        resident.goto(url + "/notices")
        resident.get_by_role("link", name="決定のお知らせ：児童手当 認定請求", exact=False).click()
        resident.wait_for_load_state()
        assert "令和8年5月分から支給します。" in resident.inner_text("main")
        _no_violations(resident)
        resident.get_by_role("link", name="申請の状況を見る").click()
        resident.wait_for_load_state()
        assert "決定（承認）" in resident.inner_text("main")
        assert reference in resident.inner_text("main")
    [application] = platform.portal.eapply.office.inbox(FAMILY_TO)
    assert application.status is ApplicationStatus.APPROVED
