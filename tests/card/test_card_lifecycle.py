"""The card's lifecycle (C1, C2) on both storage backends, driven by registry events."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from card_helpers import AUTH_PIN, CHECK, KOBE, MAEBASHI, SIGN_PASSWORD, World
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from openmyna.bus import Event
from openmyna.card import (
    ApplicationChannel,
    ApplicationStatus,
    CardApplicationNotFound,
    CardClient,
    CardNotFound,
    CardStatus,
    CardTransitionRefused,
    CertSlot,
    HolderNotResident,
    IdentityCheckMissing,
    MemoryTransport,
    PinFormatInvalid,
    PinLocked,
    PinRef,
    PinWrong,
    StatusReason,
)
from openmyna.card.tables import CARD_KIND, ISSUER_BODY, metadata
from openmyna.config import Settings
from openmyna.registry import NewPerson, Resident, Sex
from openmyna.store import open_store


def test_issue_after_application(world: World) -> None:
    r = world.adult()
    application = world.life.apply(r.resident_code)
    assert application.status is ApplicationStatus.PENDING
    issued = world.life.issue(
        r.resident_code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    record = issued.record
    assert record.status is CardStatus.ACTIVE
    assert record.lg_code == MAEBASHI
    assert record.issued_on == dt.date(2026, 4, 1)
    assert record.expires_on == dt.date(2035, 5, 17)  # the 10th birthday after issue
    assert record.sign_cert_serial is not None
    client = CardClient(MemoryTransport(issued.card))
    auth = client.auth_certificate()
    assert format(auth.serial_number, "X") == record.auth_cert_serial
    assert client.certificate(CertSlot.AUTH_CA) == world.jpki.ca_certificate("auth")
    sign = client.sign_certificate(SIGN_PASSWORD)
    assert format(sign.serial_number, "X") == record.sign_cert_serial
    text_data = client.read_text_data(AUTH_PIN)  # the text PIN defaults to the auth PIN
    assert text_data.individual_number == r.individual_number
    assert text_data.items.address == r.address
    assert text_data.intact
    assert client.read_face(r.individual_number).data.card_expiry == record.expires_on
    (done,) = world.life.applications(r.resident_code)
    assert (done.status, done.card_id) == (ApplicationStatus.ISSUED, record.card_id)
    assert world.card_events() == [("card.issued", record.card_id)]
    event = world.seen[0]
    assert event.data["resident_code"] == r.resident_code
    assert r.individual_number not in repr(event.data)
    (entry,) = world.life.audit_entries(record.card_id)
    assert CHECK in entry.reason
    assert r.individual_number not in repr(entry)


def test_issuance_refusals_change_nothing(world: World) -> None:
    r = world.adult()
    code = r.resident_code
    kwargs = {"auth_pin": AUTH_PIN, "sign_password": SIGN_PASSWORD, "identity_check": CHECK}
    with pytest.raises(CardApplicationNotFound):
        world.life.issue(code, **kwargs)  # type: ignore[arg-type]
    world.life.apply(code)
    with pytest.raises(IdentityCheckMissing):
        world.life.issue(code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=" ")
    with pytest.raises(PinFormatInvalid):
        world.life.issue(code, auth_pin="12345", sign_password=SIGN_PASSWORD, identity_check=CHECK)
    with pytest.raises(PinFormatInvalid):
        world.life.issue(code, auth_pin=AUTH_PIN, sign_password=None, identity_check=CHECK)
    with pytest.raises(PinFormatInvalid):
        world.life.issue(code, auth_pin=AUTH_PIN, sign_password="abc", identity_check=CHECK)
    assert world.jpki.issued == []  # nothing was certified
    assert world.life.cards(resident_code=code) == []
    world.life.issue(code, **kwargs)  # type: ignore[arg-type]
    world.life.apply(code)
    with pytest.raises(CardTransitionRefused):
        world.life.issue(code, **kwargs)  # type: ignore[arg-type]
    world.regs.municipality(MAEBASHI).record_death(code, on=world.clock.today())
    with pytest.raises(HolderNotResident):
        world.life.apply(code)


def test_a_child_applies_at_birth_and_gets_no_signature_certificate(world: World) -> None:
    parent = world.adult()
    baby = NewPerson("山田", "花", "ヤマダ", "ハナ", dt.date(2026, 3, 20), Sex.FEMALE)
    child = world.regs.municipality(MAEBASHI).birth(
        baby, household_id=parent.household_id, card_application=True
    )
    (application,) = world.life.applications(child.resident_code)
    assert application.channel is ApplicationChannel.BIRTH
    issued = world.life.issue(
        child.resident_code, auth_pin=AUTH_PIN, sign_password=None, identity_check=CHECK
    )
    assert issued.record.sign_cert_serial is None
    assert issued.record.expires_on == dt.date(2031, 3, 20)  # the 5th birthday: under 18
    client = CardClient(MemoryTransport(issued.card))
    client.auth_certificate()
    assert [k for k, _ in world.jpki.issued] == ["auth"]


def test_lost_found_and_returned(world: World) -> None:
    card_id, _ = world.issue(world.adult().resident_code)
    lost = world.life.report_lost(card_id)
    assert (lost.status, lost.status_reason) == (CardStatus.SUSPENDED, StatusReason.LOST)
    with pytest.raises(CardTransitionRefused):
        world.life.report_lost(card_id)
    assert world.life.report_found(card_id).status is CardStatus.ACTIVE
    with pytest.raises(CardTransitionRefused):
        world.life.report_found(card_id)
    assert world.life.return_card(card_id).status is CardStatus.RETURNED
    with pytest.raises(CardTransitionRefused):
        world.life.report_lost(card_id)
    with pytest.raises(CardNotFound):
        world.life.report_lost("nope")
    assert [t for t, _ in world.card_events()] == [
        "card.issued",
        "card.lost",
        "card.found",
        "card.returned",
    ]


def test_reissue_revokes_the_old_card(world: World) -> None:
    code = world.adult().resident_code
    old_id, _ = world.issue(code)
    world.life.report_lost(old_id)
    new = world.life.reissue(code, auth_pin="4321", sign_password="NEWPASS1", identity_check=CHECK)
    assert world.life.card(old_id).status is CardStatus.REVOKED
    assert world.life.card(old_id).status_reason is StatusReason.REISSUED
    assert world.life.valid_card(code) == new.record
    assert world.card_events()[-2:] == [
        ("card.revoked", old_id),
        ("card.issued", new.record.card_id),
    ]


def test_death_and_moving_abroad_end_the_card(world: World) -> None:
    a, b = world.adult(), world.adult(dt.date(1990, 1, 2))
    a_card, _ = world.issue(a.resident_code)
    b_card, _ = world.issue(b.resident_code)
    world.regs.municipality(MAEBASHI).record_death(a.resident_code, on=world.clock.today())
    world.regs.municipality(MAEBASHI).move_abroad(
        b.resident_code, planned_on=world.clock.today(), country="USA"
    )
    assert world.life.card(a_card).status_reason is StatusReason.DIED
    assert world.life.card(b_card).status_reason is StatusReason.MOVED_ABROAD
    assert world.life.card(b_card).status is CardStatus.REVOKED
    assert ("card.revoked", a_card) in world.card_events()
    revoked = [e for e in world.seen if e.type == "card.revoked"]
    assert {e.data["reason"] for e in revoked} == {"died", "moved_abroad"}


def test_a_redelivered_event_is_applied_once(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    world.regs.municipality(MAEBASHI).record_death(r.resident_code, on=world.clock.today())
    entries = len(world.life.audit_entries())
    events = len(world.card_events())
    (died,) = [e for e in _log(world) if e.type == "registry.died"]
    world.life.handle(died)
    world.life.handle(died)
    assert len(world.life.audit_entries()) == entries
    assert len(world.card_events()) == events
    assert world.life.card(card_id).status is CardStatus.REVOKED


def _log(world: World) -> list[Event]:
    seen: list[Event] = []
    world.bus.subscribe("card-test-replay", ["registry.>"], seen.append)
    while world.bus.pump():
        pass
    return seen


def _move(world: World, r: Resident, *, planned_in: int, wait: int, moved_in_back: int) -> None:
    """Move ``r`` from 前橋市 to 神戸市: out planned in N days, in after ``wait`` days."""
    planned = world.clock.today() + dt.timedelta(days=planned_in)
    world.regs.municipality(MAEBASHI).move_out(
        r.resident_code, planned_on=planned, destination="神戸市", destination_lg_code=KOBE
    )
    world.later(wait)
    world.regs.municipality(KOBE).move_in(
        r.resident_code,
        from_lg_code=MAEBASHI,
        on=world.clock.today() - dt.timedelta(days=moved_in_back),
        address="兵庫県神戸市中央区加納町6-5-1",
    )


def test_a_move_on_time_then_continued_use(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    _move(world, r, planned_in=5, wait=10, moved_in_back=3)
    assert world.life.card(card_id).status is CardStatus.ACTIVE
    world.later(60)
    assert world.life.check_deadlines() == []
    world.life.record_continued_use(card_id)
    with pytest.raises(CardTransitionRefused):
        world.life.record_continued_use(card_id)
    world.later(60)
    assert world.life.check_deadlines() == []
    assert world.life.card(card_id).status is CardStatus.ACTIVE


def test_a_move_in_registered_too_late(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    _move(world, r, planned_in=0, wait=20, moved_in_back=15)  # 20 days after moving: > 14
    record = world.life.card(card_id)
    assert (record.status, record.status_reason) == (
        CardStatus.REVOKED,
        StatusReason.MOVE_IN_LATE,
    )


def test_a_move_in_after_thirty_days_of_the_planned_date(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    _move(world, r, planned_in=0, wait=31, moved_in_back=0)
    assert world.life.card(card_id).status_reason is StatusReason.MOVE_IN_LATE


def test_no_move_in_at_all(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    world.regs.municipality(MAEBASHI).move_out(
        r.resident_code, planned_on=world.clock.today(), destination="神戸市"
    )
    world.later(30)
    assert world.life.check_deadlines() == []  # the 30th day is still in time
    world.later(1)
    (changed,) = world.life.check_deadlines()
    assert (changed.card_id, changed.status_reason) == (card_id, StatusReason.MOVE_IN_DEADLINE)
    assert world.card_events()[-1] == ("card.revoked", card_id)


def test_no_continued_use_within_ninety_days(world: World) -> None:
    r = world.adult()
    card_id, _ = world.issue(r.resident_code)
    _move(world, r, planned_in=0, wait=2, moved_in_back=1)
    world.later(90)
    assert world.life.check_deadlines() == []
    world.later(1)
    (changed,) = world.life.check_deadlines()
    assert changed.status_reason is StatusReason.CONTINUATION_DEADLINE
    with pytest.raises(CardTransitionRefused):
        world.life.record_continued_use(card_id)


def test_expiry(world: World) -> None:
    card_id, _ = world.issue(world.adult().resident_code)
    world.clock.set(dt.datetime(2035, 5, 17, 3, 0, tzinfo=dt.UTC))  # the last valid day
    assert world.life.check_deadlines() == []
    world.later(1)
    (expired,) = world.life.check_deadlines()
    assert (expired.card_id, expired.status) == (card_id, CardStatus.EXPIRED)
    assert world.card_events()[-1] == ("card.expired", card_id)
    assert world.life.check_deadlines() == []


def test_pin_reset_at_the_counter(world: World) -> None:
    code = world.adult().resident_code
    world.life.apply(code)
    issued = world.life.issue(
        code, auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, identity_check=CHECK
    )
    client = CardClient(MemoryTransport(issued.card))
    for _ in range(2):
        with pytest.raises(PinWrong):
            client.verify(PinRef.AUTH, "0000")
    with pytest.raises(PinLocked):
        client.verify(PinRef.AUTH, "0000")
    with pytest.raises(IdentityCheckMissing):
        world.life.unlock_pin(issued.card, PinRef.AUTH, identity_check="")
    world.life.unlock_pin(issued.card, PinRef.AUTH, identity_check=CHECK, new_value="8642")
    assert client.tries_left(PinRef.AUTH) == 3
    client.verify(PinRef.AUTH, "8642")
    world.life.report_lost(issued.record.card_id)
    with pytest.raises(CardTransitionRefused):
        world.life.unlock_pin(issued.card, PinRef.AUTH, identity_check=CHECK)
    actions = [e.action for e in world.life.audit_entries(issued.record.card_id)]
    assert actions == ["card.issued", "card.pin_reset", "card.lost"]


def test_card_events_wait_in_the_outbox_when_the_bus_fails(world: World) -> None:
    card_id, _ = world.issue(world.adult().resident_code)
    world.card_events()

    class Down:
        def publish(self, events: object) -> None:
            raise OSError("bus down")

    real = world.life.bus
    world.life.bus = Down()  # type: ignore[assignment]
    world.life.report_lost(card_id)  # committed; the relay failed quietly
    world.life.bus = real
    assert world.card_events()[-1] == ("card.issued", card_id)
    assert world.life.relay() == 1
    assert world.card_events()[-1] == ("card.lost", card_id)


def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, CARD_KIND, ISSUER_BODY)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with store.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO audit_log (recorded_at, action, actor, reason)"
                        " VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c')"
                    )
                )
            with pytest.raises(DBAPIError), store.engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        store.close()
