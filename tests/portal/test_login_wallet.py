"""The demo wallet (``/wallet``): only while the demo runs; the same card code and endpoint."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from login_helpers import ORIGIN, demo_cards, poll, served, start, with_portal
from portal_helpers import AUTH_PIN, holder

from openmyna.card import CardClient, CardFile, MemoryTransport, PinRef
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.login.wallet import cards_dir
from openmyna.portal.sessions import COOKIE

LOGGED_IN = "マイナンバーカードでログインしています"


@pytest.fixture
def demo(settings: Settings, clock: FixedClock) -> Iterator[tuple[Platform, TestClient]]:
    with served(with_portal(settings, demo_wallet=True), clock) as (platform, client):
        demo_cards(platform, {"hanako": holder(platform), "ken": holder(platform, "佐藤", "健")})
        yield platform, client


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _code(platform: Platform, request_id: str) -> str:
    return platform.portal.logins.get(request_id).display_code


def test_no_wallet_outside_the_demo(client: TestClient) -> None:
    assert client.get("/wallet").status_code == 404
    assert client.post("/wallet", data={"code": "x"}).status_code == 404
    request_id = start(client)
    assert "/wallet" not in client.get(f"/login/wait/{request_id}").text


def test_the_wallet_logs_this_browser_in(demo: tuple[Platform, TestClient]) -> None:
    platform, client = demo
    request_id = start(client, "/records")
    waiting = client.get(f"/login/wait/{request_id}").text
    assert f'href="/wallet?request={request_id}"' in waiting
    page = client.get("/wallet", params={"request": request_id})
    assert page.status_code == 200
    assert "山田 花子（デモ）" in page.text
    assert f'value="{_code(platform, request_id)}"' in page.text  # the code, filled in
    done = client.post(
        "/wallet",
        data={
            "code": _code(platform, request_id),
            "card": "hanako",
            "pin": AUTH_PIN,
            "csrf_token": _token(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/login/answered/{request_id}"
    went = client.get(done.headers["location"], follow_redirects=False)
    assert went.headers["location"] == f"/login/wait/{request_id}"
    went = client.get(went.headers["location"], follow_redirects=False)
    assert went.headers["location"] == "/records"
    assert LOGGED_IN in client.get("/").text
    account = platform.portal.sessions.current(client.cookies[COOKIE]).account_id
    assert "login" in [h.action for h in platform.portal.accounts.history(account)]


def test_the_wallet_on_another_device_logs_the_waiting_browser_in(
    demo: tuple[Platform, TestClient],
) -> None:
    platform, client = demo
    request_id = start(client)
    phone = TestClient(client.app, base_url=ORIGIN)
    page = phone.get("/wallet")
    done = phone.post(
        "/wallet",
        data={
            "code": _code(platform, request_id).lower(),
            "card": "ken",
            "pin": AUTH_PIN,
            "csrf_token": _token(page.text),
        },
    )
    assert done.status_code == 200
    assert "カードを読み取りました" in done.text
    assert COOKIE not in phone.cookies
    assert poll(client, request_id).headers["HX-Redirect"] == "/"
    assert LOGGED_IN in client.get("/").text


def test_a_wrong_pin_is_counted_by_the_card_itself(demo: tuple[Platform, TestClient]) -> None:
    platform, client = demo
    request_id = start(client)
    page = client.get("/wallet")
    form = {
        "code": _code(platform, request_id),
        "card": "hanako",
        "pin": "9999",
        "csrf_token": _token(page.text),
    }
    wrong = client.post("/wallet", data=form)
    assert wrong.status_code == 400
    assert "暗証番号が違います" in wrong.text
    assert re.search(r"残り回数: 2", wrong.text)
    path = cards_dir(platform.settings) / "hanako.card"
    with CardFile.open(path, settings=platform.settings) as opened:
        assert CardClient(MemoryTransport(opened.card)).tries_left(PinRef.AUTH) == 2
    client.post("/wallet", data=form)
    locked = client.post("/wallet", data=form)
    assert "PIN_LOCKED" in locked.text
    right = client.post("/wallet", data=form | {"pin": AUTH_PIN})
    assert "PIN_LOCKED" in right.text  # locked for good: the counter resets it
    assert poll(client, request_id).status_code == 204  # the request is still waiting


def test_the_wallet_form_needs_its_token_and_this_site(demo: tuple[Platform, TestClient]) -> None:
    platform, client = demo
    request_id = start(client)
    token = _token(client.get("/wallet").text)
    form = {"code": _code(platform, request_id), "card": "hanako", "pin": AUTH_PIN}
    assert client.post("/wallet", data=form).status_code == 403
    for forged in ("forged", "é", token + "x"):
        assert client.post("/wallet", data=form | {"csrf_token": forged}).status_code == 403
    cross = client.post(
        "/wallet",
        data=form | {"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert "CSRF_REFUSED" in cross.text
    assert poll(client, request_id).status_code == 204


def test_what_is_typed_comes_back_escaped(demo: tuple[Platform, TestClient]) -> None:
    _, client = demo
    token = _token(client.get("/wallet").text)
    typed = '"><script>alert(1)</script>'
    page = client.post(
        "/wallet", data={"code": typed, "card": "hanako", "pin": AUTH_PIN, "csrf_token": token}
    )
    assert page.status_code == 400
    assert "LOGIN_REQUEST_NOT_FOUND" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&#34;&gt;&lt;script&gt;" in page.text
    unknown = client.post(
        "/wallet", data={"code": "ABCD", "card": "nobody", "pin": AUTH_PIN, "csrf_token": token}
    )
    assert "LOGIN_REQUEST_NOT_FOUND" in unknown.text or "DEMO_CARD_NOT_FOUND" in unknown.text
