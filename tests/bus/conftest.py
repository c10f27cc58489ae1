"""Bus fixtures: every bus test runs on the local bus (SQLite, PostgreSQL) and on NATS.

Teardown removes what a test left on the shared services: its PostgreSQL schemas and its
NATS test stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bus_support import TEST_ACK_WAIT, cleanup, make_settings

from openmyna.bus import Bus, open_bus
from openmyna.config import Settings

_VARIANTS = {
    "local-sqlite": ("sqlite", "local"),
    "local-postgresql": ("postgresql", "local"),
    "nats": ("sqlite", "nats"),
}


@pytest.fixture(
    params=[
        "local-sqlite",
        pytest.param("local-postgresql", marks=pytest.mark.pg),
        pytest.param("nats", marks=pytest.mark.nats),
    ]
)
def any_bus_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for each bus: local on SQLite, local on PostgreSQL, NATS (data on SQLite)."""
    backend, bus = _VARIANTS[request.param]
    settings = make_settings(request.config, backend, tmp_path, bus)
    yield settings
    cleanup(settings)


@pytest.fixture
def nats_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings with a fresh NATS test stream (deleted afterwards)."""
    settings = make_settings(request.config, "sqlite", tmp_path, "nats")
    yield settings
    cleanup(settings)


@pytest.fixture
def make_bus(any_bus_settings: Settings) -> Iterator[Callable[[], Bus]]:
    """Open buses on the test's settings (a new one = a process restart); all closed after."""
    opened: list[Bus] = []

    def make() -> Bus:
        bus = open_bus(any_bus_settings, ack_wait=TEST_ACK_WAIT)
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        bus.close()
