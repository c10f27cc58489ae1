"""Serve an emulated card to pcscd through vsmartcard's vpcd reader driver.

The vpcd driver (Debian package ``vsmartcard-vpcd``) makes pcscd show a reader, "Virtual
PCD 00 00", and listen on TCP port 35963 (35964 for the second slot, "Virtual PCD 00 01").
The *card* side connects to that port, and from then on the card is inserted in that reader:
every PC/SC program (pyscard, OpenSC, ``pcsc_scan``) sees it like a card in a real reader.

Wire format (both directions): a 2-byte big-endian length, then that many bytes. From vpcd
to the card, a 1-byte message is a control message (0x00 power off, 0x01 power on, 0x02
reset, 0x04 send the ATR); anything longer is a command APDU. The card answers the ATR
request with the ATR and an APDU with its response APDU; the power and reset messages get
no answer. The card is removed when the card side closes the connection.

APDUs carry PINs and passwords, so nothing here logs their contents.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

from openmyna.errors import Unavailable

log = logging.getLogger("openmyna.card.vpcd")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963  # 0x8C7B, the CHANNELID in /etc/reader.conf.d/vpcd

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04

_POLL_SECONDS = 0.2  # how often a blocked read looks at the stop event
_RECONNECT_SECONDS = 0.5
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class ServedCard(Protocol):
    """What vpcd needs from a card: its ATR, APDU exchange and a power cycle."""

    @property
    def atr(self) -> bytes:
        """The answer-to-reset bytes."""
        ...

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one command APDU with a response APDU (never raises)."""
        ...

    def reset(self) -> None:
        """Power-cycle: forget the selected application and verified PINs."""
        ...


class VpcdUnavailable(Unavailable):
    """pcscd's vpcd driver does not accept the card's connection."""

    code = "VPCD_UNAVAILABLE"


class _Closed(Exception):
    """vpcd closed the connection (pcscd stopped or restarted)."""


class _Stopped(Exception):
    """The stop event was set while waiting for vpcd."""


def _frame(payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError("a vpcd message holds at most 65535 bytes")
    return len(payload).to_bytes(2, "big") + payload


class _Link:
    """One TCP connection to vpcd, read with a timeout so that a stop request is noticed."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self._sock = sock
        self._stop = stop
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            if self._stop.is_set():
                raise _Stopped
            try:
                _quick_ack(self._sock)
                chunk = self._sock.recv(max(4096, size - len(self._buffer)))
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Closed from exc
            if not chunk:
                raise _Closed
            self._buffer += chunk

    def receive(self) -> bytes:
        """The next message from vpcd (without its length prefix)."""
        self._fill(2)
        size = int.from_bytes(self._buffer[:2], "big")
        self._fill(2 + size)
        payload = bytes(self._buffer[2 : 2 + size])
        del self._buffer[: 2 + size]
        return payload

    def send(self, payload: bytes) -> None:
        """Send one message to vpcd."""
        try:
            self._sock.sendall(_frame(payload))
        except OSError as exc:
            raise _Closed from exc


def _quick_ack(sock: socket.socket) -> None:
    # vpcd before virtualsmartcard 0.9 (Debian 12 ships 0.8) writes the 2-byte length and
    # the APDU in two send() calls: with Nagle on its side and a delayed ACK on ours, every
    # APDU waited ~40 ms for the ACK of the length. Acknowledging at once removes the wait.
    if _QUICKACK is not None:
        with suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


def _connect(host: str, port: int) -> socket.socket | None:
    try:
        sock = socket.create_connection((host, port), timeout=2.0)
    except OSError:
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(_POLL_SECONDS)
    return sock


def _answer(card: ServedCard, message: bytes) -> bytes | None:
    """The reply to one vpcd message, or None for messages that get none."""
    if len(message) == 1:
        control = message[0]
        if control == CTRL_ATR:
            return card.atr
        if control in (CTRL_POWER_ON, CTRL_POWER_OFF, CTRL_RESET):
            # Power off, on and warm reset all end the card's session: nothing verified or
            # selected survives, as on a real chip whose RAM loses power.
            card.reset()
            return None
        log.warning("ignoring unknown vpcd control message 0x%02x", control)
        return None
    if not message:
        return None
    return card.transmit(message)


def _serve_connection(
    card: ServedCard,
    link: _Link,
    on_apdu: Callable[[], None] | None,
) -> None:
    while True:
        message = link.receive()
        reply = _answer(card, message)
        if reply is not None:
            link.send(reply)
        if len(message) > 1 and on_apdu is not None:
            on_apdu()


def serve_card(
    card: ServedCard,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    stop: threading.Event | None = None,
    *,
    connected: threading.Event | None = None,
    on_apdu: Callable[[], None] | None = None,
    give_up_after: float | None = None,
) -> None:
    """Insert ``card`` into pcscd's vpcd reader and answer it until ``stop`` is set.

    Reconnects when vpcd goes away (pcscd restarted). ``connected`` is set while a
    connection is up and cleared when it drops. ``on_apdu`` runs after every APDU (to save
    the card's state). With ``give_up_after`` seconds, raise :class:`VpcdUnavailable` if
    vpcd cannot be reached in that time; otherwise keep trying until stopped.
    """
    stop = stop if stop is not None else threading.Event()
    waited = 0.0
    announced = False
    while not stop.is_set():
        sock = _connect(host, port)
        if sock is None:
            if give_up_after is not None and waited >= give_up_after:
                raise VpcdUnavailable("pcscd's vpcd driver does not answer", host=host, port=port)
            if not announced:
                log.info("waiting for vpcd at %s:%d", host, port)
                announced = True
            stop.wait(_RECONNECT_SECONDS)
            waited += _RECONNECT_SECONDS
            continue
        waited = 0.0
        announced = False
        log.info("card inserted through vpcd at %s:%d", host, port)
        if connected is not None:
            connected.set()
        try:
            _serve_connection(card, _Link(sock, stop), on_apdu)
        except _Closed:
            log.info("vpcd at %s:%d closed the connection; reconnecting", host, port)
            card.reset()
        except _Stopped:
            pass
        finally:
            if connected is not None:
                connected.clear()
            sock.close()
    log.info("card removed from vpcd at %s:%d", host, port)


class InsertedCard:
    """A card served through vpcd in a background thread (see :func:`inserted`)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop_event = threading.Event()
        self.connected = threading.Event()
        self.error: Exception | None = None
        self.thread: threading.Thread | None = None

    def remove(self, timeout: float = 5.0) -> None:
        """Stop serving: the card leaves the reader."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)


@contextmanager
def inserted(
    card: ServedCard,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    timeout: float = 10.0,
    on_apdu: Callable[[], None] | None = None,
) -> Iterator[InsertedCard]:
    """Serve ``card`` through vpcd in a thread for the duration of the ``with`` block.

    Raises :class:`VpcdUnavailable` if vpcd does not take the card within ``timeout``
    seconds; an error raised while serving is raised again when the block ends.
    """
    handle = InsertedCard(port)

    def run() -> None:
        try:
            serve_card(
                card, host, port, handle.stop_event, connected=handle.connected, on_apdu=on_apdu
            )
        except Exception as exc:  # noqa: BLE001 - handed over to the caller's thread
            handle.error = exc
            handle.stop_event.set()

    handle.thread = threading.Thread(target=run, name=f"vpcd-card-{port}", daemon=True)
    handle.thread.start()
    try:
        if not handle.connected.wait(timeout):
            raise VpcdUnavailable(
                "pcscd's vpcd driver did not accept the card", host=host, port=port
            )
        yield handle
    finally:
        handle.remove()
    if handle.error is not None:
        raise handle.error
