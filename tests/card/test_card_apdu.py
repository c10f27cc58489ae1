"""The APDU parser and encoder: every case, short and extended, and malformed input."""

from __future__ import annotations

import pytest
from card_helpers import hexb
from hypothesis import given
from hypothesis import strategies as st

from openmyna.card.apdu import (
    SW,
    APDUFormatError,
    CommandAPDU,
    encode_command,
    parse_command,
    parse_response,
    respond,
    sw_hex,
    sw_tries_left,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00 20 00 80", CommandAPDU(0x00, 0x20, 0x00, 0x80)),
        ("00 B0 00 00 04", CommandAPDU(0x00, 0xB0, 0, 0, ne=4)),
        ("00 B0 00 00 00", CommandAPDU(0x00, 0xB0, 0, 0, ne=256)),
        ("00 A4 04 0C 02 00 0A", CommandAPDU(0x00, 0xA4, 4, 0x0C, hexb("000A"))),
        ("80 2A 00 80 02 AB CD 00", CommandAPDU(0x80, 0x2A, 0, 0x80, hexb("ABCD"), 256)),
        ("00 B0 00 00 00 08 00", CommandAPDU(0x00, 0xB0, 0, 0, ne=2048, extended=True)),
        ("00 B0 00 00 00 00 00", CommandAPDU(0x00, 0xB0, 0, 0, ne=65536, extended=True)),
        ("00 A4 02 0C 00 00 02 00 0A", CommandAPDU(0, 0xA4, 2, 0x0C, hexb("000A"), extended=True)),
        (
            "80 2A 00 80 00 00 01 AA 01 00",
            CommandAPDU(0x80, 0x2A, 0, 0x80, b"\xaa", 256, extended=True),
        ),
    ],
)
def test_every_case_parses(raw: str, expected: CommandAPDU) -> None:
    assert parse_command(hexb(raw)) == expected


def test_cases_are_named() -> None:
    assert parse_command(hexb("00200080")).case == 1
    assert parse_command(hexb("00B0000000")).case == 2
    assert parse_command(hexb("00A4040C01AA")).case == 3
    assert parse_command(hexb("802A008001AA00")).case == 4


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "00",
        "00 A4 04",
        "00 A4 04 0C 05 01 02",  # Lc 5, 2 bytes
        "00 A4 04 0C 01 01 02 03",  # one byte too many for case 4S
        "00 B0 00 00 00 01",  # 6 bytes with an extended marker
        "00 A4 04 0C 00 00 00 AA",  # extended Lc = 0
        "00 A4 04 0C 00 00 03 AA",  # extended Lc 3, 1 byte
    ],
)
def test_malformed_lengths_are_wrong_length(raw: str) -> None:
    with pytest.raises(APDUFormatError) as caught:
        parse_command(hexb(raw))
    assert caught.value.sw == SW.WRONG_LENGTH


def test_encoding_switches_to_extended_when_needed() -> None:
    assert encode_command(0, 0xB0, 0, 0, ne=256) == hexb("00B0000000")
    assert encode_command(0, 0xB0, 0, 0, ne=257) == hexb("00B00000000101")
    assert encode_command(0, 0xB0, 0, 0, ne=65536) == hexb("00B00000000000")
    big = bytes(300)
    assert encode_command(0x80, 0x2A, 0, 0x80, big, ne=256)[4:7] == hexb("00012C")
    assert encode_command(0, 0xA4, 4, 0x0C, b"\x01", extended=True) == hexb("00A4040C00000101")


def test_encoder_refuses_what_no_apdu_can_carry() -> None:
    with pytest.raises(ValueError, match="one byte"):
        encode_command(0x100, 0, 0, 0)
    with pytest.raises(ValueError, match="Ne"):
        encode_command(0, 0xB0, 0, 0, ne=0)
    with pytest.raises(ValueError, match="65535"):
        encode_command(0, 0xD6, 0, 0, bytes(65536))


def test_responses_and_status_words() -> None:
    r = parse_response(b"\x01\x02\x90\x00")
    assert (r.data, r.sw, r.sw1, r.sw2, r.ok) == (b"\x01\x02", 0x9000, 0x90, 0x00, True)
    assert r.encode() == b"\x01\x02\x90\x00"
    assert respond(SW.FILE_NOT_FOUND) == hexb("6A82")
    assert sw_hex(0x63C2) == "63 C2"
    assert sw_tries_left(3) == 0x63C3
    assert sw_tries_left(-1) == 0x63C0
    with pytest.raises(ValueError, match="status"):
        parse_response(b"\x90")


@given(st.binary(max_size=300))
def test_parser_accepts_or_refuses_with_a_status_word(raw: bytes) -> None:
    try:
        command = parse_command(raw)
    except APDUFormatError as exc:
        sw = exc.sw
    else:
        sw = SW.OK
        assert (command.cla, command.ins, command.p1, command.p2) == tuple(raw[:4])
        assert len(command.data) <= len(raw)
    assert sw in (SW.OK, SW.WRONG_LENGTH)


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=70000).filter(lambda b: len(b) <= 65535),
    st.one_of(st.none(), st.integers(1, 65536)),
    st.booleans(),
)
def test_encoding_then_parsing_is_the_identity(
    cla: int, ins: int, p1: int, p2: int, data: bytes, ne: int | None, extended: bool
) -> None:
    raw = encode_command(cla, ins, p1, p2, data, ne, extended=extended)
    parsed = parse_command(raw)
    assert (parsed.cla, parsed.ins, parsed.p1, parsed.p2) == (cla, ins, p1, p2)
    assert parsed.data == data
    assert parsed.ne == ne
    assert parsed.encode() == raw
