"""The 券面AP (face_ap): what is printed on the card, with the photograph, signed.

- EF 0013: PIN-A (照合番号A), the 12-digit individual number; 10 tries, not changeable.
- EF 0002 (after PIN-A): ``FF20`` { ``DF21`` offsets, ``DF22`` birth ``YYYYMMDD``,
  ``DF23`` sex, ``DF24`` signer public key (SPKI DER), ``DF25`` name picture, ``DF26``
  address picture, ``DF27`` face picture, ``DF28`` signature, ``DF29`` card expiry
  ``YYYYMMDD`` }.
- EF 0005 (after PIN-A): ``FF40`` { ``DF41`` number picture, ``DF42`` signer public key,
  ``DF43`` signature }.
- EF 0004 (always): the card data signer's certificate (DER).

The pictures are PNG placeholders (``images``): openmyna has no photographs. Each signature
(RSASSA-PKCS1-v1_5, SHA-256, by the issuer's card data signer) covers every other item TLV of
its file except the offsets, in file order. The real card also has PIN-B (照合番号B: birth,
expiry year and the printed security code); openmyna does not print a security code, so it
has no PIN-B.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openmyna.card.files import AppKind, Application, BinaryEF, PinEF
from openmyna.card.images import face_placeholder, text_placeholder
from openmyna.card.layout import (
    EF_FACE_ENTRIES,
    EF_FACE_NUMBER,
    EF_FACE_PIN_A,
    EF_FACE_SIGNER_CERT,
    FACE_AID,
)
from openmyna.card.pin import PinRule, PinState
from openmyna.card.text_ap import offset_wrapped
from openmyna.card.tlv import TLVError, iter_tlv, read_tlv, tlv
from openmyna.numbers.redaction import masked_repr

TAG_ENTRIES = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_BIRTH = 0xDF22
TAG_SEX = 0xDF23
TAG_PUBLIC_KEY = 0xDF24
TAG_NAME_IMAGE = 0xDF25
TAG_ADDRESS_IMAGE = 0xDF26
TAG_FACE_IMAGE = 0xDF27
TAG_SIGNATURE = 0xDF28
TAG_EXPIRY = 0xDF29
TAG_NUMBER_FILE = 0xFF40
TAG_NUMBER_IMAGE = 0xDF41
TAG_NUMBER_PUBLIC_KEY = 0xDF42
TAG_NUMBER_SIGNATURE = 0xDF43


@dataclass(frozen=True)
class FaceData:
    """The 券面 entries of EF 0002."""

    date_of_birth: dt.date
    sex: int
    card_expiry: dt.date
    face_image: bytes
    name_image: bytes
    address_image: bytes
    public_key: bytes
    signature: bytes
    #: The bytes ``signature`` covers.
    signed: bytes

    def __repr__(self) -> str:
        return masked_repr(self)


def _yyyymmdd(day: dt.date) -> bytes:
    return day.strftime("%Y%m%d").encode("ascii")


def _date(value: bytes) -> dt.date:
    text = value.decode("ascii")
    return dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def _signed(items: list[tuple[int, bytes]], skip: set[int]) -> bytes:
    return b"".join(tlv(tag, value) for tag, value in items if tag not in skip)


def encode_entries(
    *,
    date_of_birth: dt.date,
    sex: int,
    card_expiry: dt.date,
    name_length: int,
    address_length: int,
    seed: bytes,
    public_key: bytes,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """EF 0002 of the face AP (pictures generated from ``seed`` and the text lengths)."""
    items = [
        (TAG_BIRTH, _yyyymmdd(date_of_birth)),
        (TAG_SEX, str(int(sex)).encode("ascii")),
        (TAG_PUBLIC_KEY, public_key),
        (TAG_NAME_IMAGE, text_placeholder(name_length)),
        (TAG_ADDRESS_IMAGE, text_placeholder(address_length, width=384)),
        (TAG_FACE_IMAGE, face_placeholder(seed)),
        (TAG_SIGNATURE, b""),
        (TAG_EXPIRY, _yyyymmdd(card_expiry)),
    ]
    signature = sign(_signed(items, {TAG_SIGNATURE}))
    items[6] = (TAG_SIGNATURE, signature)
    return offset_wrapped(TAG_ENTRIES, items, TAG_OFFSETS)


def decode_entries(data: bytes) -> FaceData:
    """The entries of EF 0002; ``TLVError`` if the file is not in the card's layout."""
    tag, value, _ = read_tlv(data)
    if tag != TAG_ENTRIES:
        raise TLVError("not a 券面 entries file")
    items = [(t, v) for t, v in iter_tlv(value) if t != TAG_OFFSETS]
    fields = dict(items)
    try:
        return FaceData(
            date_of_birth=_date(fields[TAG_BIRTH]),
            sex=int(fields[TAG_SEX].decode("ascii")),
            card_expiry=_date(fields[TAG_EXPIRY]),
            face_image=fields[TAG_FACE_IMAGE],
            name_image=fields[TAG_NAME_IMAGE],
            address_image=fields[TAG_ADDRESS_IMAGE],
            public_key=fields[TAG_PUBLIC_KEY],
            signature=fields[TAG_SIGNATURE],
            signed=_signed(items, {TAG_SIGNATURE}),
        )
    except (KeyError, ValueError) as exc:
        raise TLVError("the 券面 entries file is incomplete or malformed") from exc


def encode_number_file(public_key: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """EF 0005: the picture of the number, signed."""
    items = [(TAG_NUMBER_IMAGE, text_placeholder(12)), (TAG_NUMBER_PUBLIC_KEY, public_key)]
    signature = sign(_signed(items, set()))
    return tlv(TAG_NUMBER_FILE, _signed(items, set()) + tlv(TAG_NUMBER_SIGNATURE, signature))


def face_application(
    *,
    number: str,
    date_of_birth: dt.date,
    sex: int,
    card_expiry: dt.date,
    name_length: int,
    address_length: int,
    seed: bytes,
    sign: Callable[[bytes], bytes],
    signer_certificate: x509.Certificate,
) -> Application:
    """The face AP of an issued card."""
    public_key = signer_certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = Application(FACE_AID, AppKind.FACE, "券面AP")
    app.add(PinEF(EF_FACE_PIN_A, PinState.new(PinRule.NUMBER, number)))
    entries = encode_entries(
        date_of_birth=date_of_birth,
        sex=sex,
        card_expiry=card_expiry,
        name_length=name_length,
        address_length=address_length,
        seed=seed,
        public_key=public_key,
        sign=sign,
    )
    app.add(BinaryEF(EF_FACE_ENTRIES, entries, read_pin=EF_FACE_PIN_A))
    app.add(BinaryEF(EF_FACE_NUMBER, encode_number_file(public_key, sign), read_pin=EF_FACE_PIN_A))
    app.add(
        BinaryEF(EF_FACE_SIGNER_CERT, signer_certificate.public_bytes(serialization.Encoding.DER))
    )
    return app
