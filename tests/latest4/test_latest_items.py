"""The latest-4-items service (最新の4情報提供サービス, SPEC J4) end to end, on both backends.

A business registered by the operator asks for a person's consent by the signature
certificate it verified; the person signs it with the card on the portal; then a move at
the counter (the back office's page) or a change of name reaches the business over the bus,
by a webhook to a real receiver on a socket (its signature checked with the test's own
code) and by polling the API. Revoking stops it, and the refusal is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from backoffice_helpers import csrf as page_csrf
from backoffice_helpers import find, staff
from consent_helpers import (
    Receiver,
    ask,
    bearer,
    card_answer,
    consent,
    csrf,
    free_port,
    register,
    sign_serial,
    signature_ok,
    signing_token,
)
from fastapi.testclient import TestClient
from portal_helpers import MAEBASHI, holder, login
from sqlalchemy import select

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.latest_items import Registered
from openmyna.latest_items.tables import (
    LATEST_ITEMS_BODY,
    LATEST_ITEMS_KIND,
    consent_log,
    metadata,
    provisions,
)
from openmyna.pki import RevocationReason
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.notices.delivery import retry_delay
from openmyna.portal.sessions import COOKIE
from openmyna.store import open_store

NEW_ADDRESS = "群馬県前橋市千代田町二丁目12番1号"
PASSPORT = {"documents": ["旅券"]}


def move_at_the_counter(platform: Platform, counter: TestClient, name: str = "山田") -> None:
    """A clerk of 前橋市 registers the person's move within the city on the back office's page."""
    staff(platform, counter, Role.CLERK)
    handle = find(counter, name)
    page = counter.get(f"/backoffice/{MAEBASHI}/residents/{handle}")
    moved = counter.post(
        f"/backoffice/{MAEBASHI}/residents/{handle}/move-within",
        data={
            "address": NEW_ADDRESS,
            "on": "2026-04-01",
            "csrf_token": page_csrf(page.text),
            **PASSPORT,
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text


def feed(client: TestClient, registered: Registered, after: int = 0) -> dict[str, Any]:
    """The business polls its changes after the cursor."""
    answer = client.get(f"/latest-items/v1/changes?after={after}", headers=bearer(registered))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_move_at_the_counter_reaches_the_business_by_webhook_and_by_polling(
    platform: Platform, client: TestClient, second: TestClient
) -> None:
    receiver = Receiver()
    try:
        bank = register(platform, webhook_url=receiver.url)
        person = holder(platform)
        login(platform, client, person.card)
        request_id = ask(client, bank, person)
        consent_id = consent(platform, client, person, request_id)
        status = client.get(
            f"/latest-items/v1/consent-requests/{request_id}", headers=bearer(bank)
        ).json()
        assert status["status"] == "signed"
        assert status["consent_id"] == consent_id

        move_at_the_counter(platform, second)
        platform.sync_once()  # the bus delivers the registry's event; the webhook is sent
        platform.sync_once()
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        assert signature_ok(bank.webhook_secret, headers, body)
        sent = json.loads(body)
        assert sent["type"] == "latest_items.changed"
        data = sent["data"]
        assert data["consent_id"] == consent_id
        assert data["reference"] == "cust-1"
        assert data["reason"] == "moved_within"
        assert data["items"]["address"] == NEW_ADDRESS
        assert data["items"]["name"] == "山田 花子"
        assert data["items"]["date_of_birth"] == "1985-02-03"
        assert headers["webhook-id"] == data["provision_id"]
        assert not re.search(r"\b[0-9]{12}\b", body.decode())  # never the number

        polled = feed(client, bank)
        changes = polled["changes"]
        assert isinstance(changes, list)
        assert [c["items"]["address"] for c in changes] == [NEW_ADDRESS]
        assert feed(client, bank, after=int(polled["next"]))["changes"] == []
        # The same event again (a redelivery) provides nothing new.
        platform.sync_once()
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


def test_a_rename_reaches_a_business_that_polls(platform: Platform, client: TestClient) -> None:
    bank = register(platform)  # no webhook: it polls
    person = holder(platform)
    login(platform, client, person.card)
    consent(platform, client, person, ask(client, bank, person))
    assert feed(client, bank)["changes"] == []
    platform.registries.municipality(MAEBASHI).change_name(
        person.resident.resident_code,
        on=platform.clock.today(),
        family_name="佐藤",
        family_name_kana="サトウ",
        keep_former_surname=True,
        actor="test",
    )
    platform.sync_once()
    changes = feed(client, bank)["changes"]
    assert isinstance(changes, list)
    assert len(changes) == 1
    assert changes[0]["reason"] == "name_changed"
    assert changes[0]["items"]["name"] == "佐藤 花子"
    assert changes[0]["items"]["name_kana"] == "サトウ ハナコ"


def test_a_receiver_that_is_down_is_retried_then_delivered(
    platform: Platform, client: TestClient, clock: FixedClock
) -> None:
    port = free_port()
    bank = register(platform, webhook_url=f"http://127.0.0.1:{port}/hooks/latest-items")
    person = holder(platform)
    login(platform, client, person.card)
    consent(platform, client, person, ask(client, bank, person))
    platform.registries.municipality(MAEBASHI).move_within(
        person.resident.resident_code, on=clock.today(), address=NEW_ADDRESS, actor="test"
    )
    platform.sync_once()  # nothing listens: refused connection
    store = platform.latest_items.store
    with store.transaction() as s:
        row = s.execute(select(provisions)).mappings().one()
    assert row["status"] == "pending"
    assert row["attempts"] >= 1
    assert row["last_outcome"] == "connect_error"
    receiver = Receiver(statuses=[503], port=port)
    try:
        platform.sync_once()  # not due yet: the backoff holds it
        assert receiver.received == []
        clock.advance(retry_delay(int(row["attempts"])) + dt.timedelta(seconds=1))
        platform.sync_once()  # up, but answers 503
        assert len(receiver.received) == 1
        with store.transaction() as s:
            attempts = s.execute(select(provisions.c.attempts)).scalar_one()
        clock.advance(retry_delay(int(attempts)) + dt.timedelta(seconds=1))
        platform.sync_once()
        assert len(receiver.received) == 2
        ids = {h["webhook-id"] for h, _ in receiver.received}
        assert len(ids) == 1  # the same idempotency id at every attempt
        with store.transaction() as s:
            done = s.execute(select(provisions)).mappings().one()
        assert done["status"] == "delivered"
        assert all(signature_ok(bank.webhook_secret, h, b) for h, b in receiver.received)
    finally:
        receiver.stop()


def test_a_revoked_consent_stops_provision_and_the_refusal_is_recorded(
    platform: Platform, client: TestClient, clock: FixedClock
) -> None:
    port = free_port()
    bank = register(platform, webhook_url=f"http://127.0.0.1:{port}/hooks/latest-items")
    person = holder(platform)
    login(platform, client, person.card)
    consent_id = consent(platform, client, person, ask(client, bank, person))
    city = platform.registries.municipality(MAEBASHI)
    city.move_within(person.resident.resident_code, on=clock.today(), address=NEW_ADDRESS)
    platform.sync_once()  # the receiver is down: the delivery waits
    revoked = client.post(
        f"/consents/{consent_id}/revoke",
        data={"csrf_token": csrf(client, f"/consents/{consent_id}")},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    receiver = Receiver(port=port)
    try:
        clock.advance(dt.timedelta(hours=2))
        platform.sync_once()
        assert receiver.received == []  # the waiting delivery was withdrawn
        city.move_within(
            person.resident.resident_code,
            on=clock.today(),
            address="群馬県前橋市大手町一丁目1番1号",
        )
        platform.sync_once()
        clock.advance(dt.timedelta(hours=2))
        platform.sync_once()
        assert receiver.received == []
    finally:
        receiver.stop()
    assert feed(client, bank)["changes"] == []
    state = client.get(f"/latest-items/v1/consents/{consent_id}", headers=bearer(bank)).json()
    assert state["status"] == "revoked"
    store = platform.latest_items.store
    with store.transaction() as s:
        withdrawn = s.execute(select(provisions.c.status, provisions.c["items"])).all()
        log = s.execute(select(consent_log).order_by(consent_log.c.id)).mappings().all()
    assert [tuple(r) for r in withdrawn] == [("withdrawn", "{}")]  # the items erased
    actions = [(r["action"], r["detail"]) for r in log]
    assert ("revoked", "") in actions
    assert ("refused", "CONSENT_REVOKED") in actions
    text = json.dumps([dict(r) for r in log], default=str)
    # No individual number in the log: the person's own (any 12 digits would also match a
    # random id in the rows, as it did once on PostgreSQL).
    assert person.resident.individual_number not in text
    with store.transaction() as s, pytest.raises(Exception):  # noqa: B017, PT011
        s.execute(consent_log.delete())  # append-only: the database refuses


def test_a_revoked_certificate_refuses_consent(platform: Platform, client: TestClient) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    token = signing_token(client, request_id)
    platform.jpki.revoke(int(sign_serial(person.card), 16), RevocationReason.KEY_COMPROMISE)
    refused = card_answer(platform, client, token, person.card)
    assert refused.status_code >= 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "CERT_REVOKED"
    page = client.get(f"/consents/requests/{request_id}")
    assert "CERT_REVOKED" in page.text
    assert (
        platform.latest_items.consents.of_person(
            platform.portal.sessions.current(client.cookies[COOKIE]).subject_id
        )
        == []
    )
    with platform.latest_items.store.transaction() as s:
        actions = s.execute(select(consent_log.c.action, consent_log.c.detail)).all()
    assert ("sign_refused", "CERT_REVOKED") in [tuple(a) for a in actions]


def test_another_persons_card_cannot_sign_and_a_link_is_one_persons(
    platform: Platform, client: TestClient, second: TestClient
) -> None:
    bank = register(platform)
    person = holder(platform)
    other = holder(platform, "鈴木", "次郎")
    login(platform, client, person.card)
    login(platform, second, other.card)
    # By link: the first person to open it owns it; another person sees nothing.
    made = client.post(
        "/latest-items/v1/consent-requests",
        json={"link": True, "reference": "cust-2"},
        headers=bearer(bank),
    ).json()
    link = made["consent_url"].removeprefix("http://127.0.0.1")
    opened = client.get(link, follow_redirects=False)
    assert opened.headers["location"] == f"/consents/requests/{made['request_id']}"
    assert second.get(link).status_code == 404
    assert second.get(f"/consents/requests/{made['request_id']}").status_code == 404
    # Signed with another person's (valid) card: refused.
    token = signing_token(client, made["request_id"])
    refused = card_answer(platform, client, token, other.card)
    assert refused.json()["title"] in ("SIGNER_NOT_APPLICANT", "SIGNER_NOT_PERSON")


def test_the_api_refuses_with_stable_codes(platform: Platform, client: TestClient) -> None:
    bank = register(platform)
    rival = register(platform, "他社")
    person = holder(platform)
    none = client.get("/latest-items/v1/changes")
    assert none.status_code == 401
    assert none.headers["content-type"].startswith("application/problem+json")
    assert none.json()["title"] == "BUSINESS_UNAUTHORIZED"
    wrong = client.get("/latest-items/v1/changes", headers={"Authorization": "Bearer lik_nope"})
    assert wrong.json()["title"] == "BUSINESS_UNAUTHORIZED"

    def post(body: dict[str, object]) -> tuple[int, str]:
        answer = client.post("/latest-items/v1/consent-requests", json=body, headers=bearer(bank))
        return answer.status_code, answer.json()["title"]

    number = platform.builder.numbering().individual_number_for(person.resident.resident_code)
    assert post({"certificate_serial": str(number), "reference": "x"}) == (
        400,
        "INVALID_CONSENT_REQUEST",
    )
    extra = client.post(
        "/latest-items/v1/consent-requests",
        json={"individual_number": str(number), "reference": "x"},
        headers=bearer(bank),
    )
    assert extra.status_code == 400  # no such field: refused, and the number is not echoed
    assert str(number) not in extra.text
    assert post({"certificate_serial": "zz", "reference": "x"})[1] == "INVALID_CONSENT_REQUEST"
    assert post({"certificate_serial": "ffffffff", "reference": "x"})[1] == "CERTIFICATE_UNKNOWN"
    assert post({"reference": "x"})[1] == "INVALID_CONSENT_REQUEST"
    assert post({"link": True, "reference": "<script>"})[1] == "INVALID_CONSENT_REQUEST"
    request_id = ask(client, bank, person)
    theirs = client.get(f"/latest-items/v1/consent-requests/{request_id}", headers=bearer(rival))
    assert theirs.status_code == 404
    assert theirs.json()["title"] == "CONSENT_REQUEST_NOT_FOUND"
    assert client.get("/latest-items/v1/changes?after=-1", headers=bearer(bank)).status_code == 400


def test_the_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, LATEST_ITEMS_KIND, LATEST_ITEMS_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        store.close()


def test_a_move_to_another_municipality_is_provided_at_the_move_in(
    platform: Platform, client: TestClient, clock: FixedClock
) -> None:
    bank = register(platform)
    person = holder(platform)
    login(platform, client, person.card)
    consent(platform, client, person, ask(client, bank, person))
    regs = platform.registries
    regs.add_municipality("281000")
    code = person.resident.resident_code
    kobe = "兵庫県神戸市中央区加納町六丁目5番1号"
    regs.municipality(MAEBASHI).move_out(
        code, planned_on=clock.today(), destination=kobe, destination_lg_code="281000"
    )
    platform.sync_once()
    assert feed(client, bank)["changes"] == []  # the move-out's address is only planned
    regs.municipality("281000").move_in(code, from_lg_code=MAEBASHI, on=clock.today(), address=kobe)
    platform.sync_once()
    [change] = feed(client, bank)["changes"]
    assert change["reason"] == "moved_in"
    assert change["items"]["address"] == kobe
