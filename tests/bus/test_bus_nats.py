"""What the NATS bus puts on the server: its stream, subjects, headers and consumers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from bus_support import TEST_ACK_WAIT, cleanup, make_settings

from openmyna.bus import BusClosed, Event, new_event, open_bus
from openmyna.bus.nats import NatsBus, safe_url
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import Conflict

pytestmark = pytest.mark.nats


def inspect_server(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(jsm)`` on a separate connection, as an operator would look."""

    async def run() -> Any:
        assert settings.bus_url is not None
        nc = await nats.connect(settings.bus_url, connect_timeout=2, max_reconnect_attempts=1)
        try:
            return await work(nc.jsm())
        finally:
            await nc.close()

    return asyncio.run(run())


def test_stream_and_message_layout(nats_settings: Settings, clock: FixedClock) -> None:
    bus = open_bus(nats_settings, ack_wait=TEST_ACK_WAIT)
    assert isinstance(bus, NatsBus)
    event = new_event("registry.moved_out", "registry.102016", clock.now(), {"k": 1})
    bus.publish([event, event])
    bus.close()
    stream = nats_settings.bus_stream
    prefix = stream.lower()

    async def look(jsm: Any) -> Any:
        return await jsm.stream_info(stream), await jsm.get_msg(stream, 1)

    info, msg = inspect_server(nats_settings, look)
    assert info.config.subjects == [f"{prefix}.>"]
    assert info.config.storage == "file"
    assert info.state.messages == 1  # the repeat was dropped by JetStream
    assert msg.subject == f"{prefix}.registry.moved_out"
    assert msg.headers["Nats-Msg-Id"] == event.id


def test_consumers_are_durable_pull_with_explicit_ack(nats_settings: Settings) -> None:
    bus = open_bus(nats_settings, ack_wait=2.5)
    bus.subscribe("pki", ["registry.>"], lambda e: None)
    bus.subscribe("portal", ["registry.moved_out", "pki.revoked"], lambda e: None)
    bus.close()
    stream = nats_settings.bus_stream
    prefix = stream.lower()

    async def look(jsm: Any) -> Any:
        return [await jsm.consumer_info(stream, name) for name in ("pki", "portal")]

    pki, portal = inspect_server(nats_settings, look)
    assert pki.config.durable_name == "pki"
    assert pki.config.deliver_subject is None  # pull, not push
    assert pki.config.ack_policy == "explicit"
    assert pki.config.ack_wait == 2.5
    assert pki.config.filter_subject == f"{prefix}.registry.>"
    assert portal.config.filter_subject == f"{prefix}.>"  # several subjects: filtered here


def test_streams_with_other_names_do_not_mix(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> None:
    settings = [make_settings(request.config, "sqlite", tmp_path, "nats") for _ in range(2)]
    buses = [open_bus(s, ack_wait=TEST_ACK_WAIT) for s in settings]
    try:
        got: list[list[Event]] = [[], []]
        for bus, sink in zip(buses, got, strict=True):
            bus.subscribe("c", [">"], sink.append)
        first = new_event("registry.born", "a", clock.now(), {})
        second = new_event("registry.born", "b", clock.now(), {})
        buses[0].publish([first])
        buses[1].publish([second])
        for bus in buses:
            bus.pump()
        assert got == [[first], [second]]
    finally:
        for bus in buses:
            bus.close()
        for s in settings:
            cleanup(s)


def test_stream_whose_subjects_overlap_is_a_conflict(nats_settings: Settings) -> None:
    open_bus(nats_settings).close()
    # Same prefix (the lowercase name), different stream name: JetStream refuses the overlap.
    twin = nats_settings.model_copy(update={"bus_stream": nats_settings.bus_stream.lower()})
    with pytest.raises(Conflict):
        open_bus(twin)


def test_close_stops_the_loop_thread(nats_settings: Settings, clock: FixedClock) -> None:
    before = {t.name for t in threading.enumerate()}
    bus = open_bus(nats_settings)
    started = {t.name for t in threading.enumerate()} - before
    assert started == {f"openmyna-bus-{nats_settings.bus_stream.lower()}"}
    bus.close()
    bus.close()  # twice is fine
    assert {t.name for t in threading.enumerate()} - before == set()
    with pytest.raises(BusClosed):
        bus.publish([new_event("a.b", "s", clock.now(), {})])
    with pytest.raises(BusClosed):
        bus.pump()


def test_safe_url_drops_credentials() -> None:
    assert safe_url("nats://user:pw@example.org:4222") == "nats://example.org:4222"
    assert safe_url("nats://127.0.0.1") == "nats://127.0.0.1"
    assert safe_url("tls://token@10.0.0.1:4443") == "tls://10.0.0.1:4443"
