"""The outbox: events staged in a domain's own transaction reach the bus exactly as staged."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from bus_effects import effects, open_effects, outbox
from sqlalchemy import func, select

from openmyna.bus import Bus, Event, new_event, relay, stage
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.store import Store

MakeBus = Callable[[], Bus]


@pytest.fixture
def store(any_bus_settings: Settings) -> Iterator[Store]:
    """The producing domain's own database."""
    s = open_effects(any_bus_settings)
    yield s
    s.close()


def staged(store: Store) -> int:
    with store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_staged_events_are_relayed_in_order(
    make_bus: MakeBus, store: Store, clock: FixedClock
) -> None:
    bus = make_bus()
    got: list[Event] = []
    bus.subscribe("portal", ["registry.>"], got.append)
    sent = [
        new_event("registry.moved_out", "registry.102016", clock.now(), {"n": n}) for n in range(7)
    ]
    with store.transaction() as session:
        session.execute(effects.insert().values(consumer="registry", event_id="move-1"))
        stage(session, outbox, sent[:4])
    with store.transaction() as session:
        stage(session, outbox, sent[4:])
    assert bus.pump() == 0  # staged is not published
    assert relay(store.transaction, outbox, bus, batch=3) == 7
    assert staged(store) == 0
    bus.pump()
    assert got == sent
    assert relay(store.transaction, outbox, bus) == 0


def test_rolled_back_change_publishes_nothing(
    make_bus: MakeBus, store: Store, clock: FixedClock
) -> None:
    bus = make_bus()
    got: list[Event] = []
    bus.subscribe("portal", [">"], got.append)

    def change_that_fails() -> None:
        with store.transaction() as session:
            stage(session, outbox, [new_event("registry.died", "s", clock.now(), {})])
            raise RuntimeError("the registry change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert relay(store.transaction, outbox, bus) == 0
    bus.pump()
    assert got == []


def test_crash_after_publish_before_delete_is_harmless(
    make_bus: MakeBus, store: Store, clock: FixedClock
) -> None:
    bus = make_bus()
    got: list[Event] = []
    bus.subscribe("portal", [">"], got.append)
    sent = [new_event("registry.born", "s", clock.now(), {"n": n}) for n in range(3)]
    with store.transaction() as session:
        stage(session, outbox, sent)

    class DiesAfterPublish:
        def __init__(self, inner: Bus) -> None:
            self.inner = inner

        def publish(self, events: list[Event]) -> None:
            self.inner.publish(events)
            raise SystemExit("killed between publish and delete")

    with pytest.raises(SystemExit):
        relay(store.transaction, outbox, DiesAfterPublish(bus))  # type: ignore[arg-type]
    assert staged(store) == 3  # the delete was rolled back
    assert relay(store.transaction, outbox, bus) == 3
    bus.pump()
    assert got == sent  # the repeat publish was de-duplicated by event id
