"""Portal sessions: tokens kept only as hashes, idle and absolute expiry, ending, CSRF."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from openmyna.clock import FixedClock
from openmyna.config import PortalSettings, Settings
from openmyna.portal.errors import CsrfRefused, LoginRequired, SessionEnded
from openmyna.portal.sessions import EndReason, Sessions, check_csrf, token_hash
from openmyna.portal.tables import PORTAL_BODY, PORTAL_KIND
from openmyna.portal.tables import sessions as table
from openmyna.store import open_store

LIMITS = PortalSettings(
    session_idle=dt.timedelta(minutes=30), session_absolute=dt.timedelta(hours=8)
)


@pytest.fixture
def sessions(settings: Settings, clock: FixedClock) -> Iterator[Sessions]:
    store = open_store(settings, PORTAL_KIND, PORTAL_BODY)
    try:
        yield Sessions(store, clock, LIMITS)
    finally:
        store.close()


def test_a_session_is_found_by_its_token_and_the_table_keeps_only_a_hash(
    sessions: Sessions,
) -> None:
    token, made = sessions.create("acct", "jpki:x:1", user_agent="Firefox")
    assert sessions.current(token) == made
    with sessions.store.transaction() as s:
        stored = s.execute(select(table)).mappings().one()
    assert token not in {str(v) for v in stored.values()}
    assert stored["token_hash"] == token_hash(token)
    other, _ = sessions.create("acct", "jpki:x:1")
    assert other != token  # every login gets a new token


def test_no_token_or_an_unknown_one_needs_a_login(sessions: Sessions) -> None:
    for token in (None, "", "not-a-token"):
        with pytest.raises(LoginRequired) as caught:
            sessions.current(token)
        assert type(caught.value) is LoginRequired


def test_an_idle_session_ends(sessions: Sessions, clock: FixedClock) -> None:
    token, _ = sessions.create("acct", "s")
    clock.advance(dt.timedelta(minutes=29))
    sessions.current(token)  # activity keeps it alive
    clock.advance(dt.timedelta(minutes=29))
    sessions.current(token)
    clock.advance(dt.timedelta(minutes=30))
    with pytest.raises(SessionEnded) as caught:
        sessions.current(token)
    assert caught.value.context["reason"] == "idle"
    with pytest.raises(SessionEnded):  # and stays ended
        sessions.current(token)


def test_a_session_ends_at_its_absolute_limit_however_active(
    sessions: Sessions, clock: FixedClock
) -> None:
    token, _ = sessions.create("acct", "s")
    for _ in range(23):  # a request every 20 minutes, for 7 h 40 min
        clock.advance(dt.timedelta(minutes=20))
        sessions.current(token)
    clock.advance(dt.timedelta(minutes=20))  # 8 hours after the login
    with pytest.raises(SessionEnded) as caught:
        sessions.current(token)
    assert caught.value.context["reason"] == "expired"


def test_logout_and_ending_by_the_account_or_by_the_certificate(sessions: Sessions) -> None:
    first, s1 = sessions.create("acct", "cert-a")
    second, s2 = sessions.create("acct", "cert-a")
    third, s3 = sessions.create("acct", "cert-b")
    stranger, _ = sessions.create("other", "cert-c")
    assert {x.session_id for x in sessions.live("acct")} == {
        s1.session_id,
        s2.session_id,
        s3.session_id,
    }
    assert sessions.end(s1.session_id)
    assert not sessions.end(s1.session_id)
    assert not sessions.end_for_account("other", s2.session_id)  # not theirs
    assert sessions.end_for_subject("cert-b") == 1
    with pytest.raises(SessionEnded) as caught:
        sessions.current(third)
    assert caught.value.context["reason"] == EndReason.CERTIFICATE_REVOKED.value
    with pytest.raises(SessionEnded):
        sessions.current(first)
    assert sessions.current(second).session_id == s2.session_id
    assert sessions.current(stranger).account_id == "other"


def test_csrf_token_is_checked_in_constant_time(sessions: Sessions) -> None:
    _, made = sessions.create("acct", "s")
    check_csrf(made, made.csrf_token)
    for wrong in (None, "", made.csrf_token[:-1], made.csrf_token + "x", "é"):
        with pytest.raises(CsrfRefused):
            check_csrf(made, wrong)
