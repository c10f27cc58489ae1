"""The transactional outbox: a crash between commit and publish loses no event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from registry_helpers import MAEBASHI, on_bus, person

from openmyna.builder import Builder
from openmyna.bus import Bus, Event, open_bus, staged_count
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import Unavailable
from openmyna.registry import IdentityNotFound, IdentityStatus, Registries
from openmyna.registry.tables import outbox


class BrokenBus:
    """A bus whose publishing fails: the broker is down, or (``stores``) its answer is lost."""

    def __init__(self, inner: Bus, *, stores: bool = False) -> None:
        self.inner = inner
        self.stores = stores
        self.broken = True
        self.attempts = 0

    def publish(self, events: Sequence[Event]) -> None:
        self.attempts += 1
        if self.stores or not self.broken:
            self.inner.publish(events)
        if self.broken:
            raise Unavailable("bus down")

    def subscribe(self, consumer: str, subjects: Sequence[str], handler: object) -> None:
        self.inner.subscribe(consumer, subjects, handler)  # type: ignore[arg-type]

    def pump(self, *, timeout: float = 0.0) -> int:
        return self.inner.pump(timeout=timeout)

    def close(self) -> None:
        self.inner.close()


def _unsent(regs: Registries) -> int:
    with regs.municipality(MAEBASHI).store.transaction() as s:
        return staged_count(s, outbox)


def test_crash_between_commit_and_publish_loses_nothing(
    settings: Settings, clock: FixedClock, parts: Builder
) -> None:
    broken = BrokenBus(open_bus(settings))
    regs = on_bus(parts, broken)
    regs.add_municipality(MAEBASHI)
    a = regs.municipality(MAEBASHI)
    r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
    assert broken.attempts >= 1  # the relay tried, and failed after the commit
    assert a.get(r.resident_code).resident_code == r.resident_code  # the change is committed
    assert _unsent(regs) == 1
    with pytest.raises(IdentityNotFound):
        regs.index.by_resident_code(r.resident_code)  # the index never heard of it
    regs.close()
    broken.close()

    # Restart with a working bus: opening relays the outbox, the index catches up.
    bus = open_bus(settings)
    regs = on_bus(parts, bus)
    try:
        assert _unsent(regs) == 0
        entry = regs.index.by_resident_code(r.resident_code)
        assert entry.status is IdentityStatus.CURRENT
        assert entry.individual_number == r.individual_number
    finally:
        regs.close()
        bus.close()


def test_publishing_disabled_keeps_events_until_sync(
    settings: Settings, clock: FixedClock, parts: Builder
) -> None:
    bus = open_bus(settings)
    regs = on_bus(parts, bus, auto_relay=False)
    try:
        regs.add_municipality(MAEBASHI)
        a = regs.municipality(MAEBASHI)
        r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
        a.change_name(r.resident_code, on=clock.today(), given_name="一", given_name_kana="ハジメ")
        assert a.pending_events() == 2
        assert regs.sync() == 2
        assert a.pending_events() == 0
        assert regs.index.by_resident_code(r.resident_code).given_name == "一"
        assert regs.sync() == 0  # nothing left to relay
    finally:
        regs.close()
        bus.close()


def test_republished_events_have_one_effect(
    settings: Settings, clock: FixedClock, parts: Builder
) -> None:
    """The bus stored the events but the relay never heard: they go again, with one effect."""
    lossy = BrokenBus(open_bus(settings), stores=True)
    regs = on_bus(parts, lossy)
    try:
        regs.add_municipality(MAEBASHI)
        a = regs.municipality(MAEBASHI)
        r = a.move_in_from_abroad(person(), on=dt.date(2026, 3, 1), address="前橋市1番")
        a.change_name(r.resident_code, on=clock.today(), given_name="一", given_name_kana="ハジメ")
        assert lossy.attempts >= 2
        assert a.pending_events() == 2  # published, but not deleted
        lossy.broken = False
        assert regs.sync() == 2  # the same ids, published again
        assert a.pending_events() == 0
        entry = regs.index.by_resident_code(r.resident_code)
        assert (entry.version, entry.given_name) == (2, "一")
    finally:
        regs.close()
        lossy.close()
