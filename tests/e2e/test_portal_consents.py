"""同意 (the latest-4-items service's consents) in a real browser: a business asks, the person
reviews the request, signs it with the card (the holder's app answers the one-time URL over
HTTP, as ``openmyna card sign-application`` does), sees the consent, and revokes it.

Screenshots (Japanese and English) are written to the test's folder; the ones in
docs/images/portal-consents-*.png were taken by this test.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from browser import browser, live_server, serious_violations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from consent_helpers import card_answer, register, sign_serial
from portal_helpers import Holder, authenticate, holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    """A platform with one card holder and a bank that asks for their consent, served."""
    folder = tmp_path_factory.mktemp("consents")
    clock = FixedClock(dt.datetime(2026, 6, 1, 1, 30, tzinfo=dt.UTC))
    platform = Platform(Builder(Settings(data_dir=folder / "data"), clock))
    try:
        person = holder(platform)
        bank = register(platform, "まえばし銀行", name_en="Maebashi Bank")
        platform.latest_items.consents.request(
            bank.business, certificate_serial=sign_serial(person.card), reference="acct-0042"
        )
        with live_server(create_app(platform)) as url:
            yield url, platform, person
    finally:
        platform.close()


def _logged_in(b: Any, url: str, platform: Platform, person: Holder) -> Any:
    result = authenticate(platform, person.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    context = b.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    return context


def test_sign_a_consent_see_it_and_revoke_it(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, person = served
    with browser() as b:
        context = _logged_in(b, url, platform, person)
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_role("link", name="同意").first.click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "同意"
        assert serious_violations(page) == []
        page.get_by_role("link", name="まえばし銀行").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "最新の4情報の提供への同意"
        assert "氏名、住所、生年月日、性別" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "portal-consents-request-ja.png"), full_page=True)
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Consent to the latest 4 items"
        assert "Name, Address, Date of birth, Sex" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "portal-consents-request-en.png"), full_page=True)
        page.get_by_role("link", name="日本語").click()
        page.wait_for_load_state()
        page.get_by_role("button", name="電子署名して同意する").click()
        page.wait_for_load_state()
        command = page.locator("code.block").inner_text()
        found = re.search(r"/consents/card/([A-Za-z0-9_-]+)", command)
        assert found, command
        assert serious_violations(page) == []
        # The holder's app, over HTTP to the running server.
        with httpx2.Client(base_url=url, trust_env=False) as app:
            done = card_answer(platform, app, found.group(1), person.card)  # type: ignore[arg-type]
        assert done.status_code == 200, done.text
        page.get_by_role("link", name="署名が済んだら確認する").click()
        page.wait_for_load_state()
        assert "この依頼には同意済みです。" in page.inner_text("main")
        page.get_by_role("link", name="同意の内容を見る").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "同意の内容"
        assert "同意中" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "portal-consents-consent-ja.png"), full_page=True)
        page.get_by_role("link", name="同意の一覧へ戻る").click()
        page.wait_for_load_state()
        assert "まえばし銀行" in page.locator(".consent-table").inner_text()
        page.screenshot(path=str(tmp_path / "portal-consents-ja.png"), full_page=True)
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Consents"
        assert "Maebashi Bank" in page.locator(".consent-table").inner_text()
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "portal-consents-en.png"), full_page=True)
        page.locator(".consent-table a").first.click()
        page.wait_for_load_state()
        page.get_by_role("button", name="Revoke the consent").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "The consent is revoked." in page.inner_text("main")
        assert "Revoked" in page.inner_text("main")
        assert serious_violations(page) == []
        page.screenshot(path=str(tmp_path / "portal-consents-consent-en.png"), full_page=True)
        context.close()
    consents = platform.latest_items.consents
    with platform.latest_items.store.transaction() as s:
        from sqlalchemy import select

        from openmyna.latest_items.tables import consent_log

        actions = [a for (a,) in s.execute(select(consent_log.c.action))]
    assert actions == ["requested", "granted", "revoked"]
    assert consents is not None
