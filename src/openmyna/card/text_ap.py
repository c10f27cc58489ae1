"""The 券面事項入力補助AP (text_ap): the number and the 4 items as text, for form filling.

- EF 0011: the PIN, 4 digits, 3 tries.
- EF 0001 (after the PIN): the individual number, ``FF10 0C`` + 12 ASCII digits.
- EF 0002 (after the PIN): the 4 items, ``FF20`` { ``DF21`` offsets, ``DF22`` name,
  ``DF23`` address, ``DF24`` birth ``YYYYMMDD``, ``DF25`` sex (ISO 5218 digit) }, UTF-8.
- EF 0003 (after the PIN): ``FF30`` { ``DF31`` SHA-256 of EF 0001, ``DF32`` SHA-256 of
  EF 0002, ``DF33`` signature }.
- EF 0004 (always): the certificate of the key that made the signature (DER).

``DF21`` holds the 2-byte offsets, from the start of the file, of the four item TLVs.
The signature (RSASSA-PKCS1-v1_5, SHA-256) is over the ``DF31`` and ``DF32`` TLVs as they
appear in EF 0003; it is made by the issuer's card data signer (``signer``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openmyna.card.files import AppKind, Application, BinaryEF, PinEF
from openmyna.card.layout import (
    EF_TEXT_DIGESTS,
    EF_TEXT_ITEMS,
    EF_TEXT_NUMBER,
    EF_TEXT_PIN,
    EF_TEXT_SIGNER_CERT,
    TEXT_AID,
)
from openmyna.card.pin import PinRule, PinState
from openmyna.card.tlv import TLVError, children, encode_length, read_tlv, tlv
from openmyna.numbers.redaction import masked_repr

TAG_NUMBER = 0xFF10
TAG_ITEMS = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_NAME = 0xDF22
TAG_ADDRESS = 0xDF23
TAG_BIRTH = 0xDF24
TAG_SEX = 0xDF25
TAG_DIGESTS = 0xFF30
TAG_NUMBER_DIGEST = 0xDF31
TAG_ITEMS_DIGEST = 0xDF32
TAG_SIGNATURE = 0xDF33


@dataclass(frozen=True)
class CardItems:
    """The 4 items (基本4情報) as the card holds them."""

    name: str
    address: str
    date_of_birth: dt.date
    #: ISO/IEC 5218: 1 male, 2 female, 9 not applicable, 0 not known.
    sex: int

    def __repr__(self) -> str:
        return masked_repr(self)


def encode_number(number: str) -> bytes:
    """EF 0001 of the text AP."""
    if len(number) != 12 or not number.isdigit():
        raise ValueError("an individual number is 12 digits")
    return tlv(TAG_NUMBER, number.encode("ascii"))


def decode_number(data: bytes) -> str:
    """The individual number in EF 0001; ``TLVError`` if the file is not one."""
    tag, value, _ = read_tlv(data)
    if tag != TAG_NUMBER or len(value) != 12 or not value.isdigit():
        raise TLVError("not an individual-number file")
    return value.decode("ascii")


def offset_wrapped(wrapper: int, items: list[tuple[int, bytes]], offsets_tag: int) -> bytes:
    """``wrapper`` { offsets, items… } where the offsets point at each item TLV in the file."""
    body = [tlv(tag, value) for tag, value in items]
    header_size = len(tlv(offsets_tag, b"\x00\x00" * len(body)))
    total = header_size + sum(len(b) for b in body)
    position = len(tlv(wrapper, b"\x00" * total)) - total + header_size
    offsets = bytearray()
    for b in body:
        offsets += position.to_bytes(2, "big")
        position += len(b)
    value = tlv(offsets_tag, bytes(offsets)) + b"".join(body)
    return wrapper.to_bytes(2, "big") + encode_length(len(value)) + value


def encode_items(items: CardItems) -> bytes:
    """EF 0002 of the text AP."""
    return offset_wrapped(
        TAG_ITEMS,
        [
            (TAG_NAME, items.name.encode("utf-8")),
            (TAG_ADDRESS, items.address.encode("utf-8")),
            (TAG_BIRTH, items.date_of_birth.strftime("%Y%m%d").encode("ascii")),
            (TAG_SEX, str(int(items.sex)).encode("ascii")),
        ],
        TAG_OFFSETS,
    )


def decode_items(data: bytes) -> CardItems:
    """The 4 items in EF 0002; ``TLVError`` if the file is not in the card's layout."""
    fields = children(data, TAG_ITEMS)
    try:
        birth = fields[TAG_BIRTH].decode("ascii")
        return CardItems(
            name=fields[TAG_NAME].decode("utf-8"),
            address=fields[TAG_ADDRESS].decode("utf-8"),
            date_of_birth=dt.date(int(birth[0:4]), int(birth[4:6]), int(birth[6:8])),
            sex=int(fields[TAG_SEX].decode("ascii")),
        )
    except (KeyError, ValueError) as exc:
        raise TLVError("the 4-items file is incomplete or malformed") from exc


def signed_part(number_digest: bytes, items_digest: bytes) -> bytes:
    """The bytes the signature of EF 0003 covers."""
    return tlv(TAG_NUMBER_DIGEST, number_digest) + tlv(TAG_ITEMS_DIGEST, items_digest)


def encode_digests(number_ef: bytes, items_ef: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """EF 0003: the digests of EF 0001 and EF 0002 and their signature."""
    part = signed_part(hashlib.sha256(number_ef).digest(), hashlib.sha256(items_ef).digest())
    return tlv(TAG_DIGESTS, part + tlv(TAG_SIGNATURE, sign(part)))


def decode_digests(data: bytes) -> tuple[bytes, bytes, bytes]:
    """``(number digest, items digest, signature)`` from EF 0003."""
    fields = children(data, TAG_DIGESTS)
    try:
        return fields[TAG_NUMBER_DIGEST], fields[TAG_ITEMS_DIGEST], fields[TAG_SIGNATURE]
    except KeyError as exc:
        raise TLVError("the digest file is incomplete") from exc


def text_application(
    *,
    number: str,
    items: CardItems,
    pin: str,
    sign: Callable[[bytes], bytes],
    signer_certificate: x509.Certificate,
) -> Application:
    """The text AP of an issued card."""
    app = Application(TEXT_AID, AppKind.TEXT, "券面事項入力補助AP")
    number_ef = encode_number(number)
    items_ef = encode_items(items)
    app.add(PinEF(EF_TEXT_PIN, PinState.new(PinRule.TEXT_PIN, pin)))
    app.add(BinaryEF(EF_TEXT_NUMBER, number_ef, read_pin=EF_TEXT_PIN))
    app.add(BinaryEF(EF_TEXT_ITEMS, items_ef, read_pin=EF_TEXT_PIN))
    app.add(
        BinaryEF(EF_TEXT_DIGESTS, encode_digests(number_ef, items_ef, sign), read_pin=EF_TEXT_PIN)
    )
    app.add(
        BinaryEF(EF_TEXT_SIGNER_CERT, signer_certificate.public_bytes(serialization.Encoding.DER))
    )
    return app
