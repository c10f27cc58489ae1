"""PcscTransport through the real pcscd and vpcd, with small scripted cards.

The card is served through vpcd by ``serve_card`` and reached through pcscd with pyscard,
exactly the path a real reader takes after pcscd.
"""

from __future__ import annotations

import pytest
from interop_support import card_in_reader

from openmyna.card.transport.pcsc import (
    VPCD_READER_PREFIX,
    CardAbsent,
    CardIOError,
    PcscTransport,
    ReaderNotFound,
    list_readers,
    open_reader,
    reader_has_card,
)
from openmyna.errors import InvalidInput

#: pcscd and its vpcd readers are the machine's: one worker runs these (tests/conftest.py).
pytestmark = pytest.mark.pcsc

ATR = bytes.fromhex("3BE000FF8131FE4514")
BIG = bytes(range(256)) * 2 + b"tail"  # 516 bytes, more than one short response


class ScriptedCard:
    """Answers a few commands the way cards that need GET RESPONSE or a new Le do."""

    atr = ATR

    def __init__(self) -> None:
        self.resets = 0
        self.pending = b""
        self.commands: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        if apdu[:4] == bytes.fromhex("00CA0101"):  # data in pieces: 61xx + GET RESPONSE
            self.pending = BIG
            return self._next_piece(0xF0)
        if apdu[:4] == bytes.fromhex("00C00000"):
            return self._next_piece(apdu[4] or 256)
        if apdu[:4] == bytes.fromhex("00CA0102"):  # wrong Le: 6C10, then exactly 16 bytes
            if len(apdu) == 5 and apdu[4] == 0x10:
                return bytes(range(16)) + b"\x90\x00"
            return b"\x6c\x10"
        return apdu[:4] + b"\x90\x00"

    def _next_piece(self, size: int) -> bytes:
        piece, self.pending = self.pending[:size], self.pending[size:]
        if self.pending:
            return piece + bytes([0x61, min(len(self.pending), 255) & 0xFF])
        return piece + b"\x90\x00"

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def scripted(vpcd_slot: tuple[str, int]) -> tuple[ScriptedCard, str, int]:
    return ScriptedCard(), *vpcd_slot


def test_exchange_through_pcscd(scripted: tuple[ScriptedCard, str, int]) -> None:
    card, reader, port = scripted
    with card_in_reader(card, reader, port), PcscTransport(reader, wait=5) as transport:
        assert transport.atr == ATR
        assert transport.protocol == "T=1"
        assert transport.reader == reader
        assert transport.transmit(bytes.fromhex("00A4040C02 3F00")) == bytes.fromhex(
            "00A4040C 9000"
        )
        assert bytes.fromhex("00A4040C023F00") in card.commands


def test_get_response_and_wrong_le(scripted: tuple[ScriptedCard, str, int]) -> None:
    card, reader, port = scripted
    with card_in_reader(card, reader, port), PcscTransport(reader, wait=5) as transport:
        assert transport.transmit(bytes.fromhex("00CA010100")) == BIG + b"\x90\x00"
        assert transport.transmit(bytes.fromhex("00CA010200")) == bytes(range(16)) + b"\x90\x00"
    get_responses = [c for c in card.commands if c[:4] == bytes.fromhex("00C00000")]
    assert len(get_responses) == 2


def test_close_resets_the_card_unless_told_not_to(
    scripted: tuple[ScriptedCard, str, int],
) -> None:
    card, reader, port = scripted
    with card_in_reader(card, reader, port):
        with PcscTransport(reader, wait=5) as transport:
            transport.transmit(bytes.fromhex("00200080"))
            before = card.resets
        assert card.resets > before, "PINs verified through this connection do not outlive it"
        with PcscTransport(reader, wait=5, reset_on_close=False) as transport:
            transport.transmit(bytes.fromhex("00200080"))
            before = card.resets
        assert card.resets == before


def test_open_reader_vpcd_spec(scripted: tuple[ScriptedCard, str, int]) -> None:
    card, reader, port = scripted
    with card_in_reader(card, reader, port), open_reader(f"vpcd:{port}", wait=5) as transport:
        assert transport.reader.startswith(VPCD_READER_PREFIX)
        assert transport.transmit(bytes.fromhex("00B0000000"))[-2:] == b"\x90\x00"


def test_card_removed_while_connected(scripted: tuple[ScriptedCard, str, int]) -> None:
    card, reader, port = scripted
    with card_in_reader(card, reader, port) as handle, PcscTransport(reader, wait=5) as transport:
        transport.transmit(bytes.fromhex("00A4040C023F00"))
        handle.remove()
        error: Exception | None = None
        for _ in range(50):  # pcscd notices the removal on its next presence poll
            try:
                transport.transmit(bytes.fromhex("00A4040C023F00"))
            except (CardAbsent, CardIOError) as exc:
                error = exc
                break
        assert isinstance(error, CardAbsent | CardIOError)
        assert error.code in ("CARD_ABSENT", "CARD_IO")
        assert "3F00" not in error.diagnostics().upper()


def test_empty_reader_and_unknown_reader(vpcd_slot: tuple[str, int]) -> None:
    reader, _port = vpcd_slot
    assert not reader_has_card(reader)
    with pytest.raises(CardAbsent) as absent:
        PcscTransport(reader, wait=0.2)
    assert absent.value.code == "CARD_ABSENT"
    with pytest.raises(ReaderNotFound) as unknown:
        open_reader("pcsc:no reader has this name")
    assert unknown.value.code == "READER_NOT_FOUND"
    with pytest.raises(ReaderNotFound):
        PcscTransport(99)
    with pytest.raises(InvalidInput):
        open_reader("smartcard")
    with pytest.raises(InvalidInput):
        open_reader("vpcd:first")


def test_pcsc_skips_the_virtual_readers(scripted: tuple[ScriptedCard, str, int]) -> None:
    card, reader, port = scripted
    real = [r for r in list_readers() if not r.startswith(VPCD_READER_PREFIX)]
    if any(reader_has_card(r) for r in real):
        pytest.skip("a real card is in a real reader here")
    # ``pcsc`` is for a real card: an emulated card in vpcd is not taken by mistake.
    with card_in_reader(card, reader, port), pytest.raises(ReaderNotFound):
        open_reader("pcsc", wait=0.5)
