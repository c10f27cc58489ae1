"""Bulk initial registration (初期登録) for seeding."""

from __future__ import annotations

import math

import pytest
from registry_helpers import MAEBASHI, households, on_bus, snapshot
from sqlalchemy import select

from openmyna.builder import Builder
from openmyna.bus import staged
from openmyna.clock import FixedClock
from openmyna.registry import (
    Arrival,
    EventType,
    IdentityStatus,
    InvalidResidentData,
    Registries,
    Status,
)
from openmyna.registry.bulk import EVENT_CHUNK
from openmyna.registry.tables import audit_log, outbox


def test_bulk_registration_of_2000_residents(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    seen: list[int] = []
    items = households(2000)
    result = a.register_households(items, batch_size=700, progress=seen.append)
    assert result.residents == 2000
    assert result.households == len(items)
    assert seen == sorted(seen)
    assert seen[-1] == 2000
    assert len(seen) == 3  # batches of >= 700 residents (whole households)
    assert a.count() == 2000

    # Every resident is in the index with the number the registry holds.
    assert regs.index.count(lg_code=MAEBASHI, status=IdentityStatus.CURRENT) == 2000
    sample = a.list_residents(limit=2000)
    assert len({r.resident_code for r in sample}) == 2000
    assert len({r.individual_number for r in sample}) == 2000
    for r in sample[::97]:
        entry = regs.index.by_resident_code(r.resident_code)
        assert entry.individual_number == r.individual_number
        assert entry.address == r.address
        assert r.arrival is Arrival.REGISTERED
        assert r.status is Status.CURRENT

    # Households keep their head and members.
    first = sample[0]
    hh = a.household(first.household_id)
    assert hh.head_resident_code == first.resident_code
    assert hh.members[0].relationship.value == "世帯主"

    # Events in chunks, one audit row per resident naming its event, everything relayed.
    with a.store.transaction() as s:
        audited = s.execute(select(audit_log.c.action, audit_log.c.event_id)).all()
    assert len(audited) == 2000
    assert {action for action, _ in audited} == {EventType.REGISTERED.value}
    assert len({event_id for _, event_id in audited}) == result.events
    assert result.events >= math.ceil(2000 / EVENT_CHUNK)
    assert a.pending_events() == 0


def test_a_refused_bulk_registration_writes_nothing(regs: Registries, clock: FixedClock) -> None:
    a = regs.municipality(MAEBASHI)
    items = households(100)
    bad = items[30]
    broken = type(bad)(bad.address, (*bad.members, bad.members[0]))  # a second head
    items[30] = broken
    before = snapshot(a.store)
    with pytest.raises(InvalidResidentData) as info:
        a.register_households(items, batch_size=10)  # the bad one would be in batch 3
    assert info.value.context["household_index"] == 30
    assert snapshot(a.store) == before


def test_bulk_events_are_staged_in_the_outbox(parts: Builder) -> None:
    quiet = on_bus(parts, None)  # no bus: the events wait in the outbox
    try:
        quiet.add_municipality(MAEBASHI)
        a = quiet.municipality(MAEBASHI)
        result = a.register_households(households(1200), batch_size=5000)
        with a.store.transaction() as s:
            events = staged(s, outbox)
            rows = s.execute(select(audit_log.c.resident_code, audit_log.c.event_id)).all()
        assert len(events) == result.events == a.pending_events()
        assert {e.type for e in events} == {EventType.REGISTERED.value}
        assert {e.source for e in events} == {f"registry.{MAEBASHI}"}
        people = [(e.id, p) for e in events for p in e.data["residents"]]
        assert max(len(e.data["residents"]) for e in events) == EVENT_CHUNK
        assert len(people) == result.residents
        # Each resident's audit row names the event that carries them.
        assert {p["resident_code"]: event_id for event_id, p in people} == dict(rows)
    finally:
        quiet.close()
