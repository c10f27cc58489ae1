"""Fuzzing the card: random APDUs and random command sequences never break it.

Every answer is at least a status word from the card's set; the state machine checks the
security rules against a model (counters only go down on a wrong PIN, never below zero,
nothing protected is read or signed without its PIN).
"""

from __future__ import annotations

from card_helpers import AUTH_PIN, SIGN_PASSWORD, TEXT_PIN, fresh_card
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from openmyna.card import SW
from openmyna.card.layout import FACE_AID, JPKI_AID, TEXT_AID
from openmyna.card.state import dump_card, load_card
from openmyna.card.tlv import digest_info

KNOWN = {int(sw) for sw in SW} | {0x63C0 | n for n in range(16)}
CARD = fresh_card()
TEMPLATE = dump_card(CARD)


def check(response: bytes) -> int:
    assert isinstance(response, bytes)
    assert len(response) >= 2
    sw = int.from_bytes(response[-2:], "big")
    assert sw in KNOWN, f"{sw:04X}"
    if sw not in (SW.OK, SW.END_OF_FILE):
        assert len(response) == 2  # errors carry no data
    return sw


def header() -> st.SearchStrategy[bytes]:
    return st.tuples(
        st.sampled_from([0x00, 0x80, 0x01, 0x0C, 0x10, 0x84, 0xFF, 0x40]),
        st.sampled_from([0xA4, 0xB0, 0x20, 0x24, 0x2A, 0x84, 0xC0, 0xB1, 0x00]),
        st.integers(0, 255),
        st.integers(0, 255),
    ).map(bytes)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.binary(max_size=40)
        | header().flatmap(lambda h: st.binary(max_size=12).map(lambda b: h + b)),
        max_size=12,
    )
)
def test_random_bytes_always_get_a_status_word(apdus: list[bytes]) -> None:
    card = load_card(TEMPLATE)
    for apdu in apdus:
        check(card.transmit(apdu))


AIDS = [JPKI_AID, TEXT_AID, FACE_AID, bytes.fromhex("A000000001")]
FIDS = [0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x000A, 0x000B, 0x0011, 0x0013]
FIDS += [0x0017, 0x0018, 0x001A, 0x001B, 0x3F00, 0x1234]
PINS = [AUTH_PIN, SIGN_PASSWORD, TEXT_PIN, "0000", "WRONG1", "", "123456789012"]
PIN_EFS = {(JPKI_AID, 0x0018): 3, (JPKI_AID, 0x001B): 5, (TEXT_AID, 0x0011): 3}
PROTECTED = {(JPKI_AID, 0x0001): 0x001B, (TEXT_AID, 0x0001): 0x0011, (TEXT_AID, 0x0002): 0x0011}
KEYS = {0x0017: 0x0018, 0x001A: 0x001B}


class CardMachine(RuleBasedStateMachine):
    """Random command sequences against a model of the security state."""

    def __init__(self) -> None:
        super().__init__()
        self.card = load_card(TEMPLATE)
        self.app: bytes | None = None
        self.ef: int | None = None
        self.verified: set[int] = set()
        self.tries = {k: v for k, v in PIN_EFS.items()}

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.card.transmit(apdu)
        return response[:-2], check(response)

    @rule(aid=st.sampled_from(AIDS))
    def select_app(self, aid: bytes) -> None:
        _, sw = self.send(bytes.fromhex("00A4040C") + bytes([len(aid)]) + aid)
        if aid in (JPKI_AID, TEXT_AID, FACE_AID):
            assert sw == SW.OK
            if aid != self.app:
                self.verified.clear()
            self.app, self.ef = aid, None
        else:
            assert sw == SW.FILE_NOT_FOUND

    @rule(fid=st.sampled_from(FIDS))
    def select_ef(self, fid: int) -> None:
        _, sw = self.send(bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big"))
        if sw == SW.OK:
            assert self.app is not None
            self.ef = fid
        else:
            assert sw == SW.FILE_NOT_FOUND

    @rule(offset=st.integers(0, 0x7FFF), le=st.integers(0, 255))
    def read(self, offset: int, le: int) -> None:
        data, sw = self.send(bytes([0, 0xB0, offset >> 8, offset & 0xFF, le]))
        if self.app is not None and self.ef is not None:
            pin = PROTECTED.get((self.app, self.ef))
            if pin is not None and pin not in self.verified:
                assert sw == SW.SECURITY_NOT_SATISFIED
        if self.ef is None:
            assert sw == SW.NO_CURRENT_EF
        assert len(data) <= (le or 256)

    @rule(pin=st.sampled_from(PINS))
    def verify(self, pin: str) -> None:
        raw = pin.encode()
        apdu = bytes.fromhex("00200080") + (bytes([len(raw)]) + raw if raw else b"")
        _, sw = self.send(apdu)
        key = (self.app, self.ef)
        if key not in PIN_EFS:
            return
        left = self.tries[key]
        if not raw:
            assert sw == 0x63C0 | left
        elif left == 0:
            assert sw == SW.AUTH_METHOD_BLOCKED
        elif sw == SW.OK:
            self.tries[key] = PIN_EFS[key]
            self.verified.add(key[1])  # self.ef, as narrowed to an int by the PIN_EFS check
        else:
            assert sw == 0x63C0 | (left - 1)
            self.tries[key] = left - 1
            self.verified.discard(self.ef)

    @precondition(lambda self: self.app == JPKI_AID)
    @rule(digest=st.binary(min_size=32, max_size=32))
    def sign(self, digest: bytes) -> None:
        info = digest_info("sha256", digest)
        data, sw = self.send(bytes.fromhex("802A0080") + bytes([len(info)]) + info + b"\x00")
        pin = KEYS.get(self.ef) if self.ef is not None else None
        if pin is None:
            assert sw == SW.NO_CURRENT_EF
        elif pin in self.verified:
            assert sw == SW.OK
            assert len(data) == 256
        else:
            assert sw == SW.SECURITY_NOT_SATISFIED

    @rule()
    def reset(self) -> None:
        self.card.reset()
        self.app, self.ef = None, None
        self.verified.clear()

    @invariant()
    def counters_match_the_model(self) -> None:
        for (aid, fid), left in self.tries.items():
            assert left >= 0
            assert self.card.files.pin(aid, fid).tries_left == left


TestCardMachine = CardMachine.TestCase
TestCardMachine.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
