"""The counter's update after a move or a new name (券面記載事項変更, C2/J2), on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from card_helpers import AUTH_PIN, CHECK, KOBE, MAEBASHI, World

from openmyna.card import (
    CardClient,
    CardStatus,
    CardTransitionRefused,
    CertSlot,
    HolderNotResident,
    MemoryTransport,
    PinLocked,
    PinRef,
    PinWrong,
    VirtualCard,
)
from openmyna.card.errors import CardStateError, EndorsementAreaFull, NothingToUpdate
from openmyna.card.models import CardUpdate
from openmyna.card.personalize import sign_cert_on
from openmyna.card.state import dump_card
from openmyna.card.surface import ENDORSEMENT_LINES, CardSurface, EndorsedItem
from openmyna.card.tables import cards, moves
from openmyna.errors import OpenMynaError
from openmyna.registry import Resident

NEW_PASSWORD = "NEW2PASS9"
TEXT_PIN = AUTH_PIN  # issuance sets the text AP's PIN to the auth PIN by default
WITHIN = "群馬県前橋市千代田町三丁目1番1号"


def _issued(world: World, born: dt.date = dt.date(1980, 5, 17)) -> tuple[Resident, VirtualCard]:
    r = world.adult(born)
    world.life.apply(r.resident_code)
    issued = world.life.issue(
        r.resident_code,
        auth_pin=AUTH_PIN,
        sign_password=None if born.year > 2010 else "ABC123XYZ",
        identity_check=CHECK,
    )
    return r, issued.card


def _pump(world: World) -> None:
    while world.bus.pump():
        pass


def _move_within(world: World, r: Resident, address: str = WITHIN) -> None:
    world.regs.municipality(MAEBASHI).move_within(
        r.resident_code, on=world.clock.today(), address=address
    )
    _pump(world)


def _update(
    world: World, card: VirtualCard, surface: CardSurface, *, password: str | None = NEW_PASSWORD
) -> CardUpdate:
    return world.life.update_card_data(
        card,
        surface,
        holder_pin=TEXT_PIN,
        sign_password=password,
        identity_check=CHECK,
        actor="suzuki",
    )


def _chip(card: VirtualCard) -> CardClient:
    return CardClient(MemoryTransport(card))


def test_a_move_within_marks_the_card_stale_and_the_update_rewrites_it(world: World) -> None:
    r, card = _issued(world)
    before = world.life.card(card.card_id)
    old_serial = int(before.sign_cert_serial or "0", 16)
    assert not before.data_stale
    name = _chip(card).read_text_data(TEXT_PIN).items.name
    _move_within(world, r)
    stale = world.life.card(card.card_id)
    assert stale.data_stale
    assert stale.data_stale_items == ("address",)
    assert stale.data_stale_since == world.clock.today()
    surface = CardSurface()

    done = _update(world, card, surface)

    data = _chip(card).read_text_data(TEXT_PIN)
    assert data.items.address == WITHIN
    assert data.intact
    assert data.items.name == name
    assert done.changed_items == ("address",)
    assert old_serial in world.jpki.revoked
    assert done.previous_sign_cert == before.sign_cert_serial
    new_cert = sign_cert_on(card)
    assert new_cert is not None
    assert new_cert.serial_number != old_serial
    assert done.new_sign_cert == format(new_cert.serial_number, "X")
    assert new_cert.serial_number not in world.jpki.revoked
    record = world.life.card(card.card_id)
    assert not record.data_stale
    assert record.sign_cert_serial == done.new_sign_cert
    [line] = surface.endorsements
    assert (line.item, line.text, line.written_on) == (
        EndorsedItem.ADDRESS,
        WITHIN,
        world.clock.today(),
    )
    assert WITHIN not in repr(line)
    assert WITHIN not in repr(done)
    # The new password opens the new certificate; the old one no longer does.
    client = _chip(card)
    with pytest.raises(PinWrong):
        client.verify(PinRef.SIGN, "ABC123XYZ")
    client.verify(PinRef.SIGN, NEW_PASSWORD)
    assert client.certificate(CertSlot.SIGN).serial_number == new_cert.serial_number
    audit = [e for e in world.life.audit_entries(card.card_id) if e.action == "card.updated"]
    assert [(e.actor, "address" in e.reason, CHECK in e.reason) for e in audit] == [
        ("suzuki", True, True)
    ]
    assert ("card.updated", card.card_id) in world.card_events()


def test_without_a_new_signature_certificate_the_card_holds_none(world: World) -> None:
    r, card = _issued(world)
    old_serial = int(world.life.card(card.card_id).sign_cert_serial or "0", 16)
    world.regs.municipality(MAEBASHI).change_name(
        r.resident_code, on=world.clock.today(), family_name="佐藤", family_name_kana="サトウ"
    )
    _pump(world)
    assert world.life.card(card.card_id).data_stale_items == ("name",)
    surface = CardSurface()
    done = _update(world, card, surface, password=None)
    assert done.changed_items == ("name",)
    assert done.new_sign_cert is None
    assert old_serial in world.jpki.revoked
    assert sign_cert_on(card) is None
    assert world.life.card(card.card_id).sign_cert_serial is None
    assert _chip(card).read_text_data(TEXT_PIN).items.name.startswith("佐藤")
    assert [e.item for e in surface.endorsements] == [EndorsedItem.NAME]


def test_a_wrong_holder_pin_changes_nothing_but_the_counter(world: World) -> None:
    r, card = _issued(world)
    _move_within(world, r)
    before = dump_card(card)
    surface = CardSurface()
    with pytest.raises(PinWrong) as caught:
        world.life.update_card_data(
            card,
            surface,
            holder_pin="0000",
            sign_password=NEW_PASSWORD,
            identity_check=CHECK,
        )
    assert caught.value.tries_left == 2
    assert world.jpki.revoked == []
    assert surface.endorsements == []
    assert dump_card(card) != before  # only the retry counter moved
    assert _chip(card).read_text_data(TEXT_PIN).items.address != WITHIN
    assert world.life.card(card.card_id).data_stale


def test_a_locked_holder_pin_is_refused(world: World) -> None:
    r, card = _issued(world)
    _move_within(world, r)
    for _ in range(2):
        with pytest.raises(PinWrong):
            _chip(card).verify(PinRef.TEXT, "0000")
    with pytest.raises(PinLocked):
        _chip(card).verify(PinRef.TEXT, "0000")
    with pytest.raises(PinLocked):
        _update(world, card, CardSurface())
    assert world.jpki.revoked == []


def test_a_current_card_has_nothing_to_update(world: World) -> None:
    _, card = _issued(world)
    with pytest.raises(NothingToUpdate) as caught:
        _update(world, card, CardSurface(), password=None)
    assert caught.value.code == "CARD_DATA_CURRENT"
    # Asking for a new signature certificate is an update of its own (superseded).
    old = sign_cert_on(card)
    done = _update(world, card, CardSurface())
    assert old is not None
    assert old.serial_number in world.jpki.revoked
    assert done.changed_items == ()
    assert done.new_sign_cert is not None


def test_the_endorsement_area_holds_four_lines(world: World) -> None:
    r, card = _issued(world)
    surface = CardSurface()
    for n in range(ENDORSEMENT_LINES):
        _move_within(world, r, f"群馬県前橋市大手町{n + 1}丁目1番")
        _update(world, card, surface, password=None)
    assert surface.lines_left == 0
    _move_within(world, r, "群馬県前橋市本町一丁目9番")
    before = dump_card(card, surface)
    with pytest.raises(EndorsementAreaFull) as caught:
        _update(world, card, surface, password=None)
    assert caught.value.code == "CARD_ENDORSEMENT_AREA_FULL"
    assert dump_card(card, surface) == before  # nothing written
    assert _chip(card).read_text_data(TEXT_PIN).items.address == "群馬県前橋市大手町4丁目1番"
    assert world.life.card(card.card_id).data_stale


def test_a_move_to_another_municipality_updates_with_the_continued_use(world: World) -> None:
    r, card = _issued(world)
    planned = world.clock.today() + dt.timedelta(days=3)
    world.regs.municipality(MAEBASHI).move_out(
        r.resident_code, planned_on=planned, destination="神戸市", destination_lg_code=KOBE
    )
    _pump(world)
    with pytest.raises(HolderNotResident):  # moved out, the move-in not registered yet
        _update(world, card, CardSurface())
    world.later(4)
    kobe = "兵庫県神戸市中央区加納町6-5-1"
    world.regs.municipality(KOBE).move_in(
        r.resident_code, from_lg_code=MAEBASHI, on=world.clock.today(), address=kobe
    )
    _pump(world)
    assert world.life.card(card.card_id).data_stale_items == ("address",)
    done = _update(world, card, CardSurface())
    assert done.continued
    assert done.record.lg_code == KOBE
    assert _chip(card).read_text_data(TEXT_PIN).items.address == kobe
    with world.life.store.transaction() as s:
        assert s.execute(moves.select()).all() == []
    world.later(120)  # past the continued-use deadline: the card stays
    assert world.life.check_deadlines() == []
    assert world.life.card(card.card_id).status is CardStatus.ACTIVE


def test_a_child_gets_no_signature_certificate(world: World) -> None:
    r, card = _issued(world, born=world.clock.today().replace(year=world.clock.today().year - 10))
    _move_within(world, r)
    with pytest.raises(OpenMynaError) as caught:
        _update(world, card, CardSurface())
    assert caught.value.code == "SIGN_CERT_UNDER_15"
    done = _update(world, card, CardSurface(), password=None)
    assert done.changed_items == ("address",)
    assert done.new_sign_cert is None


def test_an_update_of_a_suspended_or_foreign_card_is_refused(world: World) -> None:
    r, card = _issued(world)
    _move_within(world, r)
    world.life.report_lost(card.card_id)
    with pytest.raises(CardTransitionRefused):
        _update(world, card, CardSurface())
    world.life.report_found(card.card_id)
    with world.life.store.transaction() as s:  # a card whose chip is not the register's holder
        s.execute(
            cards.update()
            .where(cards.c.card_id == card.card_id)
            .values(resident_code=world.adult(dt.date(1970, 1, 2)).resident_code)
        )
    with pytest.raises(CardStateError):
        _update(world, card, CardSurface())


def test_a_crash_before_the_register_is_finished_by_running_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    r, card = _issued(world)
    _move_within(world, r)
    surface = CardSurface()

    def crash(*_a: object, **_k: object) -> None:
        raise OSError("power cut")

    with monkeypatch.context() as m:
        m.setattr(world.life.register, "record_update", crash)
        with pytest.raises(OSError, match="power cut"):
            _update(world, card, surface)
    crashed_cert = sign_cert_on(card)
    assert crashed_cert is not None
    assert world.life.card(card.card_id).data_stale  # the register did not record it
    done = _update(world, card, surface)  # the counter runs it again
    assert done.changed_items == ()  # the chip was written
    assert crashed_cert.serial_number in world.jpki.revoked  # no certificate is left behind
    record = world.life.card(card.card_id)
    assert not record.data_stale
    assert record.sign_cert_serial == done.new_sign_cert
    assert len(surface.endorsements) == 1
