"""Fixtures of the card tests: personalised cards (keys made once per session) and clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from card_helpers import KOBE, MAEBASHI, StubJpki, World, data_signer, fresh_card

from openmyna.builder import Builder
from openmyna.bus import Event
from openmyna.card import CardClient, MemoryTransport, VirtualCard
from openmyna.clock import FixedClock
from openmyna.config import Settings


@pytest.fixture
def card() -> VirtualCard:
    """A personalised card with a signature certificate, fresh for each test."""
    return fresh_card()


@pytest.fixture
def client(card: VirtualCard) -> CardClient:
    """A client on ``card`` through the memory transport."""
    return CardClient(MemoryTransport(card))


@pytest.fixture
def world(settings: Settings, clock: FixedClock) -> Iterator[World]:
    """Two municipalities, the card register and a card-event listener."""
    parts = Builder(settings, clock)
    jpki = StubJpki(clock.now())
    parts.provide("jpki", jpki)
    parts.provide("card_signer", data_signer())
    bus, regs, life = parts.bus(), parts.registries(), parts.cards()
    regs.add_municipality(MAEBASHI)
    regs.add_municipality(KOBE)
    seen: list[Event] = []
    bus.subscribe("card-test-listener", ["card.>"], seen.append)
    yield World(settings, bus, regs, life, jpki, clock, seen)
    parts.close()
