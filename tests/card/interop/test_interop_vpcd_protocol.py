"""The vpcd wire protocol of ``serve_card``, against a stand-in for pcscd's vpcd driver.

These run everywhere (no pcscd needed): a local TCP listener plays vpcd, sends control
messages and APDUs the way the driver does, and checks what the card side answers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from openmyna.card.transport.vpcd import (
    CTRL_ATR,
    CTRL_POWER_OFF,
    CTRL_POWER_ON,
    CTRL_RESET,
    VpcdUnavailable,
    inserted,
    serve_card,
)

ATR = bytes.fromhex("3BE000FF8131FE4514")
SECRET_PIN = b"\x39\x38\x37\x36"  # appears in an APDU; must never reach a log


class ToyCard:
    """A card that answers every APDU with its first four bytes reversed and ``90 00``."""

    atr = ATR

    def __init__(self) -> None:
        self.resets = 0
        self.apdus: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        return apdu[:4][::-1] + b"\x90\x00"

    def reset(self) -> None:
        self.resets += 1


class FakeVpcd:
    """The reader side: listens like vpcd's driver, accepts the card, sends messages."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self, timeout: float = 5.0) -> socket.socket:
        self.server.settimeout(timeout)
        conn, _ = self.server.accept()
        conn.settimeout(timeout)
        self.conn = conn
        return conn

    def send(self, payload: bytes, *, split: bool = False) -> None:
        assert self.conn is not None
        frame = len(payload).to_bytes(2, "big") + payload
        if split:  # as vpcd before 0.9 does: the length and the data in separate writes
            for i in range(len(frame)):
                self.conn.sendall(frame[i : i + 1])
                time.sleep(0.001)
        else:
            self.conn.sendall(frame)

    def receive(self) -> bytes:
        assert self.conn is not None
        head = self._exactly(2)
        return self._exactly(int.from_bytes(head, "big"))

    def _exactly(self, n: int) -> bytes:
        assert self.conn is not None
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            assert chunk, "the card side closed the connection"
            data += chunk
        return data

    def silent(self, wait: float = 0.3) -> bool:
        """Whether the card side sends nothing within ``wait`` seconds."""
        assert self.conn is not None
        self.conn.settimeout(wait)
        try:
            return self.conn.recv(1) == b""  # closed counts as silent too
        except TimeoutError:
            return True
        finally:
            self.conn.settimeout(5.0)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def test_atr_power_and_apdus(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    with inserted(card, port=vpcd.port, timeout=5):
        vpcd.accept()
        vpcd.send(bytes([CTRL_ATR]))
        assert vpcd.receive() == ATR
        for control in (CTRL_POWER_OFF, CTRL_POWER_ON, CTRL_RESET):
            vpcd.send(bytes([control]))
        assert vpcd.silent(), "power and reset messages get no answer"
        assert card.resets == 3
        vpcd.send(bytes.fromhex("00A4040C0A") + bytes(10))
        assert vpcd.receive() == bytes.fromhex("0C04A400") + b"\x90\x00"
        assert card.apdus == [bytes.fromhex("00A4040C0A") + bytes(10)]


def test_long_apdus_and_split_writes(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    extended = bytes.fromhex("80 2A 00 80 00 01 00") + bytes(range(256)) + b"\x00\x00"
    with inserted(card, port=vpcd.port, timeout=5):
        vpcd.accept()
        vpcd.send(extended, split=True)
        assert vpcd.receive() == bytes.fromhex("80002A80 9000")
        vpcd.send(bytes([CTRL_ATR]), split=True)
        assert vpcd.receive() == ATR
    assert card.apdus == [extended]


def test_unknown_control_and_empty_messages_are_ignored(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    with inserted(card, port=vpcd.port, timeout=5):
        vpcd.accept()
        vpcd.send(b"\x03")
        vpcd.send(b"")
        assert vpcd.silent()
        vpcd.send(bytes([CTRL_ATR]))
        assert vpcd.receive() == ATR
    assert card.apdus == []
    assert card.resets == 0


def test_reconnects_when_vpcd_drops_the_connection(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    with inserted(card, port=vpcd.port, timeout=5) as handle:
        first = vpcd.accept()
        vpcd.send(bytes([CTRL_ATR]))
        assert vpcd.receive() == ATR
        first.close()  # pcscd restarted
        vpcd.accept()  # the card comes back by itself
        vpcd.send(bytes.fromhex("00B0000004"))
        assert vpcd.receive() == bytes.fromhex("0000B000 9000")
        assert handle.connected.wait(2)
    assert card.resets >= 1, "losing the reader is a power cycle"


def test_stop_ends_service_and_removes_card(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    stop = threading.Event()
    thread = threading.Thread(target=serve_card, args=(card, "127.0.0.1", vpcd.port, stop))
    thread.start()
    conn = vpcd.accept()
    started = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2
    conn.settimeout(2)
    assert conn.recv(1) == b"", "the card side closes the connection: card removed"


def test_on_apdu_runs_after_each_apdu(vpcd: FakeVpcd) -> None:
    card = ToyCard()
    seen: list[int] = []
    with inserted(card, port=vpcd.port, timeout=5, on_apdu=lambda: seen.append(len(card.apdus))):
        vpcd.accept()
        vpcd.send(bytes([CTRL_ATR]))
        vpcd.receive()
        for _ in range(3):
            vpcd.send(bytes.fromhex("00200080"))
            vpcd.receive()
    assert seen == [1, 2, 3]


def test_gives_up_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` now.
    started = time.monotonic()
    with pytest.raises(VpcdUnavailable) as info:
        serve_card(ToyCard(), "127.0.0.1", port, give_up_after=1.0)
    assert info.value.code == "VPCD_UNAVAILABLE"
    assert time.monotonic() - started < 5
    with pytest.raises(VpcdUnavailable), inserted(ToyCard(), port=port, timeout=0.5):
        pass


def test_no_apdu_content_in_logs(vpcd: FakeVpcd, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="openmyna")
    card = ToyCard()
    verify = bytes.fromhex("0020008004") + SECRET_PIN
    with inserted(card, port=vpcd.port, timeout=5):
        vpcd.accept()
        vpcd.send(verify)
        vpcd.receive()
        vpcd.send(b"\x07")  # an unknown control message is logged, by its value only
        assert vpcd.silent()
    text = caplog.text.lower()
    assert "unknown vpcd control message 0x07" in text
    assert SECRET_PIN.hex() not in text
    assert SECRET_PIN.decode() not in text
    assert verify.hex() not in text
