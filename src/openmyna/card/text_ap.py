"""The 券面事項入力補助AP (text_ap): the number and the 4 items as text, for form filling.

Every file as the real card lays it out (sources beside each constant below):

- EF 0011: the PIN, 4 digits, 3 tries.
- EF 0001, 17 bytes (after the PIN): ``FF10 0C`` + the 12 ASCII digits, padded.
- EF 0002 (after the PIN), as long as its TLV: ``FF20 82 xx xx`` { ``DF21`` offsets,
  ``DF22`` name, ``DF23`` address, ``DF24`` birth ``YYYYMMDD``, ``DF25`` sex (ISO 5218) }, UTF-8.
- EF 0003, 336 bytes (after the PIN): ``FF30`` { ``DF31`` SHA-256 of EF 0001, ``DF32`` SHA-256
  of the 4 items, ``DF33`` signature }, padded.
- EF 0004, 568 bytes (always): the card data signer's certificate ``7F21`` { ``5F4E``,
  ``5F37`` } (``cvcert``).
- EF 0005, 256 bytes (always): AP basic information ``FF40`` { ``DF41`` AP info (4 bytes),
  ``DF42`` the signing key's id (16 bytes) }, padded.

``DF21`` holds the 2-byte offsets, from the start of the file, of the four item TLVs. The
item lengths are BER (``81 xx`` above 127 bytes, ``82 xx xx`` above 255); the ``FF20`` wrapper
always has the three-byte form (``tlv.tlv_long``). ``DF31`` is the SHA-256 of the whole EF 0001
and ``DF32`` that of EF 0002 from the first item (``offsets[0]``) to the end of the ``FF20``
TLV, as readers of the real card compute them (AokiApp/jsapdu ``examples/mynacard/src/
utils.ts``: ``calculateMyNumberHash``, ``calculateBasicFourHash``). The signature
(RSASSA-PKCS1-v1_5, SHA-256, by the issuer's card data signer) covers the ``DF31`` and
``DF32`` TLVs as they appear in EF 0003: the public sources do not say what the real card's
``DF33`` covers, and these are the bytes it stands after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.cvcert import CERTIFICATE_SIZE, encode_certificate, key_id
from openmyna.card.files import AppKind, Application, BinaryEF, PinEF
from openmyna.card.layout import (
    EF_TEXT_BASIC_INFO,
    EF_TEXT_DIGESTS,
    EF_TEXT_ITEMS,
    EF_TEXT_NUMBER,
    EF_TEXT_PIN,
    EF_TEXT_SIGNER_CERT,
    TEXT_AID,
)
from openmyna.card.pin import PinRule, PinState
from openmyna.card.tlv import TLVError, children, iter_tlv, read_tlv, tlv, tlv_long
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
TAG_BASIC_INFO = 0xFF40
TAG_AP_INFO = 0xDF41
TAG_KEY_ID = 0xDF42

#: EF 0001 is 17 bytes: jpki/myna reads it with exactly 17 (``_go/libmyna/text_ap.go``
#: ``ReadBinary(17)``, which loops until 17 bytes came with ``90 00``; ``src/text.rs``
#: ``read_binary(0, 17)``), and so does TRETJapanNFCReader (``Le = 17``, ``90 00`` required).
NUMBER_EF_SIZE = 17
#: EF 0003 is 336 bytes: jpki/myna ``ReadSignature`` reads 336 and refuses fewer.
DIGESTS_EF_SIZE = 336
#: EF 0005 is 256 bytes: jpki/myna ``ReadBasicInfo`` reads 256 and refuses fewer.
BASIC_INFO_EF_SIZE = 256
#: The 4 bytes of ``DF41`` (AP info): the sources give their size (jpki/myna ``ReadBasicInfo``
#: checks 4) but not their meaning, so openmyna writes zeros.
AP_INFO = bytes(4)
#: What fills a file past its data: the sources do not show the real card's filler.
PADDING = 0x00


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


def padded(data: bytes, size: int) -> bytes:
    """``data`` filled to the file's ``size``, as the real card's fixed-size EFs are."""
    if len(data) > size:
        raise ValueError("the data is larger than its file")
    return data + bytes((PADDING,)) * (size - len(data))


def encode_number(number: str) -> bytes:
    """EF 0001 of the text AP (17 bytes)."""
    if len(number) != 12 or not number.isdigit():
        raise ValueError("an individual number is 12 digits")
    return padded(tlv(TAG_NUMBER, number.encode("ascii")), NUMBER_EF_SIZE)


def decode_number(data: bytes) -> str:
    """The individual number in EF 0001; ``TLVError`` if the file is not one."""
    tag, value, _ = read_tlv(data)
    if tag != TAG_NUMBER or len(value) != 12 or not value.isdigit():
        raise TLVError("not an individual-number file")
    return value.decode("ascii")


def offset_wrapped(wrapper: int, items: list[tuple[int, bytes]], offsets_tag: int) -> bytes:
    """``wrapper`` { offsets, items… } where the offsets point at each item TLV in the file.

    The wrapper's length is always ``82 xx xx`` (``tlv_long``), so the offsets TLV starts at
    byte 5 and, with four items, the first offset's low byte is byte 9 of the file.
    """
    body = [tlv(tag, value) for tag, value in items]
    header_size = len(tlv(offsets_tag, b"\x00\x00" * len(body)))
    position = len(tlv_long(wrapper, b"")) + header_size
    offsets = bytearray()
    for b in body:
        offsets += position.to_bytes(2, "big")
        position += len(b)
    return tlv_long(wrapper, tlv(offsets_tag, bytes(offsets)) + b"".join(body))


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


def items_digest(items_ef: bytes) -> bytes:
    """``DF32``: SHA-256 of EF 0002 from the first item to the end of the ``FF20`` TLV."""
    tag, value, end = read_tlv(items_ef)
    if tag != TAG_ITEMS:
        raise TLVError(f"expected tag {TAG_ITEMS:04X}")
    offsets = dict(iter_tlv(value)).get(TAG_OFFSETS, b"")
    if len(offsets) < 2:
        raise TLVError("the 4-items file has no offsets")
    first = int.from_bytes(offsets[:2], "big")
    if not end - len(value) <= first < end:
        raise TLVError("the first item offset points outside the 4 items")
    return hashlib.sha256(items_ef[first:end]).digest()


def number_digest(number_ef: bytes) -> bytes:
    """``DF31``: SHA-256 of the whole EF 0001."""
    return hashlib.sha256(number_ef).digest()


def signed_part(number_digest: bytes, items_digest: bytes) -> bytes:
    """The bytes the signature of EF 0003 covers."""
    return tlv(TAG_NUMBER_DIGEST, number_digest) + tlv(TAG_ITEMS_DIGEST, items_digest)


def encode_digests(number_ef: bytes, items_ef: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """EF 0003 (336 bytes): the digests of EF 0001 and of the 4 items, and their signature."""
    part = signed_part(number_digest(number_ef), items_digest(items_ef))
    return padded(tlv_long(TAG_DIGESTS, part + tlv(TAG_SIGNATURE, sign(part))), DIGESTS_EF_SIZE)


def decode_digests(data: bytes) -> tuple[bytes, bytes, bytes]:
    """``(number digest, items digest, signature)`` from EF 0003."""
    fields = children(data, TAG_DIGESTS)
    try:
        return fields[TAG_NUMBER_DIGEST], fields[TAG_ITEMS_DIGEST], fields[TAG_SIGNATURE]
    except KeyError as exc:
        raise TLVError("the digest file is incomplete") from exc


def encode_basic_info(public: rsa.RSAPublicKey) -> bytes:
    """EF 0005 (256 bytes): AP info and the id of the key that signs this AP's data."""
    value = tlv(TAG_AP_INFO, AP_INFO) + tlv(TAG_KEY_ID, key_id(public))
    return padded(tlv(TAG_BASIC_INFO, value), BASIC_INFO_EF_SIZE)


def decode_basic_info(data: bytes) -> tuple[bytes, bytes]:
    """``(AP info, key id)`` from EF 0005."""
    fields = children(data, TAG_BASIC_INFO)
    try:
        return fields[TAG_AP_INFO], fields[TAG_KEY_ID]
    except KeyError as exc:
        raise TLVError("the basic information file is incomplete") from exc


def _signer_key(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("the card data signer has an RSA key")
    return public


def text_application(
    *,
    number: str,
    items: CardItems,
    pin: str | PinState,
    sign: Callable[[bytes], bytes],
    signer_certificate: x509.Certificate,
) -> Application:
    """The text AP of an issued card.

    ``pin`` is the new PIN's value, or (when the counter rewrites the AP) the holder's PIN
    as it stands, kept with its retry counter.
    """
    app = Application(TEXT_AID, AppKind.TEXT, "券面事項入力補助AP")
    number_ef = encode_number(number)
    items_ef = encode_items(items)
    state = pin if isinstance(pin, PinState) else PinState.new(PinRule.TEXT_PIN, pin)
    app.add(PinEF(EF_TEXT_PIN, state))
    app.add(BinaryEF(EF_TEXT_NUMBER, number_ef, read_pin=EF_TEXT_PIN))
    app.add(BinaryEF(EF_TEXT_ITEMS, items_ef, read_pin=EF_TEXT_PIN))
    app.add(
        BinaryEF(EF_TEXT_DIGESTS, encode_digests(number_ef, items_ef, sign), read_pin=EF_TEXT_PIN)
    )
    public = _signer_key(signer_certificate)
    certificate = padded(encode_certificate(public, sign), CERTIFICATE_SIZE)
    app.add(BinaryEF(EF_TEXT_SIGNER_CERT, certificate))
    app.add(BinaryEF(EF_TEXT_BASIC_INFO, encode_basic_info(public)))
    return app
