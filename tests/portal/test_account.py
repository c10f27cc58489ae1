"""The account page: login history, the person's sessions (end one), the notices' language."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_helpers import holder, login

from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE


def _csrf(page_text: str) -> str:
    return page_text.split('name="csrf_token" value="')[1].split('"')[0]


def test_the_account_page_needs_a_login(client: TestClient) -> None:
    went = client.get("/account", follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"] == "/login?next=/account"


def test_the_page_lists_the_sessions_and_the_history(
    client: TestClient, platform: Platform
) -> None:
    card = holder(platform).card
    account = login(platform, client, card)
    other = TestClient(client.app, base_url="http://127.0.0.1")
    login(platform, other, card)
    page = client.get("/account")
    assert page.status_code == 200
    assert page.text.count('name="session_id"') == 2
    assert "このブラウザ" in page.text
    assert "電子証明書の登録" in page.text
    assert account.portal_code not in page.text


def test_a_person_ends_their_other_session_but_not_someone_elses(
    client: TestClient, platform: Platform
) -> None:
    card = holder(platform).card
    account = login(platform, client, card)
    elsewhere = TestClient(client.app, base_url="http://127.0.0.1")
    login(platform, elsewhere, card)
    stranger = TestClient(client.app, base_url="http://127.0.0.1")
    stranger_account = login(platform, stranger, holder(platform, "佐藤", "一郎").card)
    [theirs] = platform.portal.sessions.live(stranger_account.account_id)
    mine = {s.session_id for s in platform.portal.sessions.live(account.account_id)}
    csrf = _csrf(client.get("/account").text)
    current = client.cookies.get(COOKIE)

    refused = client.post(
        "/account/sessions/end", data={"session_id": theirs.session_id, "csrf_token": csrf}
    )
    assert refused.status_code == 200  # back to the account page; nothing ended
    assert len(platform.portal.sessions.live(stranger_account.account_id)) == 1

    other_id = next(s for s in mine if s != _current_id(platform, account.account_id, current))
    ended = client.post(
        "/account/sessions/end",
        data={"session_id": other_id, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert ended.headers["location"] == "/account"
    assert "セッションが終了しました" in elsewhere.get("/").text  # the other browser is out
    assert len(platform.portal.sessions.live(account.account_id)) == 1
    no_token = client.post("/account/sessions/end", data={"session_id": other_id})
    assert no_token.status_code == 403


def _current_id(platform: Platform, account_id: str, token: str | None) -> str:
    assert token is not None
    return platform.portal.sessions.current(token).session_id


def test_the_notices_language_is_saved(client: TestClient, platform: Platform) -> None:
    account = login(platform, client, holder(platform).card)
    csrf = _csrf(client.get("/account").text)
    client.post("/account/language", data={"language": "en", "csrf_token": csrf})
    assert platform.portal.accounts.get(account.account_id).language == "en"
    bad = client.post("/account/language", data={"language": "xx", "csrf_token": csrf})
    assert bad.status_code == 400
    assert platform.portal.accounts.get(account.account_id).language == "en"
