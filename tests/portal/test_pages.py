"""The portal's pages over HTTP: home, language switch, logout with CSRF, errors, headers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_helpers import holder, login

from openmyna.platform import Platform
from openmyna.portal.pages import SECURITY_HEADERS
from openmyna.portal.sessions import COOKIE


def test_the_home_page_is_japanese_first_and_offers_the_card_login(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text
    assert "マイナンバーカードでログイン" in page.text
    assert 'href="/login"' in page.text
    assert "公式のマイナポータルではありません" in page.text
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value


def test_the_language_switch_sets_english_and_goes_back_only_to_this_site(
    client: TestClient,
) -> None:
    went = client.get("/lang/en", params={"next": "/?x=1"}, follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"] == "/?x=1"
    page = client.get("/")
    assert '<html lang="en">' in page.text
    assert "Log in with your My Number Card" in page.text
    assert "マイナンバーカードでログイン" not in page.text
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        went = client.get("/lang/ja", params={"next": elsewhere}, follow_redirects=False)
        assert went.headers["location"] == "/", elsewhere
    refused = client.get("/lang/fr")
    assert refused.status_code == 400
    assert "UNKNOWN_LANGUAGE" in refused.text


def test_the_menu_lists_only_pages_that_exist(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform).card)
    page = client.get("/")
    assert "マイナンバーカードでログインしています" in page.text
    served = {getattr(r, "path", "") for r in client.app.routes}  # type: ignore[attr-defined]
    for href in ("/records", "/notices", "/account"):
        assert (f'href="{href}"' in page.text) == (href in served)


def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: TestClient, platform: Platform
) -> None:
    login(platform, client, holder(platform).card)
    home = client.get("/")
    csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post("/logout", data={})
    assert refused.status_code == 403
    assert "CSRF_REFUSED" in refused.text
    cross = client.post(
        "/logout", data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert "ログアウト" in client.get("/").text  # still logged in
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    cleared = out.headers["set-cookie"]
    assert cleared.startswith(f'{COOKIE}=""')
    assert "Max-Age=0" in cleared
    page = client.get("/")  # the old cookie is still sent: the server ended its session
    assert "マイナンバーカードでログイン" in page.text


def test_an_ended_session_says_so_once_and_logs_out(client: TestClient, platform: Platform) -> None:
    account = login(platform, client, holder(platform).card)
    [live] = platform.portal.sessions.live(account.account_id)
    platform.portal.sessions.end(live.session_id)
    page = client.get("/")
    assert "セッションが終了しました" in page.text
    assert "マイナンバーカードでログイン" in page.text
