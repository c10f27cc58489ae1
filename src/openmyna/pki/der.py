"""A small DER reader and writer: only what the OCSP wire format (``ocsp_wire``) needs.

DER is ITU-T X.690's distinguished encoding: definite lengths in the fewest octets (§10.1),
integers in the fewest octets (§8.3.2), low tag numbers only here (every tag OCSP uses is
below 31, §8.1.2.2). The reader refuses anything else with ``DerError``, so a request is
understood in exactly one way.
"""

from __future__ import annotations

import datetime as dt

# Universal tags (X.690 §8.1.2, X.680 §8.4) and the class/constructed bits of a tag octet.
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
ENUMERATED = 0x0A
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
CONTEXT = 0x80
CONSTRUCTED = 0x20


class DerError(ValueError):
    """The bytes are not the DER this reader expects."""


def explicit(n: int) -> int:
    """The tag octet of ``[n] EXPLICIT`` (context-specific, constructed)."""
    return CONTEXT | CONSTRUCTED | n


def implicit(n: int) -> int:
    """The tag octet of a primitive ``[n] IMPLICIT`` value (context-specific)."""
    return CONTEXT | n


# --- reading ------------------------------------------------------------------------------------


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, contents, position after) of the TLV at ``pos``."""
    end = len(data)
    if pos + 2 > end:
        raise DerError("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not used here")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DerError("indefinite, huge or truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        # X.690 §10.1: the definite form in the fewest octets
        if length < 0x80 or length >> (8 * (count - 1)) == 0:
            raise DerError("length not in the fewest octets")
    if pos + length > end:
        raise DerError("truncated")
    return tag, data[pos : pos + length], pos + length


def read_one(data: bytes, tag: int | None = None) -> bytes:
    """The contents of the one TLV that fills ``data`` (of ``tag`` when given)."""
    found, contents, after = read_tlv(data)
    if after != len(data):
        raise DerError("trailing bytes")
    if tag is not None and found != tag:
        raise DerError("unexpected tag")
    return contents


def read_all(data: bytes) -> list[tuple[int, bytes]]:
    """Every (tag, contents) in ``data``, which they must fill exactly."""
    out = []
    pos = 0
    while pos < len(data):
        tag, contents, pos = read_tlv(data, pos)
        out.append((tag, contents))
    return out


def parse_integer(contents: bytes) -> int:
    """An INTEGER's value (X.690 §8.3: two's complement in the fewest octets)."""
    if not contents:
        raise DerError("empty integer")
    if len(contents) > 1 and (
        (contents[0] == 0x00 and contents[1] < 0x80)
        or (contents[0] == 0xFF and contents[1] >= 0x80)
    ):
        raise DerError("integer not in the fewest octets")
    return int.from_bytes(contents, "big", signed=True)


# --- writing ------------------------------------------------------------------------------------


def tlv(tag: int, contents: bytes) -> bytes:
    """One TLV with its length in the fewest octets."""
    n = len(contents)
    if n < 0x80:
        return bytes((tag, n)) + contents
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + contents


def sequence(*parts: bytes) -> bytes:
    """A SEQUENCE of already encoded parts."""
    return tlv(SEQUENCE, b"".join(parts))


def integer(value: int, tag: int = INTEGER) -> bytes:
    """An INTEGER (or ENUMERATED with ``tag``) in the fewest octets."""
    size = value.bit_length() // 8 + 1  # room for the sign bit
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    """An OCTET STRING."""
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """A BIT STRING of whole octets (no unused bits)."""
    return tlv(BIT_STRING, b"\x00" + value)


def null() -> bytes:
    """NULL."""
    return b"\x05\x00"


def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(OID, bytes(out))


def generalized_time(moment: dt.datetime) -> bytes:
    """A GeneralizedTime in UTC, whole seconds, ``YYYYMMDDHHMMSSZ`` (RFC 5280 §4.1.2.5.2)."""
    utc = moment.astimezone(dt.UTC)
    return tlv(GENERALIZED_TIME, utc.strftime("%Y%m%d%H%M%SZ").encode("ascii"))
