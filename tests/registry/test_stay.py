"""A foreign resident's period of stay (在留期間等の満了の日): recorded, carried, optional."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from registry_helpers import KOBE, MAEBASHI, person

from openmyna.bus import Bus, Event
from openmyna.clock import FixedClock
from openmyna.registry import InvalidDate, NewHousehold, Registries

STAY = dt.date(2027, 9, 30)


def _listen(bus: Bus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe("stay-test-listener", ["registry.>"], seen.append)
    return seen


def test_the_period_of_stay_is_recorded_indexed_and_moves_with_the_person(
    regs: Registries, bus: Bus, clock: FixedClock
) -> None:
    seen = _listen(bus)
    a, b = regs.municipality(MAEBASHI), regs.municipality(KOBE)
    r = a.move_in_from_abroad(
        replace(person(), stay_expires_on=STAY), on=dt.date(2026, 3, 1), address="前橋市1番"
    )
    assert r.stay_expires_on == STAY
    assert a.get(r.resident_code).stay_expires_on == STAY
    assert "2027" not in repr(r)  # personal data: masked like the 4 items
    bus.pump()
    (event,) = seen
    assert event.data["stay_expires_on"] == "2027-09-30"
    assert regs.index.by_resident_code(r.resident_code).stay_expires_on == STAY

    cert = a.move_out(
        r.resident_code, planned_on=clock.today(), destination="神戸市", destination_lg_code=KOBE
    )
    assert cert.stay_expires_on == STAY
    moved = b.move_in(r.resident_code, from_lg_code=MAEBASHI, on=clock.today(), address="神戸市1")
    assert moved.stay_expires_on == STAY
    assert regs.index.by_resident_code(r.resident_code).stay_expires_on == STAY


def test_a_japanese_national_has_none_and_the_events_say_nothing(
    regs: Registries, bus: Bus
) -> None:
    seen = _listen(bus)
    a = regs.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    assert r.stay_expires_on is None
    bus.pump()
    (event,) = seen
    assert "stay_expires_on" not in event.data
    assert regs.index.by_resident_code(r.resident_code).stay_expires_on is None


def test_bulk_registration_keeps_the_period_of_stay(regs: Registries) -> None:
    a = regs.municipality(MAEBASHI)
    head = replace(person(), stay_expires_on=STAY)
    child = replace(
        person(given="花", given_kana="ハナ", born=dt.date(2015, 6, 1)), relationship="子"
    )
    a.register_households([NewHousehold("前橋市2番", (head, child))], on=dt.date(2026, 3, 1))
    stays = {r.given_name: r.stay_expires_on for r in a.list_residents()}
    assert stays == {"太郎": STAY, "花": None}
    for r in a.list_residents():
        assert regs.index.by_resident_code(r.resident_code).stay_expires_on == stays[r.given_name]


def test_a_period_of_stay_must_be_a_date_after_the_birth(regs: Registries) -> None:
    a = regs.municipality(MAEBASHI)
    bad: list[object] = [
        dt.date(1980, 5, 17),
        dt.datetime(2027, 9, 30, tzinfo=dt.UTC),
        "2027-09-30",
    ]
    for value in bad:
        with pytest.raises(InvalidDate) as err:
            a.move_in_from_abroad(
                replace(person(), stay_expires_on=value),  # type: ignore[arg-type]
                on=dt.date(2026, 3, 1),
                address="前橋市1番",
            )
        assert err.value.context["field"] == "stay_expires_on"
    assert a.count() == 0
