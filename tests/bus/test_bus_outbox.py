"""The outbox: events staged in a domain's own transaction reach the bus exactly as staged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
from bus_effects import effects, open_effects, outbox
from sqlalchemy import select

from openmyna.bus import (
    Bus,
    Event,
    new_event,
    outbox_rows,
    relay,
    stage,
    staged,
    staged_count,
)
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput
from openmyna.store import Store

MakeBus = Callable[[], Bus]


@pytest.fixture
def store(any_bus_settings: Settings) -> Iterator[Store]:
    """The producing domain's own database."""
    s = open_effects(any_bus_settings)
    yield s
    s.close()


def waiting(store: Store) -> int:
    with store.transaction() as session:
        return staged_count(session, outbox)


def listening(make_bus: MakeBus) -> tuple[Bus, list[Event]]:
    """A bus and what its consumer ``portal`` receives of every event."""
    bus = make_bus()
    got: list[Event] = []
    bus.subscribe("portal", [">"], got.append)
    return bus, got


def stage_births(store: Store, clock: FixedClock, n: int) -> list[Event]:
    """Stage ``n`` events in one transaction; the events."""
    sent = [new_event("registry.born", "s", clock.now(), {"n": i}) for i in range(n)]
    with store.transaction() as session:
        stage(session, outbox, sent)
    return sent


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
    assert waiting(store) == 0
    bus.pump()
    assert got == sent
    assert relay(store.transaction, outbox, bus) == 0


def test_rolled_back_change_publishes_nothing(
    make_bus: MakeBus, store: Store, clock: FixedClock
) -> None:
    bus, got = listening(make_bus)

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
    bus, got = listening(make_bus)
    sent = stage_births(store, clock, 3)

    class DiesAfterPublish:
        def __init__(self, inner: Bus) -> None:
            self.inner = inner

        def publish(self, events: Sequence[Event]) -> None:
            self.inner.publish(events)
            raise SystemExit("killed between publish and delete")

    with pytest.raises(SystemExit):
        relay(store.transaction, outbox, DiesAfterPublish(bus))
    assert waiting(store) == 3  # the delete was rolled back
    assert relay(store.transaction, outbox, bus) == 3
    bus.pump()
    assert got == sent  # the repeat publish was de-duplicated by event id


JST = dt.timezone(dt.timedelta(hours=9))


def test_rows_hold_checked_json_text_and_utc(clock: FixedClock) -> None:
    event = new_event(
        "registry.moved_in", "registry.281000", clock.now().astimezone(JST), {"住所": "神戸市1番"}
    )
    (row,) = outbox_rows([event])
    assert row["event_id"] == event.id
    assert (row["type"], row["source"]) == (event.type, event.source)
    assert row["occurred_at"].utcoffset() == dt.timedelta(0)
    assert row["occurred_at"] == event.occurred_at
    assert json.loads(row["data"]) == {"住所": "神戸市1番"}
    assert "神戸市" in row["data"]  # stored readable, as text for executemany and COPY


@pytest.mark.parametrize(
    "broken",
    [
        {"id": "not an id!"},
        {"type": "registry..died"},
        {"source": ""},
        {"occurred_at": dt.datetime(2026, 3, 1, 12, 0)},  # naive
        {"data": {"secret": {1, 2}}},  # not JSON
    ],
)
def test_events_that_cannot_be_published_are_not_staged(
    store: Store, clock: FixedClock, broken: dict[str, object]
) -> None:
    good = new_event("registry.died", "registry.102016", clock.now(), {"n": 1})
    bad = dataclasses.replace(good, **broken)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput), store.transaction() as session:
        stage(session, outbox, [good, bad])
    assert waiting(store) == 0


def test_staged_lists_what_waits_in_order(store: Store, clock: FixedClock) -> None:
    sent = [
        new_event("registry.born", "registry.102016", clock.now().astimezone(JST), {"n": n})
        for n in range(5)
    ]
    with store.transaction() as session:
        stage(session, outbox, sent[:2])
        stage(session, outbox, [])
        stage(session, outbox, sent[2:])
    with store.transaction() as session:
        assert staged(session, outbox) == sent
        assert staged(session, outbox, limit=2) == sent[:2]
        assert staged_count(session, outbox) == 5
        got = session.execute(select(outbox.c.occurred_at)).scalars().first()
    assert got is not None
    # SQLite keeps no offset: the naive value must be the UTC time.
    assert (got if got.tzinfo else got.replace(tzinfo=dt.UTC)) == sent[0].occurred_at


def test_concurrent_relays_publish_each_event_once(
    make_bus: MakeBus, store: Store, clock: FixedClock
) -> None:
    bus, got = listening(make_bus)
    sent = stage_births(store, clock, 40)
    counts: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: counts.append(relay(store.transaction, outbox, bus, batch=7))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(counts) == 3
    assert sum(counts) >= 40  # a batch two relays read at once goes out twice
    assert waiting(store) == 0
    while bus.pump(timeout=0.5):
        pass
    assert got == sent  # in order, repeats absorbed by event id
