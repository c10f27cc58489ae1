"""The memory transport: APDUs handed straight to a ``VirtualCard`` in this process."""

from __future__ import annotations

from collections.abc import Callable

from openmyna.card.engine import VirtualCard


class MemoryTransport:
    """A card in this process; ``on_close`` runs once when the transport closes."""

    def __init__(self, card: VirtualCard, *, on_close: Callable[[], None] | None = None) -> None:
        self.card = card
        self._on_close = on_close
        self.closed = False

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; the response APDU (data + SW1 SW2)."""
        if self.closed:
            raise ValueError("the transport is closed")
        return self.card.transmit(apdu)

    def reset(self) -> None:
        """Power-cycle the card (security state cleared)."""
        self.card.reset()

    def close(self) -> None:
        """Release the card (and, for a card file, the file)."""
        if self.closed:
            return
        self.closed = True
        if self._on_close is not None:
            self._on_close()
