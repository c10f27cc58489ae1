"""How APDUs reach a card: the ``Transport`` protocol and ``open_transport``.

| reader | transport | module |
|---|---|---|
| ``memory`` | a ``VirtualCard`` object in this process (tests) | ``transport.memory`` |
| a file path | the card file, opened and locked in this process | ``cardfile`` |
| ``vpcd`` | the emulated card in pcscd's vpcd reader, read through PC/SC | ``transport.pcsc`` |
| ``pcsc`` | a real card (a My Number Card) in a PC/SC reader | ``transport.pcsc`` |

The PC/SC transports need pyscard (the ``[pcsc]`` extra) and pcscd; they are imported only
when asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from openmyna.card.engine import VirtualCard
from openmyna.card.errors import CardFileInvalid, ReaderUnavailable
from openmyna.card.transport.memory import MemoryTransport
from openmyna.config import Settings

PCSC_READERS = ("pcsc", "vpcd")


@runtime_checkable
class Transport(Protocol):
    """A connection to one card: send a command APDU, get the response APDU."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return response data followed by SW1 SW2."""
        ...

    def close(self) -> None:
        """Release the card and the reader."""
        ...


def open_card_file(
    path: str | Path, *, settings: Settings | None = None, passphrase: str | None = None
) -> MemoryTransport:
    """A transport to the card in a card file (locked and saved until closed)."""
    from openmyna.card.cardfile import CardFile

    opened = CardFile.open(path, settings=settings, passphrase=passphrase)
    return MemoryTransport(opened.card, on_close=opened.close)


def open_transport(
    reader: str,
    *,
    settings: Settings | None = None,
    passphrase: str | None = None,
    card: VirtualCard | None = None,
    **options: Any,
) -> Transport:
    """A transport for ``reader``: ``memory`` (with ``card``), ``pcsc``, ``vpcd`` or a file.

    Options other than ``settings``/``passphrase``/``card`` go to the PC/SC transport
    (e.g. which reader to use).
    """
    if reader == "memory":
        if card is None:
            raise CardFileInvalid("the memory reader needs a card object")
        return MemoryTransport(card)
    if reader.partition(":")[0] in PCSC_READERS:  # pcsc, pcsc:N, pcsc:NAME, vpcd, vpcd:PORT
        try:
            module = importlib.import_module("openmyna.card.transport.pcsc")
        except ImportError as exc:
            raise ReaderUnavailable(
                "PC/SC readers need pyscard (pip install 'openmyna[pcsc]') and pcscd",
                reader=reader,
            ) from exc
        transport: Transport = module.open_transport(reader, **options)
        return transport
    path = Path(reader)
    if not path.is_file():
        raise CardFileInvalid(
            "the reader is memory, pcsc, vpcd or the path of a card file", reader=reader
        )
    return open_card_file(path, settings=settings, passphrase=passphrase)


__all__ = ["PCSC_READERS", "MemoryTransport", "Transport", "open_card_file", "open_transport"]
