"""PC/SC transport (pyscard): a real My Number Card in a real reader, or the emulated card
in pcscd's vpcd reader.

``open_reader("pcsc")`` is meant for a real card: it takes the first reader with a card in
it, skipping vpcd's virtual readers. ``open_reader("vpcd")`` takes the vpcd reader where
``openmyna card insert`` serves an emulated card. The same :class:`PcscTransport` carries
both, so the client code that reads the emulated card reads a real one unchanged.

T=1 is preferred (the My Number Card's ATR offers only T=1); ``61xx`` (more data: GET
RESPONSE) and ``6Cxx`` (wrong Le: send again) are handled here so callers see one complete
response APDU. Failures raise errors with stable codes; none of them carry APDU contents.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from openmyna.errors import InvalidInput, Unavailable

VPCD_READER_PREFIX = "Virtual PCD"
VPCD_FIRST_PORT = 35963  # slot 0 of the vpcd reader; slot n listens on 35963 + n
_MAX_GET_RESPONSE = 128  # 128 x 256 bytes: far more than any file on the card


class PcscUnavailable(Unavailable):
    """pcscd does not run, or pyscard is not installed."""

    code = "PCSC_UNAVAILABLE"


class ReaderNotFound(Unavailable):
    """No PC/SC reader of that name or index, or no reader with a card in it."""

    code = "READER_NOT_FOUND"


class CardAbsent(Unavailable):
    """The reader has no card in it, or the card was removed."""

    code = "CARD_ABSENT"


class CardWasReset(Unavailable):
    """Another program reset the card: selected applications and verified PINs are gone."""

    code = "CARD_RESET"


class ReaderBusy(Unavailable):
    """Another program holds the card exclusively."""

    code = "READER_BUSY"


class CardIOError(Unavailable):
    """The exchange with the card failed (unresponsive card, protocol error)."""

    code = "CARD_IO"


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:  # the [pcsc] extra is not installed
        raise PcscUnavailable("pyscard is not installed (pip install 'openmyna[pcsc]')") from exc
    return scard


def _error(scard: Any, hresult: int, action: str, reader: str | None = None) -> Exception:
    """The domain error for a failed PC/SC call."""
    context: dict[str, Any] = {"pcsc_error": f"0x{hresult & 0xFFFFFFFF:08X}"}
    if reader is not None:
        context["reader"] = reader
    detail = f"{action}: {scard.SCardGetErrorMessage(hresult)}"
    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        return PcscUnavailable(f"pcscd does not answer ({detail})", **context)
    if hresult in (
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
    ):
        return ReaderNotFound(detail, **context)
    if hresult in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD):
        return CardAbsent(detail, **context)
    if hresult == scard.SCARD_W_RESET_CARD:
        return CardWasReset(detail, **context)
    if hresult == scard.SCARD_E_SHARING_VIOLATION:
        return ReaderBusy(detail, **context)
    return CardIOError(detail, **context)


def _check(scard: Any, hresult: int, action: str, reader: str | None = None) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise _error(scard, hresult, action, reader)


def list_readers() -> list[str]:
    """The names of the PC/SC readers pcscd knows (empty if none)."""
    scard = _scard()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(scard, hresult, "connecting to pcscd")
    try:
        return _readers(scard, context)
    finally:
        scard.SCardReleaseContext(context)


def _readers(scard: Any, context: Any) -> list[str]:
    hresult, readers = scard.SCardListReaders(context, [])
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    _check(scard, hresult, "listing readers")
    return [str(r) for r in readers]


def _card_present(scard: Any, context: Any, reader: str, timeout: float) -> bool:
    """Whether ``reader`` holds a card, waiting up to ``timeout`` seconds for one."""
    return _wait_state(scard, context, reader, True, timeout)


def _wait_state(scard: Any, context: Any, reader: str, present: bool, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds until a card is (or is not) in ``reader``."""
    deadline = time.monotonic() + timeout
    known = scard.SCARD_STATE_UNAWARE
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        hresult, states = scard.SCardGetStatusChange(
            context, int(remaining * 1000), [(reader, known)]
        )
        if hresult == scard.SCARD_E_TIMEOUT:
            return False
        _check(scard, hresult, "reading the reader's state", reader)
        _, event, _atr = states[0]
        usable = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE
        if usable == present:
            return True
        if remaining <= 0:
            return False
        known = event & ~scard.SCARD_STATE_CHANGED


def wait_for_card(reader: str, *, present: bool = True, timeout: float = 5.0) -> bool:
    """Wait until a card is in ``reader`` (or, with ``present=False``, until it is out)."""
    scard = _scard()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(scard, hresult, "connecting to pcscd")
    try:
        return _wait_state(scard, context, reader, present, timeout)
    finally:
        scard.SCardReleaseContext(context)


def reader_has_card(reader: str, wait: float = 0.0) -> bool:
    """Whether ``reader`` holds a card, waiting up to ``wait`` seconds for one."""
    scard = _scard()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(scard, hresult, "connecting to pcscd")
    try:
        return _card_present(scard, context, reader, wait)
    finally:
        scard.SCardReleaseContext(context)


def vpcd_reader_name(readers: list[str], port: int = VPCD_FIRST_PORT) -> str:
    """The name pcscd gives the vpcd slot that listens on ``port``."""
    slot = port - VPCD_FIRST_PORT
    suffix = f" {slot:02X}"
    for name in readers:
        if name.startswith(VPCD_READER_PREFIX) and name.endswith(suffix):
            return name
    raise ReaderNotFound(
        "pcscd shows no vpcd reader for that port (is vsmartcard-vpcd installed?)", port=port
    )


def _with_le(apdu: bytes, le: int) -> bytes | None:
    """``apdu`` sent again with Le = ``le`` (short APDUs of case 2 and 4), else None."""
    if len(apdu) == 5:
        return apdu[:4] + bytes([le])
    if len(apdu) > 5 and apdu[4] != 0 and len(apdu) == 6 + apdu[4]:
        return apdu[:-1] + bytes([le])
    return None


class PcscTransport:
    """APDUs to a card in a PC/SC reader (a real reader, or pcscd's vpcd reader)."""

    def __init__(
        self,
        reader: str | int | None = None,
        *,
        wait: float = 0.0,
        exclude_virtual: bool = True,
        reset_on_close: bool = True,
    ) -> None:
        """Connect to the card in ``reader`` (a name, an index, or None for the first card).

        ``wait`` is how long to wait for a card to be inserted. With ``reader=None`` the
        vpcd readers are skipped unless ``exclude_virtual`` is False. ``reset_on_close``
        resets the card when closing, so verified PINs do not outlive this connection.
        """
        scard = _scard()
        self._scard = scard
        self._card: Any = None
        self._reset_on_close = reset_on_close
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(scard, hresult, "connecting to pcscd")
        self._context = context
        try:
            self.reader = self._choose(reader, wait, exclude_virtual)
            self._connect()
        except BaseException:
            scard.SCardReleaseContext(context)
            raise

    @classmethod
    def vpcd(cls, port: int = VPCD_FIRST_PORT, *, wait: float = 2.0) -> Self:
        """Connect to the emulated card that ``openmyna card insert`` serves on ``port``."""
        return cls(vpcd_reader_name(list_readers(), port), wait=wait)

    def _choose(self, reader: str | int | None, wait: float, exclude_virtual: bool) -> str:
        scard = self._scard
        readers = _readers(scard, self._context)
        if not readers:
            raise ReaderNotFound("pcscd shows no reader")
        if isinstance(reader, int):
            if not 0 <= reader < len(readers):
                raise ReaderNotFound("no reader with that index", index=reader)
            name = readers[reader]
        elif reader is None:
            candidates = [
                r for r in readers if not (exclude_virtual and r.startswith(VPCD_READER_PREFIX))
            ]
            deadline = time.monotonic() + wait
            while True:
                for r in candidates:
                    if _card_present(scard, self._context, r, 0.0):
                        return r
                if time.monotonic() >= deadline:
                    raise ReaderNotFound("no reader has a card in it", readers=len(candidates))
                time.sleep(0.2)
        elif reader in readers:
            name = reader
        else:
            matches = [r for r in readers if reader.lower() in r.lower()]
            if len(matches) != 1:
                raise ReaderNotFound("no reader, or more than one, matches that name", name=reader)
            name = matches[0]
        if not _card_present(scard, self._context, name, wait):
            raise CardAbsent("the reader has no card in it", reader=name)
        return name

    def _connect(self) -> None:
        scard = self._scard
        hresult, card, protocol = scard.SCardConnect(
            self._context, self.reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1
        )
        if hresult == scard.SCARD_E_PROTO_MISMATCH:  # a T=0-only card
            hresult, card, protocol = scard.SCardConnect(
                self._context,
                self.reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
        _check(scard, hresult, "connecting to the card", self.reader)
        self._card = card
        self._protocol = protocol

    @property
    def protocol(self) -> str:
        """The transmission protocol in use: ``"T=0"`` or ``"T=1"``."""
        return "T=1" if self._protocol == self._scard.SCARD_PROTOCOL_T1 else "T=0"

    @property
    def atr(self) -> bytes:
        """The card's answer-to-reset."""
        scard = self._scard
        hresult, _name, _state, _protocol, atr = scard.SCardStatus(self._live_card())
        _check(scard, hresult, "reading the card's status", self.reader)
        return bytes(atr)

    def _live_card(self) -> Any:
        if self._card is None:
            raise CardIOError("the PC/SC transport is closed", reader=self.reader)
        return self._card

    def _exchange(self, apdu: bytes) -> bytes:
        scard = self._scard
        hresult, response = scard.SCardTransmit(self._live_card(), self._protocol, list(apdu))
        _check(scard, hresult, "exchanging an APDU", self.reader)
        if len(response) < 2:
            raise CardIOError("the card answered without a status word", reader=self.reader)
        return bytes(response)

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return the whole response APDU (data + SW1 SW2)."""
        response = self._exchange(apdu)
        if response[-2] == 0x6C:
            again = _with_le(apdu, response[-1])
            if again is not None:
                response = self._exchange(again)
        data = bytearray()
        rounds = 0
        while response[-2] == 0x61 and rounds < _MAX_GET_RESPONSE:
            data += response[:-2]
            # GET RESPONSE on the same logical channel as the command (CLA bits 0-1).
            response = self._exchange(bytes([apdu[0] & 0x03, 0xC0, 0x00, 0x00, response[-1]]))
            rounds += 1
        return bytes(data) + response

    def close(self) -> None:
        """Disconnect from the card (resetting it unless told not to) and from pcscd."""
        scard = self._scard
        if self._card is not None:
            action = scard.SCARD_RESET_CARD if self._reset_on_close else scard.SCARD_LEAVE_CARD
            scard.SCardDisconnect(self._card, action)
            self._card = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_reader(spec: str, *, wait: float | None = None) -> PcscTransport:
    """Open a PC/SC transport from a ``--reader`` value.

    ``pcsc`` (first real reader with a card), ``pcsc:N`` (reader number N), ``pcsc:NAME``
    (reader whose name contains NAME), ``vpcd`` or ``vpcd:PORT`` (the emulated card).
    """
    kind, _, arg = spec.partition(":")
    if kind == "vpcd":
        if arg and not arg.isdigit():
            raise InvalidInput("vpcd:PORT takes a port number", spec=spec)
        port = int(arg) if arg else VPCD_FIRST_PORT
        return PcscTransport.vpcd(port, wait=2.0 if wait is None else wait)
    if kind == "pcsc":
        reader: str | int | None = None
        if arg:
            reader = int(arg) if arg.isdigit() else arg
        return PcscTransport(reader, wait=0.0 if wait is None else wait)
    raise InvalidInput("a PC/SC reader is given as pcsc, pcsc:N, pcsc:NAME or vpcd", spec=spec)


def open_transport(
    reader: str,
    *,
    name: str | int | None = None,
    port: int = VPCD_FIRST_PORT,
    wait: float | None = None,
) -> PcscTransport:
    """The PC/SC transport for ``open_transport``: ``pcsc`` or ``vpcd`` (or a full spec).

    ``name`` picks a reader for ``pcsc`` (name, part of a name, or index); ``port`` the
    vpcd slot for ``vpcd``; ``wait`` how long to wait for a card.
    """
    if ":" in reader:
        return open_reader(reader, wait=wait)
    if reader == "vpcd":
        return PcscTransport.vpcd(port, wait=2.0 if wait is None else wait)
    if reader == "pcsc":
        return PcscTransport(name, wait=0.0 if wait is None else wait)
    raise InvalidInput("a PC/SC reader is pcsc or vpcd", spec=reader)
