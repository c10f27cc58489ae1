"""Impossible transitions are refused with a stable code, and nothing partial is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from registry_helpers import KOBE, MAEBASHI, person, snapshot

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.numbers import NumberingAuthority
from openmyna.registry import NewHousehold, Registries, Sex

D = dt.date


class World:
    """Two registries with a few residents, and a way to see every byte they hold."""

    def __init__(self, regs: Registries, settings: Settings, clock: FixedClock) -> None:
        self.regs = regs
        self.a = regs.municipality(MAEBASHI)
        self.b = regs.municipality(KOBE)
        self.today = clock.today()
        self.head = self.a.move_in_from_abroad(person(), on=D(2026, 1, 10), address="前橋市1番")
        self.child = self.a.birth(
            person("山田", "花", "ヤマダ", "ハナ", D(2026, 2, 1), Sex.FEMALE),
            household_id=self.head.household_id,
        )
        self.dead = self.a.move_in_from_abroad(
            person("田中", "三郎", "タナカ", "サブロウ", D(1950, 1, 1)),
            on=D(2026, 1, 10),
            address="前橋市2番",
        )
        self.a.record_death(self.dead.resident_code, on=D(2026, 3, 1))
        self.leaving = self.a.move_in_from_abroad(
            person("高橋", "四郎", "タカハシ", "シロウ", D(1990, 1, 1)),
            on=D(2026, 1, 10),
            address="前橋市3番",
        )
        self.a.move_out(self.leaving.resident_code, planned_on=self.today, destination="神戸市")
        self.b.move_in(
            self.leaving.resident_code, from_lg_code=MAEBASHI, on=self.today, address="神戸市1番"
        )
        self.numbers = NumberingAuthority.open(settings)

    def state(self) -> Any:
        bus_store = getattr(self.regs.bus, "store", None)
        return (
            snapshot(self.a.store),
            snapshot(self.b.store),
            snapshot(self.regs.index.store),
            snapshot(bus_store) if bus_store is not None else None,
            self.numbers.serials_issued(),
        )


@pytest.fixture
def world(regs: Registries, settings: Settings, clock: FixedClock) -> Iterator[World]:
    """A small populated world."""
    w = World(regs, settings, clock)
    yield w
    w.numbers.close()


def refused(world: World, code: str, action: Callable[[], object]) -> OpenMynaError:
    """Run ``action``, expect the error ``code``, and check that nothing changed anywhere."""
    before = world.state()
    with pytest.raises(OpenMynaError) as info:
        action()
    assert info.value.code == code, info.value.diagnostics()
    assert world.state() == before
    return info.value


def test_events_on_a_deceased_resident_are_refused(world: World) -> None:
    a, code, day = world.a, world.dead.resident_code, world.today
    refused(world, "RESIDENT_REMOVED", lambda: a.move_within(code, on=day, address="前橋市9番"))
    refused(
        world, "RESIDENT_REMOVED", lambda: a.move_out(code, planned_on=day, destination="神戸市")
    )
    refused(world, "RESIDENT_REMOVED", lambda: a.record_death(code, on=day))
    refused(world, "RESIDENT_REMOVED", lambda: a.move_abroad(code, planned_on=day, country="USA"))
    refused(
        world,
        "RESIDENT_REMOVED",
        lambda: a.change_name(code, on=day, given_name="一", given_name_kana="ハジメ"),
    )


def test_move_in_without_a_move_out_is_refused(world: World) -> None:
    b, day = world.b, world.today
    # Still a current resident of 前橋市: no move-out certificate exists.
    refused(
        world,
        "NO_MOVE_OUT",
        lambda: b.move_in(world.head.resident_code, from_lg_code=MAEBASHI, on=day, address="x"),
    )
    # Died, did not move out.
    refused(
        world,
        "NO_MOVE_OUT",
        lambda: b.move_in(world.dead.resident_code, from_lg_code=MAEBASHI, on=day, address="x"),
    )


def test_a_completed_move_out_cannot_be_claimed_again(world: World) -> None:
    regs = world.regs
    regs.add_municipality("372013")
    c = regs.municipality("372013")
    code = world.leaving.resident_code
    refused(
        world,
        "NO_MOVE_OUT",
        lambda: c.move_in(code, from_lg_code=MAEBASHI, on=world.today, address="高松市1番"),
    )


def test_duplicate_residents_are_refused(world: World) -> None:
    a, b, day = world.a, world.b, world.today
    # Returning from abroad with the code of someone who is a current resident.
    refused(
        world,
        "DUPLICATE_RESIDENT",
        lambda: b.move_in_from_abroad(
            person(), on=day, address="神戸市2番", resident_code=world.head.resident_code
        ),
    )
    # Moving in a second time from another municipality than the record came from.
    refused(
        world,
        "DUPLICATE_RESIDENT",
        lambda: b.move_in(
            world.leaving.resident_code, from_lg_code="372013", on=day, address="神戸市2番"
        ),
    )
    # Re-registering a code already current here, as if new from abroad.
    refused(
        world,
        "DUPLICATE_RESIDENT",
        lambda: a.move_in_from_abroad(
            person(), on=day, address="前橋市2番", resident_code=world.head.resident_code
        ),
    )


def test_invalid_dates_are_refused(world: World) -> None:
    a, day = world.a, world.today
    head = world.head.resident_code
    tomorrow = day + dt.timedelta(days=1)
    refused(
        world,
        "INVALID_DATE",
        lambda: a.birth(person(born=tomorrow), household_id=world.head.household_id),
    )
    refused(world, "INVALID_DATE", lambda: a.move_within(head, on=tomorrow, address="前橋市9番"))
    refused(world, "INVALID_DATE", lambda: a.record_death(head, on=tomorrow))
    # Before the date of birth, before the last recorded event.
    refused(
        world, "INVALID_DATE", lambda: a.record_death(world.child.resident_code, on=D(2026, 1, 1))
    )
    refused(world, "INVALID_DATE", lambda: a.move_within(head, on=D(2026, 1, 9), address="9番"))
    # Move-out planned too far back or too far ahead (notification window: 14 days).
    refused(
        world,
        "INVALID_DATE",
        lambda: a.move_out(head, planned_on=day - dt.timedelta(days=15), destination="神戸市"),
    )
    refused(
        world,
        "INVALID_DATE",
        lambda: a.move_out(head, planned_on=day + dt.timedelta(days=15), destination="神戸市"),
    )
    refused(
        world,
        "INVALID_DATE",
        lambda: a.move_abroad(head, planned_on=day + dt.timedelta(days=30), country="USA"),
    )
    refused(
        world,
        "INVALID_DATE",
        lambda: a.move_in_from_abroad(person(born=D(2000, 1, 1)), on=D(1999, 1, 1), address="x"),
    )
    refused(
        world,
        "INVALID_DATE",
        lambda: a.register_households(
            [NewHousehold("前橋市5番", (person(born=tomorrow),))], on=day
        ),
    )


def test_invalid_codes_are_refused(world: World) -> None:
    a, b, day = world.a, world.b, world.today
    code = world.head.resident_code
    refused(
        world,
        "INVALID_LG_CODE",
        lambda: b.move_in(code, from_lg_code="102015", on=day, address="神戸市1番"),
    )
    refused(
        world,
        "INVALID_LG_CODE",
        lambda: a.move_out(code, planned_on=day, destination="x", destination_lg_code="28100"),
    )
    bad = code[:-1] + str((int(code[-1]) + 1) % 10)
    refused(world, "INVALID_NUMBER", lambda: a.move_within(bad, on=day, address="前橋市9番"))
    refused(world, "INVALID_NUMBER", lambda: a.get("123"))


def test_unknown_resident_and_household_are_refused(world: World) -> None:
    a, day = world.a, world.today
    fresh = world.numbers.issue(1)[0].resident_code  # a valid code nobody registered
    before_serials = world.numbers.serials_issued()
    refused(world, "RESIDENT_NOT_FOUND", lambda: a.record_death(fresh, on=day))
    refused(
        world,
        "HOUSEHOLD_NOT_FOUND",
        lambda: a.birth(person(born=day), household_id="0123456789abcdef"),
    )
    assert world.numbers.serials_issued() == before_serials  # no number was spent


def test_invalid_resident_data_is_refused(world: World) -> None:
    a, day = world.a, world.today
    hid = world.head.household_id
    refused(
        world,
        "INVALID_RESIDENT_DATA",
        lambda: a.birth(person(given_kana="hana", born=day), household_id=hid),
    )
    refused(
        world,
        "INVALID_RESIDENT_DATA",
        lambda: a.birth(person(born=day, relationship="世帯主"), household_id=hid),
    )
    refused(
        world,
        "INVALID_RESIDENT_DATA",
        lambda: a.move_in_from_abroad(person(family=" "), on=day, address="前橋市1番"),
    )
    refused(
        world,
        "INVALID_RESIDENT_DATA",
        lambda: a.change_name(world.head.resident_code, on=day, family_name="佐藤"),
    )
    refused(
        world,
        "INVALID_RESIDENT_DATA",
        lambda: a.register_households(
            [
                NewHousehold("前橋市5番", (person(relationship="世帯主"),)),
                NewHousehold("前橋市6番", (person(relationship="子"),)),  # no head
            ],
            on=day,
        ),
    )
