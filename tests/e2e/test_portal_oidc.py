"""The OIDC consent screen in a real browser: what goes to whom, the signature step, then
the way back to the business with the code; in Japanese and in English; axe finds nothing
serious. Screenshots go to ``tmp_path`` and, with ``$OPENMYNA_SCREENSHOTS``, to the docs."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from browser import browser, live_server, serious_violations

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
sys.path.insert(0, str(Path(__file__).parents[1] / "identity"))

from oidc_helpers import pkce, sign_consent
from portal_helpers import Holder, authenticate, holder

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

SHOTS = os.environ.get("OPENMYNA_SCREENSHOTS")
SCOPE = "openid name address birthdate gender"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform, Holder]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("oidc-pages"))
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        person = holder(platform)
        with live_server(create_app(platform)) as url:
            yield url, platform, person
    finally:
        platform.close()


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"portal-{name}.png"), full_page=True)


def _logged_in(platform: Platform, person: Holder, url: str) -> dict[str, str]:
    result = authenticate(platform, person.card)
    account = platform.portal.accounts.for_login(result)
    token, _ = platform.portal.sessions.create(account.account_id, result.subject_id)
    return {"name": COOKIE, "value": token, "url": url}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_consent_screen_signs_then_returns_the_code(
    served: tuple[str, Platform, Holder], tmp_path: Path, language: str
) -> None:
    url, platform, person = served
    callback = url + "/rp/callback"
    client, secret = platform.oidc.clients.add(
        f"デモ銀行 {language}",
        [callback],
        scopes=SCOPE.split(),
        auth_method="client_secret_basic",
        contact="0120-000-000",
    )
    assert secret
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": callback,
        "scope": SCOPE,
        "state": "st-" + language,
        "nonce": "n-" + language,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with browser() as b:
        context = b.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([_logged_in(platform, person, url)])
        page = context.new_page()
        if language == "en":
            page.goto(url + "/lang/en?next=/")
        page.goto(url + "/oidc/authorize?" + urlencode(params))
        assert "/oidc/consent/" in page.url
        main = page.inner_text("main")
        assert f"デモ銀行 {language}" in main
        assert ("氏名" if language == "ja" else "Name") in main
        assert serious_violations(page) == []
        agree = page.get_by_role(
            "button", name="同意して提供する" if language == "ja" else "Agree and provide"
        )
        assert agree.is_disabled()
        _shot(page, tmp_path, f"oidc-consent-{language}")
        page.get_by_role(
            "button", name="カードで署名する" if language == "ja" else "Sign with the card"
        ).click()
        page.wait_for_load_state()
        card_url = page.locator("code.block").inner_text().split()[3]
        with httpx2.Client() as phone:
            task = phone.get(card_url).json()
            signed = phone.post(
                card_url, json={"cms": sign_consent(person.card, task, platform.clock.now())}
            )
            assert signed.status_code == 200, signed.text
        page.get_by_role(
            "link", name="署名を確認する" if language == "ja" else "Check the signature"
        ).click()
        page.wait_for_load_state()
        assert person.resident.date_of_birth.isoformat() in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, f"oidc-consent-signed-{language}")
        with page.expect_navigation():
            agree.click()
        back = urlsplit(page.url)
        assert f"{back.scheme}://{back.netloc}{back.path}" == callback
        answer = parse_qs(back.query)
        assert answer["state"] == ["st-" + language]
        assert answer["code"][0]


def test_the_clients_page_for_administrators(
    served: tuple[str, Platform, Holder], tmp_path: Path
) -> None:
    url, platform, person = served
    cookie = _logged_in(platform, person, url)
    account = platform.portal.sessions.current(cookie["value"]).account_id
    platform.backoffice.staff.grant("102016", account, Role.ADMINISTRATOR, "管理者", by=None)
    with browser() as b:
        context = b.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([cookie])
        page = context.new_page()
        page.goto(url + "/oidc/clients")
        page.get_by_label("事業者名").fill("デモ証券")
        page.get_by_label("戻り先URL（1行に1つ、完全一致）").fill("https://sec.example/cb")
        page.get_by_label("氏名 (name)").check()
        with page.expect_navigation():
            page.get_by_role("button", name="この事業者を登録する").click()
        assert "client_secret" in page.inner_text("main")
        assert serious_violations(page) == []
        page.goto(url + "/oidc/clients")
        assert "デモ証券" in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "oidc-clients-ja")
        page.goto(url + "/lang/en?next=/oidc/clients")
        assert "Linked businesses" in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "oidc-clients-en")
