"""Fixtures of the registry tests: two municipalities on one bus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from registry_helpers import KOBE, MAEBASHI

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
def regs(settings: Settings, bus: Bus, clock: FixedClock) -> Iterator[Registries]:
    """Registries of 前橋市 and 神戸市 on the bus, index subscribed."""
    r = Registries(settings, bus, clock)
    r.add_municipality(MAEBASHI)
    r.add_municipality(KOBE)
    yield r
    r.close()
