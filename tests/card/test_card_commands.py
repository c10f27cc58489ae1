"""Every command of the virtual card and every status word it answers, at the APDU level."""

from __future__ import annotations

import hashlib

import pytest
from card_helpers import AUTH_PIN, NUMBER, SIGN_PASSWORD, TEXT_PIN, fresh_card, hexb
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.card import MY_NUMBER_CARD_ATR, VirtualCard
from openmyna.card.cvcert import decode_certificate
from openmyna.card.tlv import digest_info

JPKI = "D3 92 F0 00 26 01 00 00 00 01"
TEXT = "D3 92 10 00 31 00 01 01 04 08"
FACE = "D3 92 10 00 31 00 01 01 04 02"


def tx(card: VirtualCard, apdu: str | bytes) -> tuple[bytes, int]:
    """Send an APDU (hex text or bytes); response data and status word."""
    raw = hexb(apdu) if isinstance(apdu, str) else apdu
    response = card.transmit(raw)
    assert len(response) >= 2
    return response[:-2], int.from_bytes(response[-2:], "big")


def select_app(card: VirtualCard, aid: str) -> None:
    assert tx(card, f"00 A4 04 0C 0A {aid}")[1] == 0x9000


def select_ef(card: VirtualCard, fid: str) -> int:
    return tx(card, f"00 A4 02 0C 02 {fid}")[1]


def verify(card: VirtualCard, fid: str, pin: str) -> int:
    assert select_ef(card, fid) == 0x9000
    data = pin.encode()
    return tx(card, bytes.fromhex("00200080") + bytes([len(data)]) + data)[1]


def read_all(card: VirtualCard, fid: str) -> bytes:
    assert select_ef(card, fid) == 0x9000
    out = b""
    while True:
        data, sw = tx(card, f"00 B0 {len(out) >> 8:02X} {len(out) & 0xFF:02X} 00")
        assert sw == 0x9000
        out += data
        if len(data) < 256:
            return out


# --- the ATR and the token ------------------------------------------------------------------


def test_the_atr_is_the_one_opensc_matches() -> None:
    atr = MY_NUMBER_CARD_ATR
    assert atr.hex(":") == "3b:e0:00:ff:81:31:fe:45:14"
    tck = 0
    for b in atr[1:-1]:
        tck ^= b
    assert tck == atr[-1]  # T=1 offered: the check byte must be right


def test_the_token_says_my_number_card(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert select_ef(card, "0006") == 0x9000
    data, sw = tx(card, "00 B0 00 00 20")
    assert sw == 0x9000
    assert data == b"JPKIAPICCTOKEN2".ljust(32, b" ")


# --- SELECT ---------------------------------------------------------------------------------


def test_select_by_aid(card: VirtualCard) -> None:
    for aid in (JPKI, TEXT, FACE):
        assert tx(card, f"00 A4 04 0C 0A {aid}") == (b"", 0x9000)
    assert tx(card, "00 A4 04 0C 05 D3 92 F0 00 27")[1] == 0x6A82
    assert tx(card, "00 A4 04 0C 11 " + "01" * 17)[1] == 0x6700
    assert tx(card, f"00 A4 04 01 0A {JPKI}")[1] == 0x6A86  # P2 01: not supported
    fci, sw = tx(card, f"00 A4 04 00 0A {JPKI} 00")
    assert sw == 0x9000
    assert fci == hexb("6F 0C 84 0A") + hexb(JPKI)


def test_select_ef(card: VirtualCard) -> None:
    assert select_ef(card, "000A") == 0x6A82  # no application selected yet
    select_app(card, JPKI)
    assert select_ef(card, "000A") == 0x9000
    assert select_ef(card, "1234") == 0x6A82
    assert tx(card, "00 A4 02 0C 01 0A")[1] == 0x6700
    assert tx(card, "00 A4 08 0C 02 00 0A")[1] == 0x6A86  # select by path: not supported
    fcp, sw = tx(card, "00 A4 02 00 02 00 0A 00")
    assert sw == 0x9000
    assert fcp[0] == 0x62
    assert hexb("83 02 00 0A") in fcp
    size = int.from_bytes(fcp[fcp.index(0x80) + 2 : fcp.index(0x80) + 4], "big")
    assert size == len(read_all(card, "000A"))


def test_selecting_the_mf_or_no_name_deselects(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert tx(card, "00 A4 00 0C 02 3F 00")[1] == 0x9000
    assert select_ef(card, "000A") == 0x6A82
    select_app(card, JPKI)
    assert tx(card, "00 A4 04 0C")[1] == 0x9000
    assert select_ef(card, "000A") == 0x6A82


def test_a_failed_select_keeps_the_current_file(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "0006")
    assert select_ef(card, "7777") == 0x6A82
    assert tx(card, "00 B0 00 00 04")[0] == b"JPKI"


# --- READ BINARY ----------------------------------------------------------------------------


def test_read_binary_with_offsets_reads_the_certificate(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "000A")
    head, sw = tx(card, "00 B0 00 00 04")  # what OpenSC reads to size the file
    assert sw == 0x9000
    assert head[:2] == hexb("30 82")
    size = 4 + int.from_bytes(head[2:4], "big")
    der = read_all(card, "000A")
    assert len(der) == size
    cert = x509.load_der_x509_certificate(der)
    assert "user authentication" in cert.issuer.rfc4514_string()
    middle, sw = tx(card, "00 B0 01 00 10")
    assert sw == 0x9000
    assert middle == der[0x100:0x110]


def test_read_past_the_end(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "0006")  # 32 bytes
    data, sw = tx(card, "00 B0 00 1C 10")
    assert (data, sw) == (b"    ", 0x9000)  # fewer bytes than asked: what is left, as the real card
    data, sw = tx(card, "00 B0 00 1C 00")
    assert (data, sw) == (b"    ", 0x9000)  # Le = 00 asks for "all there is"
    assert tx(card, "00 B0 00 20 00") == (b"", 0x9000)
    assert tx(card, "00 B0 00 21 01")[1] == 0x6B00
    assert tx(card, "00 B0 7F FF 01")[1] == 0x6B00


def test_extended_length_read_binary_returns_a_whole_certificate(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "000A")
    data, sw = tx(card, "00 B0 00 00 00 00 00")  # Le = 65536
    assert sw == 0x9000
    assert len(data) > 256
    assert x509.load_der_x509_certificate(data)
    data, sw = tx(card, "00 B0 00 00 00 01 2C")  # Le = 300
    assert (len(data), sw) == (300, 0x9000)


def test_read_binary_refusals(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert tx(card, "00 B0 00 00 04")[1] == 0x6986  # no current EF
    select_ef(card, "0017")
    assert tx(card, "00 B0 00 00 04")[1] == 0x6981  # a key EF is not readable
    select_ef(card, "0018")
    assert tx(card, "00 B0 00 00 04")[1] == 0x6981  # nor a PIN EF
    select_ef(card, "0006")
    assert tx(card, "00 B0 86 00 04")[1] == 0x6A86  # short EF identifier
    assert tx(card, "00 B0 00 00")[1] == 0x6700  # no Le
    assert tx(card, "00 B0 00 00 01 00 04")[1] == 0x6700  # data in a READ BINARY


def test_signature_certificate_needs_the_password(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert select_ef(card, "0001") == 0x9000
    assert tx(card, "00 B0 00 00 04")[1] == 0x6982
    assert verify(card, "001B", SIGN_PASSWORD) == 0x9000
    der = read_all(card, "0001")
    assert "digital signature" in x509.load_der_x509_certificate(der).issuer.rfc4514_string()


def test_ca_certificates_are_free_to_read(card: VirtualCard) -> None:
    select_app(card, JPKI)
    for fid in ("000B", "0002"):
        cert = x509.load_der_x509_certificate(read_all(card, fid))
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


# --- VERIFY ---------------------------------------------------------------------------------


def test_verify_without_data_tells_the_tries_left(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "0018")
    assert tx(card, "00 20 00 80")[1] == 0x63C3
    select_ef(card, "001B")
    assert tx(card, "00 20 00 80")[1] == 0x63C5
    assert tx(card, "00 20 00 80 00")[1] == 0x63C5  # with an Le: still a query


def test_verify_wrong_then_right(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert verify(card, "0018", "0000") == 0x63C2
    assert verify(card, "0018", "12345") == 0x63C1  # any mismatch costs a try
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    assert tx(card, "00 20 00 80")[1] == 0x63C3  # the counter is full again


def test_verify_locks_at_zero(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert [verify(card, "0018", "9999") for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert verify(card, "0018", AUTH_PIN) == 0x6983  # blocked: even the right PIN
    assert tx(card, "00 20 00 80")[1] == 0x63C0  # the status query still answers


def test_verify_refusals(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert tx(card, "00 20 00 80 04 31 32 33 34")[1] == 0x6986  # no PIN EF selected
    select_ef(card, "000A")
    assert tx(card, "00 20 00 80 04 31 32 33 34")[1] == 0x6981  # not a PIN EF
    select_ef(card, "0018")
    assert tx(card, "00 20 00 81 04 31 32 33 34")[1] == 0x6A86
    assert tx(card, "00 20 01 80 04 31 32 33 34")[1] == 0x6A86
    assert tx(card, "00 20 00 80")[1] == 0x63C3  # none of these spent a try


def test_security_status_belongs_to_the_application(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert verify(card, "001B", SIGN_PASSWORD) == 0x9000
    select_app(card, JPKI)  # reselecting the same application keeps it
    select_ef(card, "0001")
    assert tx(card, "00 B0 00 00 04")[1] == 0x9000
    select_app(card, TEXT)
    select_app(card, JPKI)  # another application in between clears it
    select_ef(card, "0001")
    assert tx(card, "00 B0 00 00 04")[1] == 0x6982


def test_reset_clears_the_session_but_not_the_counters(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert verify(card, "0018", "0000") == 0x63C2
    assert verify(card, "001B", SIGN_PASSWORD) == 0x9000
    card.reset()
    assert select_ef(card, "0001") == 0x6A82  # nothing selected
    select_app(card, JPKI)
    select_ef(card, "0001")
    assert tx(card, "00 B0 00 00 04")[1] == 0x6982
    select_ef(card, "0018")
    assert tx(card, "00 20 00 80")[1] == 0x63C2


def test_a_wrong_attempt_ends_the_verified_state(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert verify(card, "001B", SIGN_PASSWORD) == 0x9000
    assert verify(card, "001B", "WRONG1") == 0x63C4
    select_ef(card, "0001")
    assert tx(card, "00 B0 00 00 04")[1] == 0x6982


# --- CHANGE REFERENCE DATA ------------------------------------------------------------------


def _change(card: VirtualCard, new: str) -> int:
    data = new.encode()
    return tx(card, bytes.fromhex("00240180") + bytes([len(data)]) + data)[1]


def test_change_needs_the_current_pin_first(card: VirtualCard) -> None:
    select_app(card, JPKI)
    select_ef(card, "0018")
    assert _change(card, "4321") == 0x6982
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    assert _change(card, "4321") == 0x9000
    card.reset()
    select_app(card, JPKI)
    assert verify(card, "0018", AUTH_PIN) == 0x63C2
    assert verify(card, "0018", "4321") == 0x9000


@pytest.mark.parametrize(
    ("fid", "current", "bad"),
    [
        ("0018", AUTH_PIN, ["123", "12345", "12a4", "１２３４"]),
        ("001B", SIGN_PASSWORD, ["ABC12", "abc123", "ABCDEFG", "1234567", "A" * 16 + "1"]),
    ],
)
def test_change_enforces_the_pin_rules(
    card: VirtualCard, fid: str, current: str, bad: list[str]
) -> None:
    select_app(card, JPKI)
    assert verify(card, fid, current) == 0x9000
    for value in bad:
        assert _change(card, value) == 0x6A80, value
    assert tx(card, "00 24 01 80 02 FF FE")[1] == 0x6A80  # not even ASCII
    assert verify(card, fid, current) == 0x9000  # unchanged


def test_change_refusals(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert tx(card, "00 24 01 80 04 31 32 33 34")[1] == 0x6986
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    assert tx(card, "00 24 00 80 08 31 32 33 34 35 36 37 38")[1] == 0x6A86
    assert tx(card, "00 24 01 80")[1] == 0x6700
    for _ in range(3):
        verify(card, "0018", "0000")
    assert _change(card, "5555") == 0x6983
    select_app(card, FACE)
    assert verify(card, "0013", NUMBER) == 0x9000
    assert _change(card, "111111111111") == 0x6985  # PIN-A is the number: fixed


# --- COMPUTE DIGITAL SIGNATURE ---------------------------------------------------------------


def _sign(card: VirtualCard, data: bytes, le: str = "00") -> tuple[bytes, int]:
    return tx(card, bytes.fromhex("802A0080") + bytes([len(data)]) + data + bytes.fromhex(le))


def _cert(card: VirtualCard, fid: str) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(read_all(card, fid)).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.mark.parametrize(
    ("key_fid", "pin_fid", "pin", "cert_fid"),
    [("0017", "0018", AUTH_PIN, "000A"), ("001A", "001B", SIGN_PASSWORD, "0001")],
)
def test_signatures_verify_with_the_certificate(
    card: VirtualCard, key_fid: str, pin_fid: str, pin: str, cert_fid: str
) -> None:
    select_app(card, JPKI)
    message = b"a challenge from a relying party"
    info = digest_info("sha256", hashlib.sha256(message).digest())
    select_ef(card, key_fid)
    assert _sign(card, info)[1] == 0x6982  # before the PIN
    assert verify(card, pin_fid, pin) == 0x9000
    select_ef(card, key_fid)
    signature, sw = _sign(card, info)
    assert sw == 0x9000
    assert len(signature) == 256
    _cert(card, cert_fid).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_the_auth_pin_does_not_unlock_the_signature_key(card: VirtualCard) -> None:
    select_app(card, JPKI)
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    select_ef(card, "001A")
    assert _sign(card, digest_info("sha256", bytes(32)))[1] == 0x6982


def test_other_data_is_padded_as_given(card: VirtualCard) -> None:
    """Raw PKCS#1 v1.5 (e.g. CKM_RSA_PKCS with a TLS 1.0 MD5+SHA-1 hash): pad, no DigestInfo."""
    select_app(card, JPKI)
    verify(card, "0018", AUTH_PIN)
    select_ef(card, "0017")
    data = bytes(range(36))
    signature, sw = _sign(card, data)
    assert sw == 0x9000
    key = _cert(card, "000A")
    numbers = key.public_numbers()
    recovered = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert recovered == b"\x00\x01" + b"\xff" * (256 - 3 - 36) + b"\x00" + data


def test_sign_refusals(card: VirtualCard) -> None:
    select_app(card, JPKI)
    verify(card, "0018", AUTH_PIN)
    info = digest_info("sha256", bytes(32))
    select_ef(card, "000A")
    assert _sign(card, info)[1] == 0x6986  # the current EF is no key
    select_ef(card, "0017")
    assert tx(card, "80 2A 00 81 02 00 00 00")[1] == 0x6A86
    assert tx(card, "80 2A 00 80 00")[1] == 0x6700  # no data
    assert tx(card, bytes.fromhex("802A0080") + bytes([len(info)]) + info)[1] == 0x6700  # no Le
    assert _sign(card, info, le="80")[1] == 0x6700  # Le too small for 256 bytes
    too_long = bytes.fromhex("802A008000") + (246).to_bytes(2, "big") + bytes(246) + b"\x01\x00"
    assert tx(card, too_long)[1] == 0x6A80  # 246 bytes do not fit PKCS#1 padding of 256
    card.reset()
    assert _sign(card, info)[1] == 0x6986


def test_opensc_command_sequence() -> None:
    """What OpenSC's JPKI driver sends (card-jpki.c, pkcs15-jpki.c), in its order."""
    card = fresh_card()
    assert tx(card, f"00 A4 04 0C 0A {JPKI}")[1] == 0x9000
    for fid in ("000A", "0001", "000B", "0002"):
        assert tx(card, f"00 A4 02 0C 02 {fid}")[1] == 0x9000
    for pin_fid, tries in (("0018", 3), ("001B", 5)):  # SC_PIN_CMD_GET_INFO
        assert tx(card, f"00 A4 02 0C 02 {pin_fid}")[1] == 0x9000
        assert tx(card, "00 20 00 80")[1] == 0x63C0 | tries
    assert tx(card, "00 A4 02 0C 02 00 18")[1] == 0x9000
    assert tx(card, "00 20 00 80 04 " + AUTH_PIN.encode().hex())[1] == 0x9000
    assert tx(card, "00 A4 02 0C 02 00 17")[1] == 0x9000  # set_security_env: the key EF
    info = digest_info("sha256", hashlib.sha256(b"x").digest())
    signature, sw = tx(card, bytes.fromhex("802A0080") + bytes([len(info)]) + info + b"\x00")
    assert (len(signature), sw) == (256, 0x9000)


# --- classes and instructions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cla", "sw"),
    [
        ("01", 0x6881),  # logical channel 1
        ("04", 0x6882),  # secure messaging
        ("10", 0x6884),  # command chaining
        ("81", 0x6881),
        ("40", 0x6881),  # further interindustry class: channel 4
        ("60", 0x6882),
        ("50", 0x6884),
        ("20", 0x6E00),  # reserved
        ("A0", 0x6E00),
        ("FF", 0x6E00),
    ],
)
def test_unsupported_classes(card: VirtualCard, cla: str, sw: int) -> None:
    assert tx(card, f"{cla} A4 04 0C 0A {JPKI}")[1] == sw


def test_unknown_instructions(card: VirtualCard) -> None:
    assert tx(card, "00 84 00 00 08")[1] == 0x6D00  # GET CHALLENGE: not on this card
    assert tx(card, "00 2A 00 80 01 00 00")[1] == 0x6D00  # the sign command is class 80
    assert tx(card, f"80 A4 04 0C 0A {JPKI}")[1] == 0x6D00  # SELECT is class 00
    assert tx(card, "00 C0 00 00 00")[1] == 0x6D00  # T=1: no GET RESPONSE


@pytest.mark.parametrize(
    "raw", ["", "00", "00 A4", "00 A4 04", "00 A4 04 0C 05 01", "00 B0 00 00 00 01"]
)
def test_malformed_apdus_get_wrong_length(card: VirtualCard, raw: str) -> None:
    assert tx(card, raw)[1] == 0x6700


def test_internal_errors_become_no_precise_diagnosis(card: VirtualCard) -> None:
    def broken() -> None:
        raise OSError("disk full")

    card.on_change = broken
    select_app(card, JPKI)
    assert verify(card, "0018", "0000") == 0x6F00  # the try could not be saved: no answer
    card.on_change = None
    select_ef(card, "0018")
    assert tx(card, "00 20 00 80")[1] == 0x63C2  # but it was spent


def test_text_and_face_applications(card: VirtualCard) -> None:
    select_app(card, TEXT)
    select_ef(card, "0001")
    assert tx(card, "00 B0 00 00 00")[1] == 0x6982
    assert verify(card, "0011", TEXT_PIN) == 0x9000
    assert select_ef(card, "0001") == 0x9000
    number, sw = tx(card, "00 B0 00 00 00")
    assert sw == 0x9000
    assert number[:3] == hexb("FF 10 0C")
    assert number[3:15] == NUMBER.encode()
    items = read_all(card, "0002")
    assert items[:2] == hexb("FF 20")
    assert b"\xdf\x22" in items
    assert "山田 太郎".encode() in items
    assert read_all(card, "0003")[:2] == hexb("FF 30")
    assert decode_certificate(read_all(card, "0004")).self_signed  # 7F21, as the real card
    select_app(card, FACE)
    select_ef(card, "0002")
    assert tx(card, "00 B0 00 00 00")[1] == 0x6982
    assert verify(card, "0013", "000000000000") == 0x63C9  # PIN-A: 10 tries
    assert verify(card, "0013", NUMBER) == 0x9000
    assert read_all(card, "0002")[:2] == hexb("FF 20")
    assert read_all(card, "0005")[:2] == hexb("FF 40")
