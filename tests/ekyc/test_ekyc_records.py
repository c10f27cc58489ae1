"""The audit log (append-only, no personal data), the bill per query and month, the keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography import x509
from ekyc_helpers import (
    ADDRESS,
    Registered,
    challenge,
    cms_by,
    holder,
    post_cms,
    post_raw,
    raw_by,
    register,
)
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from openmyna.card import CardClient, MemoryTransport
from openmyna.clock import FixedClock
from openmyna.ekyc.service import month_range
from openmyna.ekyc.tables import api_keys, audit_log, metadata
from openmyna.errors import Conflict, InvalidInput, OpenMynaError
from openmyna.platform import Platform

AUTH_PIN = "1234"


def test_the_audit_log_says_what_was_checked_when_and_the_result_without_personal_data(
    platform: Platform,
    client: TestClient,
    business: Registered,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    who = holder(platform)
    data = challenge()
    cms = cms_by(platform, who.card, data)
    assert post_cms(client, business, cms, data).status_code == 200
    assert post_cms(client, business, cms, b"tampered").status_code == 422
    ekyc = platform.builder.ekyc()
    refused, accepted, *operator = ekyc.audit(business.business.business_id)  # newest first
    assert (accepted.action, accepted.result, accepted.billed) == ("verify", "accepted", True)
    assert accepted.data_sha256 == hashlib.sha256(data).hexdigest()
    assert (accepted.cert_status, accepted.status_source) == ("good", "ocsp")
    assert accepted.actor == business.key.key_id
    assert accepted.recorded_at == platform.clock.now()
    assert (refused.result, refused.billed, refused.price_yen) == ("CMS_DIGEST_MISMATCH", False, 0)
    assert refused.cert_serial == accepted.cert_serial  # what was checked, by serial
    assert [e.action for e in operator] == ["key.add", "business.add"]

    # Nothing personal anywhere in the operator's database or the log lines.
    number = CardClient(MemoryTransport(who.card)).read_individual_number(AUTH_PIN)
    personal = [number, "山田", "花子", ADDRESS, "前橋", "1985-02-03", "19850203"]
    with ekyc.store.connection() as conn:
        rows = [str(tuple(r)) for r in conn.execute(select(audit_log))]
        keys = [str(tuple(r)) for r in conn.execute(select(api_keys))]
    dumped = "\n".join(rows + keys + [r.getMessage() for r in caplog.records])
    for item in personal:
        assert item not in dumped
    assert business.key.key.split("_")[-1] not in dumped  # the API key's secret is not stored


def test_the_store_matches_its_tables_and_the_audit_log_is_append_only(
    platform: Platform, business: Registered
) -> None:
    ekyc = platform.builder.ekyc()
    with ekyc.store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []
    for statement in ("UPDATE audit_log SET result = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), ekyc.store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(ekyc.audit(business.business.business_id)) == 2


def test_the_bill_counts_the_queries_that_asked_the_status_per_business_and_month(
    platform: Platform, client: TestClient, clock: FixedClock
) -> None:
    bank = register(platform, "みどり銀行", price_yen=20)
    phone = register(platform, "あおば通信", price_yen=35)
    who, other = holder(platform), holder(platform, "佐藤", "次郎")
    data = challenge()
    cms = cms_by(platform, who.card, data)
    for _ in range(3):
        assert post_cms(client, bank, cms, data).status_code == 200
    assert post_cms(client, bank, cms, b"forged").status_code == 422  # no status asked: free
    cert, sig = raw_by(other.card, data)
    assert post_raw(client, phone, cert, data, sig).status_code == 200
    platform.jpki.revoke(x509.load_der_x509_certificate(cert).serial_number)
    assert post_raw(client, phone, cert, data, sig).status_code == 422  # revoked: asked, billed

    # 2026-04-30 23:30 JST is still April; 2026-05-01 00:30 JST is May (the month is Japan's).
    clock.set(dt.datetime(2026, 4, 30, 14, 30, tzinfo=dt.UTC))
    cms = cms_by(platform, who.card, data)
    assert post_cms(client, bank, cms, data).status_code == 200
    clock.set(dt.datetime(2026, 4, 30, 15, 30, tzinfo=dt.UTC))
    cms = cms_by(platform, who.card, data)
    assert post_cms(client, bank, cms, data).status_code == 200

    ekyc = platform.builder.ekyc()
    april = {line.name: line for line in ekyc.bill("2026-04")}
    assert (april["みどり銀行"].queries, april["みどり銀行"].billed) == (5, 4)
    assert april["みどり銀行"].amount_yen == 80
    assert (april["あおば通信"].queries, april["あおば通信"].billed) == (2, 2)
    assert april["あおば通信"].amount_yen == 70
    may = {line.name: line for line in ekyc.bill("2026-05")}
    assert (may["みどり銀行"].billed, may["みどり銀行"].amount_yen) == (1, 20)
    assert may["あおば通信"].queries == 0

    usage = client.get("/api/ekyc/usage", params={"month": "2026-04"}, headers=phone.headers)
    assert usage.json() == {"month": "2026-04", "queries": 2, "billed": 2, "amount_yen": 70}
    bad = client.get("/api/ekyc/usage", params={"month": "2026-13"}, headers=phone.headers)
    assert (bad.status_code, bad.json()["title"]) == (400, "INVALID_INPUT")
    with pytest.raises(InvalidInput):
        ekyc.bill("April")


def test_month_ranges_are_japan_time() -> None:
    start, end = month_range("2026-12")
    assert start == dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 31, 15, tzinfo=dt.UTC)


def test_a_business_reads_its_own_audit_log_only(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    other = register(platform, "あおば通信")
    who = holder(platform)
    data = challenge()
    assert post_cms(client, other, cms_by(platform, who.card, data), data).status_code == 200
    mine = client.get("/api/ekyc/audit", headers=business.headers).json()
    assert [e["action"] for e in mine] == ["key.add", "business.add"]
    theirs = client.get("/api/ekyc/audit", params={"limit": 1}, headers=other.headers).json()
    assert [(e["action"], e["result"], e["billed"]) for e in theirs] == [
        ("verify", "accepted", True)
    ]
    assert "name" not in theirs[0]
    assert client.get("/api/ekyc/audit").status_code == 401


def test_operator_changes_are_checked(platform: Platform, business: Registered) -> None:
    ekyc = platform.builder.ekyc()
    with pytest.raises(Conflict):
        ekyc.resume(business.business.business_id)  # active already
    ekyc.suspend(business.business.business_id)
    with pytest.raises(Conflict):
        ekyc.suspend(business.business.business_id)
    with pytest.raises(OpenMynaError) as missing:
        ekyc.suspend("biz_000000000000")
    assert missing.value.code == "EKYC_BUSINESS_NOT_FOUND"
    ekyc.revoke_key(business.key.key_id)
    with pytest.raises(Conflict):
        ekyc.revoke_key(business.key.key_id)
    for name in ("", "x" * 201, "tab\there"):
        with pytest.raises(InvalidInput):
            ekyc.add_business(name, "contact")
    with pytest.raises(InvalidInput):
        ekyc.add_business("name", "contact", price_yen=-1)
