"""Fixtures of the card tests: personalised cards (keys made once per session) and clients."""

from __future__ import annotations

import pytest
from card_helpers import fresh_card

from openmyna.card import CardClient, MemoryTransport, VirtualCard


@pytest.fixture
def card() -> VirtualCard:
    """A personalised card with a signature certificate, fresh for each test."""
    return fresh_card()


@pytest.fixture
def client(card: VirtualCard) -> CardClient:
    """A client on ``card`` through the memory transport."""
    return CardClient(MemoryTransport(card))
