"""The national identity index (本人確認情報): idempotent, order-safe, fed by the bus."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from registry_helpers import KOBE, MAEBASHI, on_bus, person

from openmyna.builder import Builder
from openmyna.bus import Event, open_bus, staged
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.registry import (
    IdentityNotFound,
    IdentityStatus,
    MunicipalRegistry,
    Registries,
)
from openmyna.registry.tables import outbox


def outbox_events(reg: MunicipalRegistry) -> list[Event]:
    """Every event a registry has written, oldest first, as the relay would publish them."""
    with reg.store.transaction() as s:
        return staged(s, outbox)


@pytest.fixture
def quiet(parts: Builder) -> Iterator[Registries]:
    """Registries without a bus: the tests feed the index by hand."""
    r = on_bus(parts, None)
    r.add_municipality(MAEBASHI)
    r.add_municipality(KOBE)
    yield r
    r.close()


def test_the_same_event_twice_has_one_effect(quiet: Registries, clock: FixedClock) -> None:
    a = quiet.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    a.change_name(r.resident_code, on=clock.today(), given_name="一", given_name_kana="ハジメ")
    first, second = outbox_events(a)
    assert quiet.index.apply(first) == 1
    assert quiet.index.apply(first) == 0  # redelivered: no effect
    assert quiet.index.apply(second) == 1
    assert quiet.index.apply(second) == 0
    quiet.index.handle(second)  # the bus handler path too
    entry = quiet.index.by_resident_code(r.resident_code)
    assert entry.version == 2
    assert entry.given_name == "一"
    assert entry.individual_number == r.individual_number


def test_out_of_order_delivery_keeps_the_newest(quiet: Registries, clock: FixedClock) -> None:
    a, b = quiet.municipality(MAEBASHI), quiet.municipality(KOBE)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    a.move_out(r.resident_code, planned_on=clock.today(), destination="神戸市")
    b.move_in(r.resident_code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
    arrived, moved_out = outbox_events(a)[0], outbox_events(a)[1]
    moved_in = outbox_events(b)[0]
    # 神戸市's relay ran before 前橋市's: the move-in arrives before the move-out.
    assert quiet.index.apply(arrived) == 1
    assert quiet.index.apply(moved_in) == 1
    assert quiet.index.apply(moved_out) == 0  # older than what the index holds
    entry = quiet.index.by_resident_code(r.resident_code)
    assert entry.status is IdentityStatus.CURRENT
    assert entry.lg_code == KOBE
    assert entry.address == "神戸市1番"


def test_events_carry_no_individual_number(quiet: Registries) -> None:
    a = quiet.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    (event,) = outbox_events(a)
    assert r.individual_number not in json.dumps(event.data)
    assert event.data["resident_code"] == r.resident_code
    assert event.data["lg_code"] == MAEBASHI
    assert event.data["event_date"] == "2026-03-01"
    assert {"family_name", "given_name", "address", "date_of_birth", "sex"} <= set(event.data)
    assert event.source == f"registry.{MAEBASHI}"


def test_birth_event_carries_the_card_application(quiet: Registries) -> None:
    a = quiet.municipality(MAEBASHI)
    head = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    a.birth(
        person("山田", "花", "ヤマダ", "ハナ", dt.date(2026, 3, 30)),
        household_id=head.household_id,
        card_application=True,
    )
    birth = outbox_events(a)[-1]
    assert birth.type == "registry.birth"
    assert birth.data["card_application"] is True
    assert birth.data["event_date"] == "2026-03-30"


def test_lookups(quiet: Registries) -> None:
    a = quiet.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    for event in outbox_events(a):
        quiet.index.apply(event)
    assert quiet.index.by_individual_number(r.individual_number).resident_code == r.resident_code
    assert quiet.index.count() == 1
    assert quiet.index.count(lg_code=MAEBASHI, status=IdentityStatus.CURRENT) == 1
    assert quiet.index.count(lg_code=KOBE) == 0
    with pytest.raises(IdentityNotFound):
        quiet.index.by_individual_number(_other_valid_number(r.individual_number))
    with pytest.raises(OpenMynaError) as info:
        quiet.index.by_individual_number("12345")
    assert info.value.code == "INVALID_NUMBER"


def _other_valid_number(n: str) -> str:
    from openmyna.numbers import individual_check_digit

    base = f"{(int(n[:11]) + 1) % 10**11:011d}"
    return base + str(individual_check_digit(base))


def test_index_follows_the_registries_over_each_bus(
    bus_settings: Settings, clock: FixedClock
) -> None:
    bus = open_bus(bus_settings)
    parts = Builder(bus_settings, clock)
    regs = on_bus(parts, bus)
    wait = 1.0 if bus_settings.bus_url else 0.0  # NATS delivers asynchronously
    try:
        regs.add_municipality(MAEBASHI)
        regs.add_municipality(KOBE)
        a, b = regs.municipality(MAEBASHI), regs.municipality(KOBE)
        r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
        a.move_out(r.resident_code, planned_on=clock.today(), destination="神戸市")
        b.move_in(r.resident_code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1番")
        regs.sync(timeout=wait)
        entry = regs.index.by_individual_number(r.individual_number)
        assert (entry.status, entry.lg_code, entry.seq) == (IdentityStatus.CURRENT, KOBE, 3)
        b.record_death(r.resident_code, on=clock.today())
        regs.sync(timeout=wait)
        assert regs.index.by_resident_code(r.resident_code).status is IdentityStatus.DIED
    finally:
        parts.close()
        drop = getattr(bus, "drop", None)
        if drop is not None:
            drop()
        else:
            bus.close()
