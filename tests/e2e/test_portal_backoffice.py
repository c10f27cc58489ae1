"""The back office in a real browser: a clerk logs in, finds a resident, registers a move
within the municipality and updates the resident's card at the counter; English; a phone."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, serious_violations

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertStatus
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from backoffice_helpers import at_the_counter
from portal_helpers import AUTH_PIN, MAEBASHI, authenticate, holder

NEW_ADDRESS = "群馬県前橋市千代田町二丁目12番1号"
#: Where to keep the screenshots (docs/images takes the main ones); a temporary dir if unset.
SHOTS = os.environ.get("OPENMYNA_SCREENSHOTS")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform]]:
    """A platform with a clerk of 前橋市 and a card holder, served on a free port."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("backoffice"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        with live_server(create_app(platform)) as url:
            yield url, platform
    finally:
        platform.close()


def _clerk_cookie(platform: Platform, url: str) -> dict[str, str]:
    clerk = holder(platform, "鈴木", "一郎")
    result = authenticate(platform, clerk.card)
    account = platform.portal.accounts.for_login(result)
    platform.backoffice.staff.grant(MAEBASHI, account.account_id, Role.CLERK, "鈴木 一郎", by=None)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    return {"name": COOKIE, "value": token, "url": url}


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"portal-backoffice-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def test_a_clerk_finds_a_resident_registers_a_move_and_updates_the_card(
    served: tuple[str, Platform], tmp_path: Path
) -> None:
    url, platform = served
    person = holder(platform, "山田", "花子")
    card_file = at_the_counter(platform, person, "yamada-hanako.card")
    before = platform.cards.valid_card(person.resident.resident_code)
    assert before is not None
    assert before.sign_cert_serial is not None
    with browser() as b:
        context = b.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([_clerk_cookie(platform, url)])
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_role("link", name="職員業務").first.click()
        page.wait_for_load_state()
        assert serious_violations(page) == []
        _shot(page, tmp_path, "home-ja")
        page.get_by_role("link", name="群馬県前橋市").click()
        page.get_by_label("氏名（一部でも可）").fill("山田")
        page.get_by_role("button", name="検索する").click()
        page.wait_for_load_state()
        results = page.inner_text("main")
        assert f"**** **** {person.resident.individual_number[-4:]}" in results
        assert person.resident.individual_number not in page.content()
        assert serious_violations(page) == []
        _shot(page, tmp_path, "search-ja")
        page.get_by_role("link", name="山田 花子").click()
        page.wait_for_load_state()
        assert person.resident.resident_code not in page.url
        page.get_by_text("転居届（市区町村内の引越し）").click()
        page.get_by_label("新しい住所").fill(NEW_ADDRESS)
        page.locator("#within-doc-a").select_option("運転免許証")
        page.get_by_role("button", name="転居を登録する").click()
        page.wait_for_load_state()
        assert "転居を登録しました" in page.inner_text("main")
        assert page.locator("#card-update").get_attribute("open") is not None
        assert page.locator("#update-file").input_value() == "demo-cards/yamada-hanako.card"
        assert serious_violations(page) == []
        _shot(page, tmp_path, "resident-ja")
        page.get_by_label("本人が入力する暗証番号（券面事項入力補助用、数字4桁）").fill(AUTH_PIN)
        page.locator("#update-sign").fill("NEWPASS123")
        page.locator("#update-doc-a").select_option("運転免許証")
        page.get_by_role("button", name="カードを更新する").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="カードを更新しました").is_visible()
        assert before.sign_cert_serial in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "updated-ja")

        page.get_by_role("link", name="English").click()  # back to the resident's page
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert "Resident record" in page.inner_text("main")
        assert NEW_ADDRESS in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "resident-en")

        phone = context.new_page()
        phone.set_viewport_size({"width": 375, "height": 740})
        phone.goto(page.url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 376
        assert serious_violations(phone) == []
        _shot(phone, tmp_path, "resident-phone")
    with CardFile.open(card_file, settings=platform.settings) as f:
        chip = CardClient(MemoryTransport(f.card)).read_text_data(AUTH_PIN)
        assert chip.items.address == NEW_ADDRESS
    platform.sync_once()
    assert platform.jpki.record(int(before.sign_cert_serial, 16)).status is CertStatus.REVOKED
