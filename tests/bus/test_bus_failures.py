"""Failures lose nothing: a raising handler, a killed process, an absent NATS server."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bus_effects import effect_counts, effect_handler, effects, inbox, open_effects
from sqlalchemy.orm import Session

from openmyna.bus import Bus, Event, HandlerError, idempotent, new_event, open_bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import Unavailable

MakeBus = Callable[[], Bus]
HERE = Path(__file__).resolve().parent


def numbered(clock: FixedClock, kind: str, count: int) -> list[Event]:
    """Events ``n`` = 1..count."""
    out = []
    for n in range(1, count + 1):
        out.append(new_event(kind, "registry.102016", clock.now(), {"n": n}))
        clock.advance(dt.timedelta(minutes=1))
    return out


def test_raising_handler_stops_its_consumer_only(make_bus: MakeBus, clock: FixedClock) -> None:
    bus = make_bus()
    sent = numbered(clock, "registry.moved_out", 10)
    bus.publish(sent)
    seen: list[int] = []
    healthy: list[Event] = []

    def fragile(event: Event) -> None:
        seen.append(event.data["n"])
        if event.data["n"] == 5:
            raise RuntimeError("disk full")

    bus.subscribe("fragile", ["registry.>"], fragile)
    bus.subscribe("healthy", ["registry.>"], healthy.append)
    with pytest.raises(HandlerError) as err:
        bus.pump()
    failure = err.value
    assert failure.code == "BUS_HANDLER_FAILED"
    assert failure.handled == 4 + 10
    assert [(f.consumer, f.event) for f in failure.failures] == [("fragile", sent[4])]
    assert isinstance(failure.failures[0].error, RuntimeError)
    assert failure.__cause__ is failure.failures[0].error
    assert "disk full" not in str(failure)  # exception texts may carry personal data
    assert seen == [1, 2, 3, 4, 5]
    assert healthy == sent

    # The next pump starts again at the failed event, in order.
    seen.clear()
    with pytest.raises(HandlerError):
        bus.pump()
    assert seen == [5]


def test_crash_mid_batch_then_restart_gets_the_rest_once(
    make_bus: MakeBus, any_bus_settings: Settings, clock: FixedClock
) -> None:
    store = open_effects(any_bus_settings)
    sent = numbered(clock, "registry.moved_out", 10)
    apply = effect_handler(store, "pki")
    first_run: list[int] = []

    def crashes_after_the_effect(event: Event) -> None:
        first_run.append(event.data["n"])
        apply(event)  # committed in the consumer's own database...
        if event.data["n"] == 5:
            raise RuntimeError("...but the process fails before the ack")

    bus = make_bus()
    bus.publish(sent)
    bus.subscribe("pki", ["registry.>"], crashes_after_the_effect)
    with pytest.raises(HandlerError):
        bus.pump()
    bus.close()
    assert first_run == [1, 2, 3, 4, 5]

    second_run: list[int] = []

    def recovers(event: Event) -> None:
        second_run.append(event.data["n"])
        apply(event)

    bus = make_bus()
    bus.subscribe("pki", ["registry.>"], recovers)
    assert bus.pump() == 6
    assert second_run == [5, 6, 7, 8, 9, 10]
    assert effect_counts(store, "pki") == {e.id: 1 for e in sent}
    store.close()


def test_effect_that_fails_is_rolled_back_and_applied_on_redelivery(
    make_bus: MakeBus, any_bus_settings: Settings, clock: FixedClock
) -> None:
    store = open_effects(any_bus_settings)
    sent = numbered(clock, "registry.died", 3)
    apply = effect_handler(store, "portal")
    broken = {"on": True}

    def flaky(event: Event) -> None:
        if broken["on"] and event.data["n"] == 2:
            # The effect fails inside the consumer's transaction, after the inbox claim: both
            # must roll back, or the redelivery would be skipped and the effect lost.
            def failing(session: Session, e: Event) -> None:
                session.execute(effects.insert().values(consumer="portal", event_id=e.id))
                raise RuntimeError("constraint")

            idempotent(store.transaction, inbox, "portal", failing)(event)
        apply(event)

    bus = make_bus()
    bus.publish(sent)
    bus.subscribe("portal", ["registry.>"], flaky)
    with pytest.raises(HandlerError):
        bus.pump()
    broken["on"] = False
    assert bus.pump() == 2
    assert effect_counts(store, "portal") == {e.id: 1 for e in sent}
    store.close()


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["OPENMYNA_DATA_DIR"] = str(settings.data_dir)
    env["OPENMYNA_SCHEMA_PREFIX"] = settings.schema_prefix
    env["OPENMYNA_BUS_STREAM"] = settings.bus_stream
    for key, value in (
        ("OPENMYNA_DATABASE_URL", settings.database_url),
        ("OPENMYNA_BUS_URL", settings.bus_url),
    ):
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.mark.slow
def test_killed_consumer_process_loses_nothing(
    make_bus: MakeBus, any_bus_settings: Settings, clock: FixedClock
) -> None:
    store = open_effects(any_bus_settings)
    sent = numbered(clock, "crash.moved_out", 12)
    publisher = make_bus()
    publisher.publish(sent[:10])

    with subprocess.Popen(
        [sys.executable, str(HERE / "crash_consumer.py"), "crashy"],
        env=_child_env(any_bus_settings),
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        lines = []
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = child.stdout.readline().strip()
                if not line:
                    break
                lines.append(line)
                if line == "done 4":
                    # Event 4's effect is committed and its handler still runs: not acked.
                    child.send_signal(signal.SIGKILL)
                    break
        finally:
            child.kill()
            child.wait(10)
    assert lines[-1:] == ["done 4"], lines
    assert child.returncode == -signal.SIGKILL
    assert effect_counts(store, "crashy") == {e.id: 1 for e in sent[:4]}
    # Newer events must not overtake the ones the dead process left unacknowledged.
    publisher.publish(sent[10:])

    fresh = make_bus()
    got: list[int] = []
    apply = effect_handler(store, "crashy")

    def handler(event: Event) -> None:
        got.append(event.data["n"])
        apply(event)

    fresh.subscribe("crashy", ["crash.>"], handler)
    deadline = time.monotonic() + 20
    while len(effect_counts(store, "crashy")) < 12 and time.monotonic() < deadline:
        fresh.pump(timeout=0.5)
    assert effect_counts(store, "crashy") == {e.id: 1 for e in sent}
    # The rest, in order, starting at the event that was in the handler (its effect is
    # skipped by the inbox), then the newer ones.
    assert got == list(range(4, 13))
    store.close()


@pytest.mark.parametrize(
    "url", ["nats://127.0.0.1:1", "nats://operator:s3cret@127.0.0.1:1"], ids=["plain", "creds"]
)
def test_unreachable_nats_is_unavailable_quickly(tmp_path: Path, url: str) -> None:
    settings = Settings(data_dir=tmp_path, bus_url=url, bus_stream="NEVER")
    started = time.monotonic()
    with pytest.raises(Unavailable) as err:
        open_bus(settings)
    assert time.monotonic() - started < 5.0
    assert err.value.code == "UNAVAILABLE"
    assert err.value.context["url"] == "nats://127.0.0.1:1"
    assert "s3cret" not in err.value.diagnostics()
    assert "operator" not in err.value.diagnostics()
