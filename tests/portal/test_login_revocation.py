"""A revoked or suspended certificate cannot log in, and it ends the sessions it had.

The platform's loop follows the JPKI revocation log (``Logins.follow_revocations`` from
``Platform.sync_once``); every answer follows it too, so a status cached as good before the
revocation never lets the certificate in.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from login_helpers import ORIGIN, card_login, challenge, poll, post, sign, start
from portal_helpers import holder
from sqlalchemy import select

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertKind, RevocationReason
from openmyna.platform import Platform
from openmyna.portal.login.service import REVOCATION_CURSOR
from openmyna.portal.sessions import COOKIE
from openmyna.portal.tables import cursors
from openmyna.web import create_app

ENDED = "セッションが終了しました"
LOGGED_IN = "マイナンバーカードでログインしています"


def _serial(platform: Platform, resident_code: str) -> int:
    return next(
        r.serial for r in platform.jpki.certificates_of(resident_code) if r.kind is CertKind.AUTH
    )


def test_a_certificate_revoked_between_two_logins(client: TestClient, platform: Platform) -> None:
    person = holder(platform)
    card_login(client, person.card)
    token = client.cookies[COOKIE]
    session = platform.portal.sessions.current(token)
    assert LOGGED_IN in client.get("/").text
    platform.jpki.revoke(
        _serial(platform, person.resident.resident_code), RevocationReason.KEY_COMPROMISE
    )
    platform.sync_once()  # the background loop's round
    page = client.get("/")
    assert LOGGED_IN not in page.text
    assert ENDED in page.text
    history = platform.portal.accounts.history(session.account_id)
    assert "session_ended" in [h.action for h in history]
    # The same card cannot log in again; the refusal is in the account's history.
    client.cookies.delete(COOKIE)
    request_id = start(client)
    phone = TestClient(client.app, base_url=ORIGIN)
    refused = post(phone, request_id, sign(person.card, challenge(phone, request_id)))
    assert refused.status_code == 401
    assert refused.json()["title"] == "CERT_REVOKED"
    stopped = poll(client, request_id)
    assert stopped.status_code == 286
    assert "失効しています" in stopped.text
    assert COOKIE not in client.cookies
    refusals = [
        h
        for h in platform.portal.accounts.history(session.account_id)
        if h.action == "login_refused"
    ]
    assert [h.detail for h in refusals] == ["CERT_REVOKED"]


def test_a_status_cached_as_good_does_not_let_a_revoked_certificate_in(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    card_login(client, person.card)  # the verifier now holds a fresh "good" for the card
    checker = platform.portal.logins.checker
    assert checker is not None
    serial = _serial(platform, person.resident.resident_code)
    issuer = platform.jpki.ca_certificate(CertKind.AUTH).subject.public_bytes()
    now = platform.clock.now()
    assert checker.cached(issuer, serial, now) is not None
    fetched = checker.fetches["ocsp"]
    platform.jpki.revoke(serial)  # no loop round yet
    phone = TestClient(client.app, base_url=ORIGIN)
    other = TestClient(client.app, base_url=ORIGIN)
    request_id = start(other)
    refused = post(phone, request_id, sign(person.card, challenge(phone, request_id)))
    assert refused.json()["title"] == "CERT_REVOKED"
    assert checker.fetches["ocsp"] == fetched + 1  # asked again, not taken from the cache
    # The session opened before is ended by the same step.
    assert LOGGED_IN not in client.get("/").text


def test_a_suspended_certificate_cannot_log_in_until_resumed(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    serial = _serial(platform, person.resident.resident_code)
    card_login(client, person.card)
    platform.jpki.suspend(serial)
    platform.sync_once()
    assert LOGGED_IN not in client.get("/").text
    client.cookies.delete(COOKIE)
    request_id = start(client)
    phone = TestClient(client.app, base_url=ORIGIN)
    refused = post(phone, request_id, sign(person.card, challenge(phone, request_id)))
    assert refused.json()["title"] == "CERT_SUSPENDED"
    platform.jpki.resume(serial)
    done = card_login(client, person.card)
    assert done.headers["HX-Redirect"] == "/"
    assert LOGGED_IN in client.get("/").text


def test_a_revocation_between_the_answer_and_the_collection(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    request_id = start(client)
    phone = TestClient(client.app, base_url=ORIGIN)
    assert (
        post(phone, request_id, sign(person.card, challenge(phone, request_id))).status_code == 200
    )
    platform.jpki.revoke(_serial(platform, person.resident.resident_code))
    platform.sync_once()
    stopped = poll(client, request_id)
    assert stopped.status_code == 286
    assert "CERT_REVOKED" in stopped.text
    assert COOKIE not in client.cookies


def test_the_card_lost_event_suspends_and_ends_the_sessions(
    client: TestClient, platform: Platform
) -> None:
    person = holder(platform)
    card_login(client, person.card)
    card_id = person.card.card_id
    platform.cards.report_lost(card_id, actor="holder")
    platform.sync_once()  # the card event to the JPKI revoker, then the portal follows
    platform.sync_once()
    assert LOGGED_IN not in client.get("/").text


def test_the_cursor_is_kept_and_a_restart_does_not_start_over(
    settings: Settings, clock: FixedClock
) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        other = holder(platform, "佐藤", "健")
        platform.jpki.revoke(_serial(platform, person.resident.resident_code))
        platform.sync_once()
        with platform.portal.store.transaction() as s:
            position = s.execute(
                select(cursors.c.position).where(cursors.c.name == REVOCATION_CURSOR)
            ).scalar_one()
        assert position == platform.jpki.revocation_changes(0)[-1].id
        with TestClient(create_app(platform), base_url=ORIGIN) as browser:
            card_login(browser, other.card)
            token = browser.cookies[COOKIE]
    finally:
        platform.close()
    again = Platform(Builder(settings, clock))
    try:
        assert again.portal.logins.follow_revocations() == 0
        assert again.portal.sessions.current(token).session_id
    finally:
        again.close()
