"""Rate limits on the login (429 with Retry-After) and the login's tables as migrated."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from login_helpers import ORIGIN, b64, challenge, post, served, sign, start, with_portal
from portal_helpers import holder

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.portal.tables import PORTAL_BODY, PORTAL_KIND, metadata
from openmyna.store import open_store


def test_starting_logins_is_limited_per_client_address(
    settings: Settings, clock: FixedClock
) -> None:
    with served(with_portal(settings, login_starts_per_minute=3), clock) as (_, client):
        for _ in range(3):
            start(client)
        refused = client.get("/login", follow_redirects=False)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "しばらくお待ちください" in refused.text
        assert "LOGIN_RATE_LIMITED" in refused.text
        clock.advance(dt.timedelta(seconds=61))
        start(client)


def test_answers_are_limited_per_client_address_and_per_request(
    settings: Settings, clock: FixedClock
) -> None:
    limited = with_portal(settings, login_answers_per_minute=4, login_answer_attempts=2)
    with served(limited, clock) as (platform, client):
        person = holder(platform)
        request_id = start(client)
        phone = type(client)(client.app, base_url=ORIGIN)
        good = None
        for _ in range(2):
            found = challenge(phone, request_id)
            good = sign(person.card, found)
            bad = {"certificate": b64(good.certificate), "signature": b64(b"\x01" * 256)}
            assert post(phone, request_id, bad).json()["title"] == "BAD_CHALLENGE_SIGNATURE"
        assert good is not None
        closed = post(phone, request_id, good)  # the request took its two answers
        assert closed.json()["reason"] == "LOGIN_TOO_MANY_ANSWERS"
        post(phone, request_id, good)
        too_many = post(phone, request_id, good)  # the fifth answer from this address
        assert too_many.status_code == 429
        assert too_many.headers["content-type"] == "application/problem+json"
        assert too_many.json()["title"] == "LOGIN_RATE_LIMITED"
        assert int(too_many.headers["Retry-After"]) >= 1
        assert phone.get("/login/code/ABCDEFGH").status_code == 429  # look-ups count too


def test_the_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, PORTAL_KIND, PORTAL_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        store.close()
