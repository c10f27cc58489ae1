"""BER-TLV as the card's data files use it, and DER DigestInfo for signing.

The 券面事項入力補助AP and 券面AP files are private-class TLVs with two-byte tags: ``FFxx``
for a constructed object (e.g. ``FF20`` wraps the 4 items) and ``DFxx`` for a primitive one
(``DF22`` the name …). Lengths are BER definite lengths: one byte up to 127, ``81 xx`` up to
255, ``82 xx xx`` above (ISO/IEC 7816-4 §5.2.2.2). The real card writes the wrapper of a
multi-item file (``FF20`` …) with a three-byte length even when a shorter one would do
(``tlv_long``): readers of the real card find the first item offset at byte 9 of EF 0002
(lanesky/mnbcard ``BASE_FOUR_MANIFEST``), and a header of ``FF 20 82 xx yy`` (Qiita
ribig/3814cf7f095854ce0e61 for the 券面AP; jpki/myna ``reader.rs`` test ``partial_decode``).
"""

from __future__ import annotations

from collections.abc import Iterator

# RFC 8017 §9.2 note 1: DER of DigestInfo up to (and including) the OCTET STRING header.
DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
DIGEST_SIZE = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


class TLVError(ValueError):
    """Bytes that are not the TLV the reader expected."""


def encode_length(n: int) -> bytes:
    """A BER definite length."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(body) > 4:
        raise ValueError("length too large")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, value: bytes) -> bytes:
    """One TLV with a one- or two-byte tag (``0x30``, ``0xDF22``, ``0xFF20``)."""
    tag_bytes = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    return tag_bytes + encode_length(len(value)) + value


def tlv_long(tag: int, value: bytes) -> bytes:
    """One TLV whose length is always ``82 xx xx``, as the real card writes file wrappers."""
    if len(value) > 0xFFFF:
        raise ValueError("length too large")
    return (
        tag.to_bytes(2 if tag > 0xFF else 1, "big")
        + b"\x82"
        + len(value).to_bytes(2, "big")
        + value
    )


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TLVError("truncated tag")
    first = data[pos]
    if first & 0x1F != 0x1F:
        return first, pos + 1
    if pos + 1 >= len(data):
        raise TLVError("truncated tag")
    second = data[pos + 1]
    if second & 0x80:
        raise TLVError("tags longer than two bytes are not used on this card")
    return (first << 8) | second, pos + 2


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TLVError("truncated length")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if size == 0 or size > 4 or pos + 1 + size > len(data):
        raise TLVError("bad length")
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """The TLV at ``pos``: tag, value and the position after it."""
    tag, pos = _read_tag(data, pos)
    length, pos = _read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise TLVError("value runs past the end")
    return tag, data[pos:end], end


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Every TLV in ``data`` in order; trailing padding (all ``00`` or all ``FF``) ends it."""
    pos = 0
    while pos < len(data):
        rest = data[pos:]
        if rest.count(0x00) == len(rest) or rest.count(0xFF) == len(rest):
            return
        tag, value, pos = read_tlv(data, pos)
        yield tag, value


def children(data: bytes, wrapper: int) -> dict[int, bytes]:
    """The primitive children of the constructed TLV ``wrapper`` at the start of ``data``."""
    tag, value, _ = read_tlv(data)
    if tag != wrapper:
        raise TLVError(f"expected tag {wrapper:04X}")
    return dict(iter_tlv(value))


def digest_info(hash_name: str, digest: bytes) -> bytes:
    """DER DigestInfo for ``digest`` made with ``hash_name`` (``sha256`` …)."""
    try:
        prefix = DIGEST_INFO_PREFIX[hash_name]
    except KeyError:
        raise ValueError("unsupported hash") from None
    if len(digest) != DIGEST_SIZE[hash_name]:
        raise ValueError("digest has the wrong size for its hash")
    return prefix + digest


def split_digest_info(data: bytes) -> tuple[str, bytes] | None:
    """``(hash name, digest)`` if ``data`` is exactly a DigestInfo of a known hash, else None."""
    for name, prefix in DIGEST_INFO_PREFIX.items():
        if data.startswith(prefix) and len(data) == len(prefix) + DIGEST_SIZE[name]:
            return name, data[len(prefix) :]
    return None
