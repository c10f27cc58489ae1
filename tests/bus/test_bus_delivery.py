"""Delivery on every bus: order, wildcards, fan-out, de-duplication, restarts, waiting."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest

from openmyna.bus import Bus, BusClosed, ConsumerConflict, Event, InvalidSubject, new_event
from openmyna.clock import JST, FixedClock
from openmyna.errors import InvalidInput

MakeBus = Callable[[], Bus]


def events(clock: FixedClock, kind: str, count: int, start: int = 0) -> list[Event]:
    """``count`` events of type ``kind`` numbered ``start``.. in ``data["n"]``."""
    out = []
    for n in range(start, start + count):
        out.append(new_event(kind, "registry.102016", clock.now(), {"n": n}))
        clock.advance(dt.timedelta(seconds=1))
    return out


def collect(bus: Bus, consumer: str, subjects: list[str]) -> list[Event]:
    """Subscribe ``consumer`` and return the list its handler appends to."""
    got: list[Event] = []
    bus.subscribe(consumer, subjects, got.append)
    return got


def test_delivers_every_event_in_publish_order(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    sent = events(clock, "registry.moved_out", 30)
    bus.publish(sent[:10])
    bus.publish(sent[10:11])
    bus.publish(sent[11:])
    got = collect(bus, "pki", ["registry.moved_out"])
    assert bus.pump() == 30
    assert got == sent
    assert bus.pump() == 0
    assert len(got) == 30


def test_event_comes_back_as_it_was_sent(make_bus: MakeBus) -> None:
    bus = make_bus()
    at = dt.datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=JST)
    data = {
        "lg_code": "102016",
        "name_kana": "ヤマダ タロウ",
        "nested": {"list": [1, 2.5, None, True], "empty": {}},
    }
    sent = new_event("registry.name_changed", "registry.102016", at, data)
    bus.publish([sent])
    got = collect(bus, "c", [">"])
    bus.pump()
    assert got == [sent]
    assert got[0].data == data
    assert got[0].occurred_at == at
    assert got[0].occurred_at.utcoffset() is not None


def test_wildcard_subjects(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    kinds = [
        "registry.moved_out",
        "pki.revoked",
        "registry.moved_in",
        "registry.abroad.moved",
        "pki.issued",
        "registry_x.moved_out",
    ]
    sent = [new_event(k, "s", clock.now(), {}) for k in kinds]
    bus.publish(sent)
    got = {
        "star": collect(bus, "star", ["registry.*"]),
        "tail": collect(bus, "tail", ["registry.>"]),
        "two": collect(bus, "two", ["pki.revoked", "registry.moved_in"]),
        "first": collect(bus, "first", ["*.moved_out"]),
        "all": collect(bus, "all", [">"]),
        "exact": collect(bus, "exact", ["pki.issued"]),
        "mixed": collect(bus, "mixed", ["pki.*", "*.abroad.>"]),
    }
    bus.pump()
    types = {name: [e.type for e in evs] for name, evs in got.items()}
    assert types == {
        "star": ["registry.moved_out", "registry.moved_in"],
        "tail": ["registry.moved_out", "registry.moved_in", "registry.abroad.moved"],
        "two": ["pki.revoked", "registry.moved_in"],
        "first": ["registry.moved_out", "registry_x.moved_out"],
        "all": kinds,
        "exact": ["pki.issued"],
        "mixed": ["pki.revoked", "registry.abroad.moved", "pki.issued"],
    }


def test_two_consumers_each_get_everything(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    sent = events(clock, "registry.died", 12)
    bus.publish(sent)
    first = collect(bus, "portal", ["registry.>"])
    second = collect(bus, "pki", ["registry.>"])
    assert bus.pump() == 24
    assert first == sent
    assert second == sent


def test_consumers_on_separate_buses_share_the_log(make_bus: MakeBus, clock: FixedClock) -> None:
    publisher, one, other = make_bus(), make_bus(), make_bus()
    sent = events(clock, "registry.born", 5)
    publisher.publish(sent)
    got_one = collect(one, "one", ["registry.born"])
    got_other = collect(other, "other", ["registry.born"])
    assert one.pump() == 5
    assert other.pump() == 5
    assert got_one == sent
    assert got_other == sent


def test_duplicate_publish_is_delivered_once(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    a, b, c = events(clock, "registry.moved_in", 3)
    bus.publish([a, b])
    bus.publish([b, c])
    bus.publish([c, c, a])
    got = collect(bus, "c", ["registry.>"])
    assert bus.pump() == 3
    assert got == [a, b, c]


def test_restart_resumes_from_the_durable_position(make_bus: MakeBus, clock: FixedClock) -> None:
    first = make_bus()
    sent = events(clock, "registry.moved_out", 8)
    first.publish(sent[:5])
    got = collect(first, "pki", ["registry.>"])
    assert first.pump() == 5
    first.close()

    second = make_bus()
    second.publish(sent[5:])
    again = collect(second, "pki", ["registry.>"])
    assert second.pump() == 3
    assert again == sent[5:]
    assert got == sent[:5]


def test_new_consumer_starts_at_the_beginning(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    sent = events(clock, "registry.moved_out", 4)
    bus.publish(sent)
    early = collect(bus, "early", [">"])
    bus.pump()
    late_bus = make_bus()
    late = collect(late_bus, "late", [">"])
    late_bus.pump()
    assert early == sent
    assert late == sent


def test_changing_subjects_keeps_the_position(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    a1 = new_event("a.one", "s", clock.now(), {})
    b1 = new_event("b.one", "s", clock.now(), {})
    a2 = new_event("a.two", "s", clock.now(), {})
    b2 = new_event("b.two", "s", clock.now(), {})
    bus.publish([a1, b1])
    got = collect(bus, "c", ["a.>"])
    bus.pump()
    assert got == [a1]
    bus.close()

    bus = make_bus()
    bus.publish([a2, b2])
    got = collect(bus, "c", ["a.>", "b.>"])
    bus.pump()
    # What came after the position is filtered anew; a1 is not handed out again. b1 was
    # published before the change: the local bus had already scanned past it, NATS resumes at
    # its last acknowledged event, so it may or may not come (documented).
    assert got[-2:] == [a2, b2]
    assert got[:-2] in ([], [b1])


def test_same_consumer_twice_on_one_bus_is_refused(make_bus: MakeBus) -> None:
    bus = make_bus()
    bus.subscribe("c", ["a.>"], lambda e: None)
    with pytest.raises(ConsumerConflict) as err:
        bus.subscribe("c", ["a.>"], lambda e: None)
    assert err.value.code == "BUS_CONSUMER_CONFLICT"


def test_pump_waits_for_a_late_event(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    publisher = make_bus()
    got = collect(bus, "c", ["late.>"])
    assert bus.pump() == 0
    late = new_event("late.arrival", "s", clock.now(), {})
    timer = threading.Timer(0.3, publisher.publish, args=([late],))
    timer.start()
    started = time.monotonic()
    try:
        handled = bus.pump(timeout=10.0)
    finally:
        timer.join()
    assert handled == 1
    assert got == [late]
    assert time.monotonic() - started < 5.0


def test_pump_timeout_returns_zero_when_nothing_comes(make_bus: MakeBus) -> None:
    bus = make_bus()
    collect(bus, "c", ["quiet.>"])
    started = time.monotonic()
    assert bus.pump(timeout=0.3) == 0
    assert 0.25 <= time.monotonic() - started < 3.0


def test_concurrent_publishers_lose_nothing(make_bus: MakeBus, clock: FixedClock) -> None:
    # On PostgreSQL a later sequence number can commit before an earlier one unless
    # publishing is serialised; a consumer reading meanwhile would then skip the earlier one.
    consumer_bus = make_bus()
    got = collect(consumer_bus, "c", ["load.>"])
    writers = [make_bus() for _ in range(3)]
    batches = [
        [new_event(f"load.w{w}", "s", clock.now(), {"n": n}) for n in range(60)]
        for w in range(len(writers))
    ]
    stop = threading.Event()

    def write(bus: Bus, batch: list[Event]) -> None:
        for i in range(0, len(batch), 3):
            bus.publish(batch[i : i + 3])

    threads = [
        threading.Thread(target=write, args=(bus, batch))
        for bus, batch in zip(writers, batches, strict=True)
    ]
    for t in threads:
        t.start()
    while not stop.is_set():
        consumer_bus.pump()
        if not any(t.is_alive() for t in threads):
            stop.set()
    for t in threads:
        t.join()
    consumer_bus.pump()
    assert sorted(e.id for e in got) == sorted(e.id for b in batches for e in b)
    for batch in batches:  # each writer's events arrive in its publish order
        mine = [e for e in got if e.type == batch[0].type]
        assert mine == batch


def test_bad_subscriptions_are_refused(make_bus: MakeBus) -> None:
    bus = make_bus()
    with pytest.raises(InvalidSubject):
        bus.subscribe("c", "registry.>", lambda e: None)  # a string, not a list
    with pytest.raises(InvalidSubject):
        bus.subscribe("c", [], lambda e: None)
    with pytest.raises(InvalidSubject):
        bus.subscribe("c", ["registry.>.x"], lambda e: None)
    with pytest.raises(InvalidInput):
        bus.subscribe("has.dots", ["registry.>"], lambda e: None)


def test_closed_bus_refuses_work(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    bus.close()
    bus.close()
    with pytest.raises(BusClosed):
        bus.publish([new_event("a.b", "s", clock.now(), {})])
    with pytest.raises(BusClosed):
        bus.subscribe("c", [">"], lambda e: None)
    with pytest.raises(BusClosed):
        bus.pump()
