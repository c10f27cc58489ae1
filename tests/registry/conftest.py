"""Fixtures of the registry tests: two municipalities on one bus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from registry_helpers import KOBE, MAEBASHI, on_bus

from openmyna.builder import Builder
from openmyna.bus import Bus, open_bus
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.registry import Registries


@pytest.fixture
def bus(settings: Settings) -> Iterator[Bus]:
    """The bus of ``settings``."""
    b = open_bus(settings)
    yield b
    b.close()


@pytest.fixture
def parts(settings: Settings, clock: FixedClock) -> Iterator[Builder]:
    """The builder of the test installation (closed after the test)."""
    with Builder(settings, clock) as built:
        yield built


@pytest.fixture
def regs(parts: Builder, bus: Bus) -> Iterator[Registries]:
    """Registries of 前橋市 and 神戸市 on the bus, index subscribed."""
    r = on_bus(parts, bus)
    r.add_municipality(MAEBASHI)
    r.add_municipality(KOBE)
    yield r
    r.close()
