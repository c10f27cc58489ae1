"""A resident's whole life in the registries, on both storage backends."""

from __future__ import annotations

import datetime as dt

from registry_helpers import KOBE, MAEBASHI, person

from openmyna.clock import FixedClock
from openmyna.numbers import validate_individual_number, validate_resident_code
from openmyna.registry import (
    Arrival,
    IdentityStatus,
    Registries,
    Relationship,
    RemovalReason,
    Sex,
    Status,
)

D = dt.date


def test_full_lifecycle(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    b = regs.municipality(KOBE)
    today = clock.today()

    # A family arrives from abroad and settles in 前橋市.
    head = a.move_in_from_abroad(
        person(), on=D(2026, 3, 1), address="群馬県前橋市大手町二丁目12番1号", from_country="USA"
    )
    assert head.relationship is Relationship.HEAD
    assert head.arrival is Arrival.MOVED_IN_FROM_ABROAD
    validate_resident_code(head.resident_code)
    validate_individual_number(head.individual_number)
    wife = a.move_in_from_abroad(
        person("佐藤", "花子", "サトウ", "ハナコ", D(1982, 2, 3), Sex.FEMALE),
        on=D(2026, 3, 1),
        household_id=head.household_id,
        relationship="妻",
    )
    assert wife.address == head.address

    # A birth joins the household as a child (子).
    baby = a.birth(
        person("山田", "一郎", "ヤマダ", "イチロウ", D(2026, 3, 20)), household_id=head.household_id
    )
    assert baby.relationship is Relationship.CHILD
    assert baby.resident_since == D(2026, 3, 20)
    hh = a.household(head.household_id)
    assert hh.members[0].resident_code == head.resident_code
    assert {m.resident_code for m in hh.members} == {
        head.resident_code,
        wife.resident_code,
        baby.resident_code,
    }

    # Marriage name change keeping the former surname (旧氏).
    renamed = a.change_name(
        wife.resident_code,
        on=D(2026, 3, 21),
        family_name="山田",
        family_name_kana="ヤマダ",
        keep_former_surname=True,
    )
    assert renamed.name == "山田 花子"
    assert renamed.former_surname == "佐藤"
    assert renamed.former_surname_kana == "サトウ"

    # The whole household moves within 前橋市 (転居).
    moved = a.move_within(
        head.resident_code,
        on=D(2026, 3, 25),
        address="群馬県前橋市千代田町一丁目1番1号",
        whole_household=True,
    )
    assert moved.previous_address == head.address
    assert {m.address for m in a.household(head.household_id).members} == {moved.address}

    # The wife moves out to 神戸市 and in there: same code and number (転出 → 転入).
    cert = a.move_out(
        wife.resident_code,
        planned_on=today,
        destination="兵庫県神戸市中央区加納町6丁目5番1号",
        destination_lg_code=KOBE,
    )
    assert cert.resident_code == wife.resident_code
    assert cert.moved_in_at_lg_code is None
    arrived = b.move_in(
        wife.resident_code,
        from_lg_code=MAEBASHI,
        on=today,
        address="兵庫県神戸市中央区加納町6丁目5番1号",
    )
    assert arrived.resident_code == wife.resident_code
    assert arrived.individual_number == wife.individual_number
    assert arrived.former_surname == "佐藤"
    assert arrived.previous_address == moved.address
    assert arrived.moved_in_from_lg_code == MAEBASHI
    assert arrived.lg_code == KOBE

    # 前橋市 keeps a removed record (除票) that notes the move-in.
    left = a.get(wife.resident_code)
    assert left.status is Status.REMOVED
    assert left.removal_reason is RemovalReason.MOVED_OUT
    assert left.moved_in_at_lg_code == KOBE
    assert left.moved_in_at_on == today
    certificate = a.removed_record_certificate(wife.resident_code)
    assert certificate.municipality == "群馬県前橋市"
    assert certificate.removal_reason is RemovalReason.MOVED_OUT
    assert certificate.moved_in_at_lg_code == KOBE
    assert certificate.head_of_household == "山田 太郎"
    assert certificate.individual_number is None
    assert (
        a.removed_record_certificate(
            wife.resident_code, with_individual_number=True
        ).individual_number
        == wife.individual_number
    )

    # Death in 神戸市; moving abroad from 前橋市.
    died = b.record_death(wife.resident_code, on=today)
    assert died.status is Status.REMOVED
    assert died.removal_reason is RemovalReason.DIED
    assert b.removed_record_certificate(wife.resident_code).removed_on == today
    gone = a.move_abroad(head.resident_code, planned_on=today + dt.timedelta(days=7), country="USA")
    assert gone.removal_reason is RemovalReason.MOVED_ABROAD
    assert a.household(head.household_id).head_resident_code is None

    # Counts and listings.
    assert a.count() == 1  # the baby
    assert a.count(Status.REMOVED) == 2
    assert b.count() == 0
    assert regs.count() == 1
    assert [r.resident_code for r in a.list_residents(status=Status.REMOVED)] == [
        head.resident_code,  # registration order
        wife.resident_code,
    ]

    # The national index followed every event through the bus.
    ix = regs.index
    assert ix.by_resident_code(wife.resident_code).status is IdentityStatus.DIED
    assert ix.by_resident_code(wife.resident_code).lg_code == KOBE
    e = ix.by_individual_number(head.individual_number)
    assert e.resident_code == head.resident_code
    assert e.status is IdentityStatus.ABROAD
    baby_e = ix.by_resident_code(baby.resident_code)
    assert baby_e.status is IdentityStatus.CURRENT
    assert baby_e.address == "群馬県前橋市千代田町一丁目1番1号"
    assert baby_e.basic_items.sex is Sex.MALE

    # Every event has an audit record: who, when, why; no content.
    actions = [e.action for e in a.audit_entries(wife.resident_code)]
    assert actions == [
        "registry.moved_in",
        "registry.name_changed",
        "registry.moved_within",
        "registry.moved_out",
        "registry.move_in_noted",
    ]
    for entry in a.audit_entries():
        assert entry.actor == "system"
        assert "佐藤" not in entry.reason
        assert "山田" not in entry.reason


def test_returning_from_abroad_keeps_code_and_number(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    b = regs.municipality(KOBE)
    r = a.move_in_from_abroad(person(), on=D(2026, 1, 5), address="群馬県前橋市大手町1番")
    a.move_abroad(r.resident_code, planned_on=D(2026, 3, 20), country="France")
    assert regs.index.by_resident_code(r.resident_code).status is IdentityStatus.ABROAD
    back = b.move_in_from_abroad(
        person(),
        on=clock.today(),
        address="兵庫県神戸市中央区1番",
        resident_code=r.resident_code,
    )
    assert (back.resident_code, back.individual_number) == (r.resident_code, r.individual_number)
    entry = regs.index.by_resident_code(r.resident_code)
    assert entry.status is IdentityStatus.CURRENT
    assert entry.lg_code == KOBE
    assert entry.seq == 3


def test_move_back_to_the_first_municipality(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    b = regs.municipality(KOBE)
    day = clock.today()
    r = a.move_in_from_abroad(person(), on=D(2026, 1, 5), address="群馬県前橋市大手町1番")
    a.move_out(r.resident_code, planned_on=D(2026, 3, 20), destination="兵庫県神戸市")
    b.move_in(r.resident_code, from_lg_code=MAEBASHI, on=D(2026, 3, 20), address="神戸市1番")
    b.move_out(r.resident_code, planned_on=day, destination="群馬県前橋市")
    back = a.move_in(r.resident_code, from_lg_code=KOBE, on=day, address="前橋市2番")
    assert back.status is Status.CURRENT
    assert a.get(r.resident_code).address == "前橋市2番"  # the current record wins
    assert a.count(Status.REMOVED) == 1
    assert regs.index.by_resident_code(r.resident_code).lg_code == MAEBASHI


def test_moving_a_person_into_another_household(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    one = a.move_in_from_abroad(person(), on=D(2026, 1, 5), address="前橋市1番")
    other = person("鈴木", "次郎", "スズキ", "ジロウ", D(1990, 1, 1))
    two = a.move_in_from_abroad(other, on=D(2026, 1, 5), address="前橋市2番")
    moved = a.move_within(
        two.resident_code,
        on=clock.today(),
        household_id=one.household_id,
        relationship=Relationship.COHABITANT,
    )
    assert moved.address == "前橋市1番"
    assert moved.relationship is Relationship.COHABITANT
    assert len(a.household(one.household_id).members) == 2
    assert a.household(two.household_id).members == ()
