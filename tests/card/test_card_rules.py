"""The card's move deadlines (C2) and its data layouts (TLV, DigestInfo, PNG).

The card's validity and the legal age are tested with the law's rules (tests/law).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.card import rules
from openmyna.card.images import face_placeholder, png_size, text_placeholder
from openmyna.card.text_ap import (
    CardItems,
    decode_items,
    decode_number,
    encode_items,
    encode_number,
)
from openmyna.card.tlv import (
    TLVError,
    digest_info,
    encode_length,
    iter_tlv,
    read_tlv,
    split_digest_info,
    tlv,
)

D = dt.date


def test_move_deadlines() -> None:
    planned = D(2026, 4, 1)
    assert not rules.move_in_late(
        planned_on=planned, moved_in_on=D(2026, 4, 20), registered_on=D(2026, 5, 1)
    )
    assert rules.move_in_late(
        planned_on=planned, moved_in_on=D(2026, 4, 20), registered_on=D(2026, 5, 2)
    )
    assert rules.move_in_late(
        planned_on=planned, moved_in_on=D(2026, 4, 2), registered_on=D(2026, 4, 17)
    )
    assert not rules.move_in_late(
        planned_on=planned, moved_in_on=D(2026, 4, 2), registered_on=D(2026, 4, 16)
    )
    assert rules.move_in_deadline(planned) == D(2026, 5, 1)
    assert rules.continuation_due(D(2026, 4, 10)) == D(2026, 7, 9)


@given(st.binary(max_size=70000))
def test_tlv_lengths_round_trip(value: bytes) -> None:
    encoded = tlv(0xDF22, value)
    tag, read, end = read_tlv(encoded)
    assert (tag, read, end) == (0xDF22, value, len(encoded))


def test_tlv_details() -> None:
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x1234) == b"\x82\x12\x34"
    assert list(iter_tlv(tlv(0xDF21, b"a") + tlv(0x04, b"bc") + b"\xff\xff")) == [
        (0xDF21, b"a"),
        (0x04, b"bc"),
    ]
    for bad in (b"", b"\xdf", b"\xdf\x21", b"\xdf\x21\x05ab", b"\xdf\x21\x85" + bytes(5)):
        with pytest.raises(TLVError):
            read_tlv(bad)
    with pytest.raises(TLVError):
        read_tlv(b"\x5f\x81\x01\x01\x00")  # three-byte tag


def test_text_ap_layouts() -> None:
    items = CardItems("山田 太郎", "群馬県前橋市大手町二丁目12番1号", D(1980, 5, 17), 1)
    encoded = encode_items(items)
    assert encoded[:2] == b"\xff\x20"
    assert decode_items(encoded) == items
    _, value, _ = read_tlv(encoded)
    fields = list(iter_tlv(value))
    offsets = fields[0][1]
    assert fields[0][0] == 0xDF21
    for i, (tag, _) in enumerate(fields[1:]):
        at = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
        assert encoded[at : at + 2] == tag.to_bytes(2, "big")  # each offset points at its TLV
    assert encode_number("123456789018") == b"\xff\x10\x0c123456789018\x00\x00"  # 17 bytes
    assert decode_number(encode_number("123456789018") + b"\xff\xff") == "123456789018"
    with pytest.raises(ValueError, match="12 digits"):
        encode_number("12345")
    with pytest.raises(TLVError):
        decode_items(tlv(0xFF20, tlv(0xDF22, b"x")))


def test_digest_info() -> None:
    info = digest_info("sha256", bytes(32))
    assert info.hex().startswith("3031300d060960864801650304020105000420")
    assert split_digest_info(info) == ("sha256", bytes(32))
    assert split_digest_info(info[:-1]) is None
    assert split_digest_info(b"\x00" * 36) is None
    with pytest.raises(ValueError, match="size"):
        digest_info("sha256", bytes(20))
    with pytest.raises(ValueError, match="unsupported"):
        digest_info("md5", bytes(16))


def test_placeholder_images() -> None:
    face = face_placeholder(b"card-1")
    assert png_size(face) == (96, 128)
    assert face != face_placeholder(b"card-2")
    assert face == face_placeholder(b"card-1")
    assert png_size(text_placeholder(5)) == (256, 24)
    with pytest.raises(ValueError, match="PNG"):
        png_size(b"GIF89a")
