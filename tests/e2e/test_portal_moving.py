"""引越しワンストップ in a real browser, from both ends: the person fills the move-out
notice from the card and signs it in the demo wallet; a clerk of 前橋市 (A) records the
planned move-out; the person books a visit at 神戸市 (B); a clerk of B finishes the move-in;
the person sees the new address. Japanese and English; axe on every page."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, screenshots, serious_violations

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.clock import FixedClock
from openmyna.config import PortalSettings, Settings
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from backoffice_helpers import at_the_counter
from eapply_helpers import MOVE_OUT, demo_card
from moving_helpers import KOBE, NEW_ADDRESS, with_kobe
from portal_helpers import AUTH_PIN, MAEBASHI, SIGN_PASSWORD, Holder, authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    """The demo wallet on, a card holder of 前橋市 whose card is a demo card, 神戸市 too."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("moving"), portal=PortalSettings(demo_wallet=True)
    )
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    with_kobe(platform)
    who = holder(platform)
    demo_card(platform, who, "yamada-hanako", "山田 花子（申請者）")
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform, who
    finally:
        platform.close()


def _page(b: Any, url: str, platform: Platform, who: Holder) -> Any:
    result = authenticate(platform, who.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context.new_page()


def _clerk(platform: Platform, lg_code: str, family: str, given: str) -> Holder:
    clerk = holder(platform, family, given)
    account = platform.portal.accounts.for_login(authenticate(platform, clerk.card))
    platform.backoffice.staff.grant(lg_code, account.account_id, Role.CLERK, family, by=None)
    return clerk


def _clean(page: Any) -> None:
    found = serious_violations(page)
    assert found == [], found


def _wallet(page: Any, secret: str) -> None:
    page.get_by_role("link", name="デモ用ウォレット", exact=False).first.click()
    page.wait_for_load_state()
    page.get_by_label("山田 花子（申請者）").check()
    page.locator("#secret").fill(secret)
    page.get_by_role("button", name="送信する", exact=False).click()
    page.wait_for_load_state()
    page.get_by_role("link", name="申請の画面に戻る").click()
    page.wait_for_load_state()


def _english(page: Any, shots: Path, name: str) -> None:
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    _clean(page)
    page.screenshot(path=str(shots / f"{name}-en.png"), full_page=True)
    page.get_by_role("link", name="日本語").click()
    page.wait_for_load_state()


def test_the_moving_one_stop_from_both_ends(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, who = served
    shots = screenshots(tmp_path)
    clerk_a = _clerk(platform, MAEBASHI, "鈴木", "一郎")
    clerk_b = _clerk(platform, KOBE, "佐藤", "次郎")
    today = platform.clock.today()
    card_file = at_the_counter(platform, who, "yamada-hanako-kobe.card")
    with browser() as b:
        # The person: the move-out notice, filled from the card and signed.
        person = _page(b, url, platform, who)
        person.goto(f"{url}/services/{MOVE_OUT}")
        person.get_by_role("button", name="申請を始める").click()
        person.wait_for_load_state()
        person.get_by_label("上記の項目をカードから読み取り、入力することに同意します").check()
        person.get_by_role("button", name="カードから読み取る").click()
        person.wait_for_load_state()
        _wallet(person, AUTH_PIN)
        assert person.locator("#f-notifier-name").input_value() == "山田 花子"
        person.locator("#f-notifier-tel").fill("0272231111")
        person.locator("#f-move-planned_on").fill(today.isoformat())
        person.locator("#f-move-destination").select_option(KOBE)
        person.locator("#f-move-destination_address").fill(NEW_ADDRESS)
        person.locator("#f-movers-0-name").fill("山田 花子")
        person.locator("#f-movers-0-date_of_birth").fill("1985-02-03")
        person.locator("#f-movers-0-relationship").select_option("self")
        person.get_by_role("button", name="入力内容を確認する").click()
        person.wait_for_load_state()
        person.get_by_role("button", name="電子署名へ進む").click()
        person.wait_for_load_state()
        _wallet(person, SIGN_PASSWORD)
        assert "申請を受け付けました" in person.inner_text("main")
        person.goto(url + "/moving")
        assert "転出元の市区町村で確認中" in person.inner_text("main")
        _clean(person)

        # A's clerk: the notice waits on the moves page; review it, record the move-out.
        a = _page(b, url, platform, clerk_a)
        a.goto(url + "/backoffice")
        a.get_by_role("link", name="引越しワンストップ").first.click()
        a.wait_for_load_state()
        [application] = platform.portal.eapply.office.inbox(MAEBASHI)
        a.get_by_role("link", name=application.reference).click()
        a.wait_for_load_state()
        main = a.inner_text("main")
        assert "山田 花子" in main
        assert "兵庫県神戸市" in main
        _clean(a)
        a.screenshot(path=str(shots / "portal-backoffice-move-notice-ja.png"), full_page=True)
        a.get_by_role("button", name="転出を記録して受理する").click()
        a.wait_for_load_state()
        assert "届出を受理しました" in a.inner_text("main")
        _clean(a)
        _english(a, shots, "portal-backoffice-move-notice")

        # The person: the notice arrived; book a visit at B.
        person.goto(url + "/notices")
        assert "転出届を受け付けました" in person.inner_text("main")
        person.goto(url + "/moving")
        person.get_by_role("link", name="転入先の来庁予約をする").click()
        person.wait_for_load_state()
        assert "兵庫県神戸市" in person.inner_text("main")
        _clean(person)
        person.screenshot(path=str(shots / "portal-moving-ja.png"), full_page=True)
        _english(person, shots, "portal-moving")
        assert person.locator("#slot-1").is_disabled()  # 08:30 is past at 09:00
        phone = person.context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(person.url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
        _clean(phone)
        phone.close()
        person.get_by_label("10:00〜10:30").check()
        person.get_by_role("button", name="この時間帯で予約する").click()
        person.wait_for_load_state()
        main = person.inner_text("main")
        assert "来庁予約をしました" in main
        assert "10:00〜10:30" in main
        _clean(person)

        # B's clerk: the planned move-in with its visit; finish the move-in.
        bb = _page(b, url, platform, clerk_b)
        bb.goto(url + "/backoffice/moves")
        main = bb.inner_text("main")
        assert "山田 花子" in main
        assert "10:00〜10:30" in main
        _clean(bb)
        bb.screenshot(path=str(shots / "portal-backoffice-moves-ja.png"), full_page=True)
        _english(bb, shots, "portal-backoffice-moves")
        bb.get_by_role("link", name="山田 花子").click()
        bb.wait_for_load_state()
        assert bb.locator("#arrival-address").input_value() == NEW_ADDRESS
        _clean(bb)
        bb.screenshot(path=str(shots / "portal-backoffice-move-arrival-ja.png"), full_page=True)
        _english(bb, shots, "portal-backoffice-move-arrival")
        bb.locator("#arrival-doc-a").select_option("マイナンバーカード")
        bb.get_by_role("button", name="転入を登録する").click()
        bb.wait_for_load_state()
        main = bb.inner_text("main")
        assert NEW_ADDRESS in main
        _clean(bb)
        # The card's update at B's card counter (券面記載事項変更), the holder's card read there.
        assert bb.locator("#card-update").get_attribute("open") is not None
        assert bb.locator("#update-file").input_value() == "demo-cards/yamada-hanako-kobe.card"
        bb.get_by_label("本人が入力する暗証番号（券面事項入力補助用、数字4桁）").fill(AUTH_PIN)
        bb.locator("#update-sign").fill("NEWPASS123")
        bb.locator("#update-doc-a").select_option("マイナンバーカード")
        bb.get_by_role("button", name="カードを更新する").click()
        bb.wait_for_load_state()
        assert bb.get_by_role("heading", name="カードを更新しました").is_visible()
        _clean(bb)

        # The person sees the move done and the new address.
        person.goto(url + "/moving")
        main = person.inner_text("main")
        assert "転入済み" in main
        assert NEW_ADDRESS in main
        _clean(person)
    arrived = platform.registries.municipality(KOBE).get(who.resident.resident_code)
    assert arrived.is_current
    assert arrived.address == NEW_ADDRESS
    with CardFile.open(card_file, settings=platform.settings) as f:
        chip = CardClient(MemoryTransport(f.card)).read_text_data(AUTH_PIN)
        assert chip.items.address == NEW_ADDRESS
