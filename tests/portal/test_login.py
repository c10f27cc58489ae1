"""The card login over HTTP (P1): the request, the card's answer, the browser's session.

Both storage backends (the ``settings`` fixture). The browser is a ``TestClient`` with its own
cookies; the holder's app is another client, which has none of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from fastapi.testclient import TestClient
from login_helpers import HOST, ORIGIN, b64, card_login, challenge, poll, post, sign, start
from portal_helpers import holder
from sqlalchemy import select

from openmyna.card.login import login_message
from openmyna.clock import FixedClock
from openmyna.platform import Platform
from openmyna.portal.sessions import COOKIE
from openmyna.portal.tables import login_requests


def _phone(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url=ORIGIN)


def test_the_login_page_shows_a_qr_code_a_short_code_and_the_url(client: TestClient) -> None:
    went = client.get("/login", params={"next": "/records"}, follow_redirects=False)
    assert went.status_code == 303
    request_id = went.headers["location"].rsplit("/", 1)[-1]
    cookie = went.headers["set-cookie"]
    assert cookie.startswith(f"omyna_login_{request_id}=")
    assert "HttpOnly" in cookie
    assert "Path=/login" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP to 127.0.0.1
    page = client.get(went.headers["location"])
    assert page.status_code == 200
    html = page.text
    assert '<svg viewBox="0 0 ' in html
    assert 'class="qr-code"' in html
    assert f'value="{ORIGIN}/login/r/{request_id}"' in html
    assert re.search(r'class="login-code" lang="en">[2-9A-Z]{4}-[2-9A-Z]{4}<', html)
    assert f'hx-get="/login/wait/{request_id}/status"' in html
    assert 'hx-trigger="every 2s"' in html
    assert "/wallet" not in html  # no demo wallet outside the demo
    nonce = challenge(_phone(client), request_id).nonce
    assert nonce not in html  # the challenge is for the card, not the page
    assert poll(client, request_id).status_code == 204  # waiting


def test_the_card_logs_the_waiting_browser_in_with_a_new_session(
    client: TestClient, platform: Platform
) -> None:
    request_id = start(client, "/records")
    phone = _phone(client)
    found = challenge(phone, request_id)
    assert found.short_code.count("-") == 1
    answered = post(phone, request_id, sign(holder(platform).card, found))
    assert answered.status_code == 200
    assert answered.json() == {"status": "answered", "short_code": found.short_code}
    assert COOKIE not in phone.cookies  # the phone gets no session
    done = poll(client, request_id)
    assert done.status_code == 200
    assert done.headers["HX-Redirect"] == "/records"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    token = client.cookies[COOKIE]
    session = platform.portal.sessions.current(token)
    history = platform.portal.accounts.history(session.account_id)
    assert sorted(h.action for h in history) == ["certificate_linked", "login"]
    assert [h.session_id for h in history if h.action == "login"] == [session.session_id]
    home = client.get("/")
    assert "マイナンバーカードでログインしています" in home.text
    again = poll(client, request_id)  # a late second poll: no second session
    assert again.headers["HX-Redirect"] == "/records"
    assert COOKIE not in "".join(again.headers.get_list("set-cookie"))
    assert len(platform.portal.sessions.live(session.account_id)) == 1


def test_only_the_browser_that_asked_collects_the_session(
    client: TestClient, platform: Platform
) -> None:
    request_id = start(client)
    phone = _phone(client)
    post(phone, request_id, sign(holder(platform).card, challenge(phone, request_id)))
    other = _phone(client)  # another browser with the request's URL, but not its cookie
    for attempt in (None, "forged-secret"):
        if attempt is not None:
            other.cookies.set(f"omyna_login_{request_id}", attempt)
        stolen = poll(other, request_id)
        assert stolen.headers["HX-Redirect"] == "/login"
        assert COOKIE not in other.cookies
        page = other.get(f"/login/wait/{request_id}", follow_redirects=False)
        assert page.headers["location"] == "/login"
    assert poll(client, request_id).headers["HX-Redirect"] == "/"
    assert COOKIE in client.cookies


def test_no_session_fixation_the_token_is_issued_at_the_login(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    client.cookies.set(COOKIE, "a-token-the-attacker-chose", domain=HOST)
    card_login(client, person.card)
    token = client.cookies[COOKIE]
    assert token != "a-token-the-attacker-chose"
    attacker = _phone(client)
    attacker.cookies.set(COOKIE, "a-token-the-attacker-chose")
    assert "マイナンバーカードでログインしています" not in attacker.get("/").text
    # Logging in again in the same browser replaces the session: the old one ends.
    old = platform.portal.sessions.current(token)
    client.cookies.delete(COOKIE)
    request_id = start(client)
    client.cookies.set(COOKIE, token, domain=HOST)
    phone = _phone(client)
    post(phone, request_id, sign(person.card, challenge(phone, request_id)))
    poll(client, request_id)
    assert client.cookies[COOKIE] != token
    live = platform.portal.sessions.live(old.account_id)
    assert [x.session_id for x in live] == [
        platform.portal.sessions.current(client.cookies[COOKIE]).session_id
    ]


def test_a_replayed_answer_and_a_second_answer_are_refused(
    client: TestClient, platform: Platform
) -> None:
    person, other = holder(platform), holder(platform, "佐藤", "健")
    request_id = start(client)
    phone = _phone(client)
    found = challenge(phone, request_id)
    answer = sign(person.card, found)
    assert post(phone, request_id, answer).status_code == 200
    replay = post(phone, request_id, answer)
    assert replay.status_code == 409
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["title"] == "LOGIN_REQUEST_ANSWERED"
    second = post(phone, request_id, sign(other.card, found))
    assert second.json()["title"] == "LOGIN_REQUEST_ANSWERED"
    assert challenge_status(phone, request_id) == (409, "LOGIN_REQUEST_ANSWERED")
    poll(client, request_id)
    session = platform.portal.sessions.current(client.cookies[COOKIE])
    assert session.subject_id == platform.portal.accounts.subjects(session.account_id)[0]


def challenge_status(app: TestClient, request_id: str) -> tuple[int, str]:
    got = app.get(f"/login/r/{request_id}", headers={"Accept": "application/json"})
    return got.status_code, got.json().get("title", "")


def test_a_signature_over_another_challenge_is_refused(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    phone = _phone(client)
    first, second = start(client), start(client)
    over_first = sign(person.card, challenge(phone, first))
    refused = post(phone, second, over_first)  # a replay onto another request
    assert refused.status_code == 401
    assert refused.json()["title"] == "BAD_CHALLENGE_SIGNATURE"
    found = challenge(phone, second)
    elsewhere = found.__class__(
        url=found.url,
        origin="https://look-alike.example",  # what a relaying site's visitor's app signs
        request_id=found.request_id,
        nonce=found.nonce,
        short_code=found.short_code,
        expires_at=found.expires_at,
    )
    refused = post(phone, second, sign(person.card, elsewhere))
    assert refused.json()["title"] == "BAD_CHALLENGE_SIGNATURE"
    # Someone else's certificate with one's own signature: refused too.
    other = holder(platform, "佐藤", "健")
    mine = sign(person.card, found)
    theirs = sign(other.card, found)
    mixed = {"certificate": b64(theirs.certificate), "signature": b64(mine.signature)}
    assert post(phone, second, mixed).json()["title"] == "BAD_CHALLENGE_SIGNATURE"
    assert post(phone, second, mine).status_code == 200  # the request is still open


def test_an_expired_request_is_refused_everywhere(
    client: TestClient, platform: Platform, clock: FixedClock
) -> None:
    person = holder(platform)
    request_id = start(client)
    phone = _phone(client)
    answer = sign(person.card, challenge(phone, request_id))
    clock.advance(platform.settings.portal.login_request_ttl)
    assert challenge_status(phone, request_id) == (410, "LOGIN_REQUEST_EXPIRED")
    late = post(phone, request_id, answer)
    assert late.status_code == 410
    assert late.json()["title"] == "LOGIN_REQUEST_EXPIRED"
    stopped = poll(client, request_id)
    assert stopped.status_code == 286  # htmx: stop polling
    assert "有効期限が切れました" in stopped.text
    assert 'href="/login"' in client.get(f"/login/wait/{request_id}").text
    assert COOKIE not in client.cookies


def test_an_answer_not_collected_in_time_gives_no_session(
    client: TestClient, platform: Platform, clock: FixedClock
) -> None:
    request_id = start(client)
    phone = _phone(client)
    post(phone, request_id, sign(holder(platform).card, challenge(phone, request_id)))
    clock.advance(dt.timedelta(minutes=3))
    assert poll(client, request_id).status_code == 286
    assert COOKIE not in client.cookies


def test_unknown_and_malformed_requests_and_answers(client: TestClient, platform: Platform) -> None:
    phone = _phone(client)
    for unknown in ("0" * 32, "not-a-request", "A" * 32):
        assert challenge_status(phone, unknown) == (404, "LOGIN_REQUEST_NOT_FOUND")
        got = post(phone, unknown, {"certificate": "AA==", "signature": "AA=="})
        assert got.json()["title"] == "LOGIN_REQUEST_NOT_FOUND"
    request_id = start(client)
    for body in (b"not json", b"{}", b'{"certificate": "***", "signature": "AA=="}', b"[]"):
        got = phone.post(
            f"/login/r/{request_id}", content=body, headers={"Content-Type": "application/json"}
        )
        assert got.status_code == 400, body
        assert got.json()["title"] == "LOGIN_ANSWER_MALFORMED"
    huge = phone.post(f"/login/r/{request_id}", content=b"x" * 100_000)
    assert huge.json()["title"] == "LOGIN_ANSWER_MALFORMED"
    garbage = post(phone, request_id, {"certificate": b64(b"garbage"), "signature": b64(b"s")})
    assert garbage.status_code == 401
    assert garbage.json()["title"] == "CERT_MALFORMED"


def test_too_many_answers_close_the_request(client: TestClient, platform: Platform) -> None:
    person = holder(platform)
    request_id = start(client)
    phone = _phone(client)
    found = challenge(phone, request_id)
    good = sign(person.card, found)
    bad = {"certificate": b64(good.certificate), "signature": b64(b"\x00" * 256)}
    limit = platform.settings.portal.login_answer_attempts
    for _ in range(limit):
        assert post(phone, request_id, bad).json()["title"] == "BAD_CHALLENGE_SIGNATURE"
    closed = post(phone, request_id, good)
    assert closed.status_code == 409
    assert closed.json()["title"] == "LOGIN_REQUEST_FAILED"
    assert closed.json()["reason"] == "LOGIN_TOO_MANY_ANSWERS"
    stopped = poll(client, request_id)
    assert stopped.status_code == 286
    assert "LOGIN_TOO_MANY_ANSWERS" in stopped.text


def test_the_short_code_finds_the_open_request(client: TestClient, platform: Platform) -> None:
    request_id = start(client)
    phone = _phone(client)
    found = challenge(phone, request_id)
    typed = found.short_code.lower().replace("-", " ")
    got = phone.get(f"/login/code/{typed}")
    assert got.status_code == 200
    assert got.json()["request_id"] == request_id
    assert phone.get("/login/code/ZZZZ-ZZZZ").json()["title"] == "LOGIN_REQUEST_NOT_FOUND"
    post(phone, request_id, sign(holder(platform).card, found))
    assert phone.get(f"/login/code/{typed}").status_code == 404  # answered: no longer open


def test_the_request_url_in_a_browser_says_to_use_the_app(client: TestClient) -> None:
    request_id = start(client)
    phone = _phone(client)
    page = phone.get(f"/login/r/{request_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    assert "アプリで開きます" in page.text
    assert f"openmyna card login {ORIGIN}/login/r/{request_id}" in page.text
    assert challenge(phone, request_id).nonce not in page.text
    gone = phone.get("/login/r/" + "0" * 32, headers={"Accept": "text/html"})
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("text/html")


def test_next_is_a_path_on_this_site_only(client: TestClient, platform: Platform) -> None:
    person = holder(platform)
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/login/wait/x"):
        done = card_login(client, person.card, elsewhere)
        assert done.headers["HX-Redirect"] == "/", elsewhere
        client.cookies.delete(COOKIE)
    logged_in = client.get("/login", params={"next": "/records"}, follow_redirects=False)
    assert logged_in.headers["location"].startswith("/login/wait/")
    card_login(client, person.card)
    again = client.get("/login", params={"next": "/records"}, follow_redirects=False)
    assert again.headers["location"] == "/records"  # logged in already


def test_the_individual_number_is_in_no_answer_and_no_log(
    client: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = holder(platform)
    number = person.resident.individual_number
    request_id = start(client)
    phone = _phone(client)
    bodies = [client.get(f"/login/wait/{request_id}").text]
    got = phone.get(f"/login/r/{request_id}", headers={"Accept": "application/json"})
    bodies.append(got.text)
    bodies.append(post(phone, request_id, sign(person.card, challenge(phone, request_id))).text)
    bodies.append(poll(client, request_id).text)
    bodies.append(client.get("/").text)
    for body in bodies:
        assert number not in body
    assert number not in caplog.text
    with platform.portal.store.transaction() as s:
        rows = s.execute(select(login_requests)).mappings().all()
    assert number not in repr([dict(r) for r in rows])


def test_the_signed_bytes_are_the_documented_ones() -> None:
    signed = login_message("http://127.0.0.1:8000", "0" * 32, "A" * 43)
    assert signed == (
        b"openmyna-card-login-v1\nhttp://127.0.0.1:8000\n" + b"0" * 32 + b"\n" + b"A" * 43
    )
