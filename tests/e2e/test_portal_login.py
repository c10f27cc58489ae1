"""Login with the card in a real browser: the demo wallet, the QR code answered by
``openmyna card login`` in a subprocess while the page polls, and the security cases
(CSRF from another site, session fixation, an expired code, a certificate revoked between
two logins, the rate limit).

Screenshots go to ``tmp_path``, and to ``$OPENMYNA_SCREENSHOTS`` when it is set (the ones in
docs/images/portal-login-*.png were taken so).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser import browser, live_server, serious_violations
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.cards import issue_demo_cards
from openmyna.demo.seed import seed_demo
from openmyna.pki import CertKind
from openmyna.platform import Platform
from openmyna.portal.login.wallet import DemoCard
from openmyna.portal.sessions import COOKIE
from openmyna.web import create_app

OPENMYNA = shutil.which("openmyna", path=os.path.dirname(sys.executable)) or "openmyna"
LOGGED_IN = "マイナンバーカードでログインしています"
SHOTS = os.environ.get("OPENMYNA_SCREENSHOTS")


@dataclass
class Served:
    url: str
    platform: Platform
    clock: FixedClock
    cards: dict[str, DemoCard]
    cards_dir: Path


def _portal_settings(settings: Settings, **portal: Any) -> Settings:
    return settings.model_copy(update={"portal": settings.portal.model_copy(update=portal)})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo: a small town, its demo cards and the wallet, served on a free port."""
    settings = _portal_settings(
        Settings(data_dir=tmp_path_factory.mktemp("login")),
        demo_wallet=True,
        login_starts_per_minute=1000,
        login_answers_per_minute=1000,
    )
    clock = FixedClock(dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.UTC))
    platform = Platform(Builder(settings, clock))
    try:
        seed_demo(platform, 600, max_households=3)
        directory, cards, _ = issue_demo_cards(platform)
        with live_server(create_app(platform)) as url:
            yield Served(url, platform, clock, {c.role: c for c in cards}, directory)
    finally:
        platform.close()


def _shot(page: Any, tmp_path: Path, name: str, *, for_docs: bool = True) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if SHOTS and for_docs:
        page.screenshot(path=str(Path(SHOTS) / f"portal-login-{name}.png"), full_page=True)


def _wallet_login(page: Any, card: DemoCard, pin: str | None = None) -> None:
    """On the waiting page: the demo wallet, the card, its PIN."""
    page.get_by_role("link", name="デモ用ウォレットで読み取る").click()
    page.wait_for_load_state()
    page.get_by_label(card.label_ja).check()
    page.get_by_label("利用者証明用電子証明書の暗証番号").fill(pin or card.auth_pin)
    page.get_by_role("button", name="カードを読み取ってログイン").click()
    page.wait_for_load_state()


def _login_url(page: Any) -> str:
    return str(page.locator("#login-url").input_value())


def _card_login(served: Served, url: str, card: DemoCard) -> subprocess.CompletedProcess[str]:
    """``openmyna card login URL --reader FILE --pin-stdin`` as its holder runs it."""
    env = {**os.environ, "OPENMYNA_DATA_DIR": str(served.platform.settings.data_dir)}
    env.pop("OPENMYNA_DATABASE_URL", None)
    return subprocess.run(
        [
            OPENMYNA,
            "card",
            "login",
            url,
            "--reader",
            str(served.cards_dir / card.file),
            "--pin-stdin",
        ],
        input=card.auth_pin + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_login_page_and_the_wallet_in_japanese_and_english(
    served: Served, tmp_path: Path
) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.goto(served.url + "/login")
        assert page.locator("h1").inner_text() == "マイナンバーカードでログイン"
        assert page.locator("svg.qr-code").is_visible()
        assert _login_url(page).startswith(served.url + "/login/r/")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "ja")
        page.get_by_role("link", name="デモ用ウォレットで読み取る").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "デモ用ウォレット"
        assert page.get_by_label("ログインコード").input_value()  # filled in from the request
        assert serious_violations(page) == []
        _shot(page, tmp_path, "wallet-ja")
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Demo wallet"
        assert serious_violations(page) == []
        _shot(page, tmp_path, "wallet-en")
        page.goto(served.url + "/login")
        assert page.locator("h1").inner_text() == "Log in with your My Number Card"
        assert "Login code" in page.inner_text("main")
        assert serious_violations(page) == []
        _shot(page, tmp_path, "en")
        page.get_by_role("link", name="日本語").click()


def test_the_login_page_fits_a_phone(served: Served, tmp_path: Path) -> None:
    with browser() as b:
        page = b.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        page.goto(served.url + "/login")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        box = page.locator("svg.qr-code").bounding_box()
        assert box is not None
        assert box["width"] >= 150
        assert serious_violations(page) == []
        _shot(page, tmp_path, "phone")
        page.goto(served.url + "/wallet")
        assert page.evaluate("document.documentElement.scrollWidth") <= 376
        assert serious_violations(page) == []
        _shot(page, tmp_path, "wallet-phone", for_docs=False)


def test_wallet_login_goes_back_to_the_page_that_asked(served: Served) -> None:
    with browser() as b:
        page = b.new_page()
        page.goto(served.url + "/login?next=/platform")
        _wallet_login(page, served.cards["applicant"])
        page.wait_for_url(served.url + "/platform")
        page.goto(served.url + "/")
        assert LOGGED_IN in page.inner_text("main")
        page.get_by_role("button", name="ログアウト").click()
        page.wait_for_load_state()
        assert LOGGED_IN not in page.inner_text("main")


def test_a_wrong_pin_in_the_wallet_says_how_many_tries_are_left(served: Served) -> None:
    with browser() as b:
        page = b.new_page()
        page.goto(served.url + "/login")
        _wallet_login(page, served.cards["elderly"], pin="0000")
        assert page.get_by_role("alert").is_visible()
        assert "暗証番号が違います" in page.inner_text("main")
        assert "残り回数: 2" in page.inner_text("main")
        assert serious_violations(page) == []
        page.get_by_label(served.cards["elderly"].label_ja).check()
        page.get_by_label("利用者証明用電子証明書の暗証番号").fill(served.cards["elderly"].auth_pin)
        page.get_by_role("button", name="カードを読み取ってログイン").click()
        page.wait_for_url(served.url + "/")
        assert LOGGED_IN in page.inner_text("main")


def test_the_qr_login_completed_by_the_holders_app_while_the_page_polls(
    served: Served,
) -> None:
    with browser() as b:
        page = b.new_page()
        page.goto(served.url + "/login?next=/platform")
        url = _login_url(page)
        code = page.locator(".login-code").inner_text()
        done = _card_login(served, url, served.cards["spouse"])
        assert done.returncode == 0, done.stderr
        assert f"login request {code}" in done.stdout
        page.wait_for_url(served.url + "/platform", timeout=15_000)  # the page polled
        page.goto(served.url + "/")
        assert LOGGED_IN in page.inner_text("main")
        again = _card_login(served, url, served.cards["spouse"])  # the same request again
        assert again.returncode == 1
        assert "LOGIN_REQUEST_ANSWERED" in again.stderr


def test_a_form_posted_from_another_site_is_refused(served: Served) -> None:
    """CSRF: another site's page posts the wallet form to the portal."""

    async def evil(_request: Any) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><form method="post" action="{served.url}/wallet">'
            '<input name="code" value="ABCD-EFGH"><input name="card" value="applicant">'
            '<input name="pin" value="1234"><input name="csrf_token" value="guess">'
            '<button type="submit">win a prize</button></form>'
        )

    with live_server(Starlette(routes=[Route("/", evil)])) as elsewhere, browser() as b:  # type: ignore[arg-type]
        page = b.new_page()
        page.goto(served.url + "/wallet")  # the wallet's own cookie is set in this browser
        page.goto(elsewhere + "/")
        page.get_by_role("button", name="win a prize").click()
        page.wait_for_load_state()
        assert "CSRF_REFUSED" in page.inner_text("main")


def test_no_session_fixation_in_the_browser(served: Served) -> None:
    with browser() as b:
        context = b.new_context()
        context.add_cookies([{"name": COOKIE, "value": "chosen-by-an-attacker", "url": served.url}])
        page = context.new_page()
        page.goto(served.url + "/login")
        _wallet_login(page, served.cards["minor"])
        page.wait_for_url(served.url + "/")
        token = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
        assert token != "chosen-by-an-attacker"
        cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"


def test_an_expired_code_stops_the_polling_and_offers_a_new_one(served: Served) -> None:
    with browser() as b:
        page = b.new_page()
        page.goto(served.url + "/login")
        served.clock.advance(served.platform.settings.portal.login_request_ttl)
        page.get_by_text("ログインコードの有効期限が切れました").wait_for(timeout=10_000)
        assert serious_violations(page) == []
        page.get_by_role("link", name="新しいログインコードを表示する").click()
        page.wait_for_load_state()
        assert page.locator("svg.qr-code").is_visible()


def test_a_certificate_revoked_between_two_logins(served: Served) -> None:
    card = served.cards["staff"]
    with browser() as b:
        page = b.new_page()
        page.goto(served.url + "/login")
        _wallet_login(page, card)
        page.wait_for_url(served.url + "/")
        assert LOGGED_IN in page.inner_text("main")
        platform = served.platform
        resident = platform.cards.card(card.card_id).resident_code
        serial = next(
            r.serial for r in platform.jpki.certificates_of(resident) if r.kind is CertKind.AUTH
        )
        platform.jpki.revoke(serial)
        for _ in range(20):  # the platform's background loop follows the log (every second)
            page.wait_for_timeout(500)
            page.reload()
            if LOGGED_IN not in page.inner_text("main"):
                break
        assert LOGGED_IN not in page.inner_text("main")
        assert "セッションが終了しました" in page.inner_text("main")
        page.goto(served.url + "/login")
        _wallet_login(page, card)
        assert "失効しています" in page.inner_text("main")
        page.goto(served.url + "/")
        assert LOGGED_IN not in page.inner_text("main")


def test_too_many_login_requests_are_refused(tmp_path: Path) -> None:
    settings = _portal_settings(Settings(data_dir=tmp_path / "data"), login_starts_per_minute=2)
    platform = Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))
    try:
        with live_server(create_app(platform)) as url, browser() as b:
            page = b.new_page()
            for _ in range(2):
                page.goto(url + "/login")
                assert page.locator("svg.qr-code").is_visible()
            answer = page.goto(url + "/login")
            assert answer is not None
            assert answer.status == 429
            assert int(answer.headers["retry-after"]) >= 1
            assert "しばらくお待ちください" in page.inner_text("main")
            assert serious_violations(page) == []
    finally:
        platform.close()
