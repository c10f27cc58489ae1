"""``CardClient``: reads and uses a My Number Card through any transport, with APDUs only.

The same client talks to the emulated card (memory, a card file, vpcd) and to a real card in
a PC/SC reader: it knows the card's layout (``layout``) and the command set, nothing of the
emulator. Status words become errors with stable codes (``errors.error_for_sw``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import TracebackType

from cryptography import x509

from openmyna.card.apdu import SW, encode_command, is_tries_left, parse_response
from openmyna.card.cvcert import CardDataCertificate, decode_certificate
from openmyna.card.errors import CardError, NotAMyNumberCard, PinLocked, error_for_sw
from openmyna.card.face_ap import FaceData, decode_entries
from openmyna.card.layout import (
    EF_FACE_ENTRIES,
    EF_FACE_SIGNER_CERT,
    EF_JPKI_TOKEN,
    EF_TEXT_DIGESTS,
    EF_TEXT_ITEMS,
    EF_TEXT_NUMBER,
    EF_TEXT_SIGNER_CERT,
    FACE_AID,
    JPKI_AID,
    JPKI_TOKEN,
    TEXT_AID,
    CertSlot,
    KeyRef,
    PinRef,
)
from openmyna.card.signer import verify_card_data
from openmyna.card.text_ap import (
    CardItems,
    decode_digests,
    decode_items,
    decode_number,
    items_digest,
    number_digest,
    signed_part,
)
from openmyna.card.tlv import TLVError, digest_info
from openmyna.card.transport import Transport
from openmyna.numbers.redaction import masked_repr

#: Bytes asked for per READ BINARY with short lengths; extended reads ask for more.
SHORT_CHUNK = 256
EXTENDED_CHUNK = 4096


@dataclass(frozen=True)
class TextData:
    """Everything the 券面事項入力補助AP holds, as read."""

    individual_number: str
    items: CardItems
    number_digest: bytes
    items_digest: bytes
    signature: bytes
    #: EF 0004: the card data signer's key in the card's own certificate format.
    signer_certificate: CardDataCertificate
    #: Whether the files match their digests and the signature verifies with the
    #: certificate read from the card (trust in that certificate is the caller's call).
    intact: bool

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class FaceRead:
    """The 券面AP entries and whether their signature verifies."""

    data: FaceData
    signer_certificate: x509.Certificate
    intact: bool


class CardClient:
    """A client for the My Number Card over one ``Transport``."""

    def __init__(self, transport: Transport, *, extended: bool = False) -> None:
        self.transport = transport
        #: Use extended-length READ BINARY (fewer round trips; needs reader support).
        self.extended = extended
        self._selected: bytes | None = None

    # --- plumbing -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __enter__(self) -> CardClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, apdu: bytes) -> tuple[bytes, int]:
        response = parse_response(self.transport.transmit(apdu))
        return response.data, response.sw

    def _check(self, apdu: bytes, what: str) -> bytes:
        data, sw = self._send(apdu)
        if sw not in (SW.OK, SW.END_OF_FILE):
            raise error_for_sw(sw, what)
        return data

    def select_application(self, aid: bytes) -> None:
        """SELECT the application ``aid`` (``00 A4 04 0C``)."""
        self._selected = None
        self._check(encode_command(0x00, 0xA4, 0x04, 0x0C, aid), "SELECT application")
        self._selected = aid

    def _app(self, aid: bytes) -> None:
        if self._selected != aid:
            self.select_application(aid)

    def select_file(self, fid: int) -> None:
        """SELECT an EF of the current application (``00 A4 02 0C``)."""
        self._check(encode_command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")), "SELECT EF")

    def read_binary(self, offset: int, length: int) -> bytes:
        """One READ BINARY (``00 B0``) of up to ``length`` bytes at ``offset``."""
        if not 0 <= offset <= 0x7FFF:
            raise ValueError("READ BINARY offsets are 0-32767")
        apdu = encode_command(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=length)
        return self._check(apdu, "READ BINARY")

    def read_file(self, aid: bytes, fid: int) -> bytes:
        """The whole content of an EF, read in chunks until the card has no more."""
        self._app(aid)
        self.select_file(fid)
        chunk = EXTENDED_CHUNK if self.extended else SHORT_CHUNK
        out = bytearray()
        while True:
            data, sw = self._send(
                encode_command(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, ne=chunk)
            )
            if sw == SW.WRONG_OFFSET and out:
                break
            if sw not in (SW.OK, SW.END_OF_FILE):
                raise error_for_sw(sw, "READ BINARY")
            out += data
            if sw == SW.END_OF_FILE or len(data) < chunk:
                break
            if len(out) > 0x7FFF:
                raise CardError("the file is larger than READ BINARY offsets reach")
        return bytes(out)

    # --- JPKI ---------------------------------------------------------------------------

    def is_my_number_card(self) -> bool:
        """Whether the card has the JPKI AP with the My Number Card token."""
        try:
            token = self.read_file(JPKI_AID, EF_JPKI_TOKEN)
        except CardError:
            return False
        return token.rstrip(b" ") == JPKI_TOKEN.rstrip(b" ")

    def require_my_number_card(self) -> None:
        """Raise ``NotAMyNumberCard`` unless ``is_my_number_card``."""
        if not self.is_my_number_card():
            raise NotAMyNumberCard("the card is not a My Number Card")

    def certificate_der(self, slot: CertSlot) -> bytes:
        """A JPKI certificate EF as DER (the signature certificate needs the password first)."""
        data = self.read_file(JPKI_AID, slot.fid)
        # The EF may be longer than the certificate: keep the outer DER SEQUENCE only.
        if len(data) >= 4 and data[0] == 0x30 and data[1] == 0x82:
            return data[: 4 + int.from_bytes(data[2:4], "big")]
        return data

    def certificate(self, slot: CertSlot) -> x509.Certificate:
        """A JPKI certificate (``CertSlot.SIGN`` needs the signature password verified)."""
        der = self.certificate_der(slot)
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            raise CardError("the certificate EF does not hold a certificate") from None

    def auth_certificate(self) -> x509.Certificate:
        """The user-authentication certificate (利用者証明用電子証明書), no PIN needed."""
        return self.certificate(CertSlot.AUTH)

    def sign_certificate(self, password: str | None = None) -> x509.Certificate:
        """The signature certificate (署名用電子証明書), verifying ``password`` first if given."""
        if password is not None:
            self.verify(PinRef.SIGN, password)
        return self.certificate(CertSlot.SIGN)

    # --- PINs -----------------------------------------------------------------------------

    def tries_left(self, pin: PinRef) -> int:
        """Tries left before ``pin`` locks (VERIFY without data: ``63 Cx``)."""
        self._app(pin.aid)
        self.select_file(pin.fid)
        _, sw = self._send(encode_command(0x00, 0x20, 0x00, 0x80))
        if is_tries_left(sw):
            return sw & 0x0F
        if sw == SW.AUTH_METHOD_BLOCKED:
            return 0
        raise error_for_sw(sw, "VERIFY (status)")

    def verify(self, pin: PinRef, value: str) -> None:
        """VERIFY a PIN; ``PinWrong`` (with tries left) or ``PinLocked`` if refused.

        A value that breaks the PIN's rules is refused here, without spending a try.
        """
        pin.rule.require(value)
        self._app(pin.aid)
        self.select_file(pin.fid)
        _, sw = self._send(encode_command(0x00, 0x20, 0x00, 0x80, value.encode("ascii")))
        if sw != SW.OK:
            if is_tries_left(sw) and sw & 0x0F == 0:
                raise PinLocked("wrong PIN: it is now blocked", sw=sw)
            raise error_for_sw(sw, "VERIFY")

    def change_pin(self, pin: PinRef, current: str, new: str) -> None:
        """Verify ``current`` then CHANGE REFERENCE DATA (``00 24 01 80``) to ``new``."""
        pin.rule.require(new)
        self.verify(pin, current)
        apdu = encode_command(0x00, 0x24, 0x01, 0x80, new.encode("ascii"))
        self._check(apdu, "CHANGE REFERENCE DATA")

    # --- signing ----------------------------------------------------------------------------

    def sign(
        self,
        key: KeyRef,
        pin: str,
        *,
        data: bytes | None = None,
        digest: bytes | None = None,
        hash_name: str = "sha256",
    ) -> bytes:
        """Sign ``data`` (hashed here) or a ready ``digest``: RSASSA-PKCS1-v1_5, 256 bytes.

        Verifies ``pin`` (the auth PIN or the signature password), selects the key EF and
        sends ``80 2A 00 80`` with the DER DigestInfo.
        """
        if (data is None) == (digest is None):
            raise ValueError("give either data or digest")
        if data is not None:
            digest = hashlib.new(hash_name, data).digest()
        assert digest is not None
        info = digest_info(hash_name, digest)
        return self.sign_digest_info(key, pin, info)

    def sign_digest_info(self, key: KeyRef, pin: str, info: bytes) -> bytes:
        """Sign a DER DigestInfo (or other data the card pads as is) with ``key``."""
        self.verify(key.pin, pin)
        self.select_file(key.fid)
        return self._check(encode_command(0x80, 0x2A, 0x00, 0x80, info, ne=256), "SIGN")

    # --- 券面事項入力補助AP and 券面AP --------------------------------------------------------

    def read_text_data(self, pin: str) -> TextData:
        """Number, 4 items, digests and signature of the text AP (after its PIN)."""
        self.verify(PinRef.TEXT, pin)
        number_ef = self.read_file(TEXT_AID, EF_TEXT_NUMBER)
        items_ef = self.read_file(TEXT_AID, EF_TEXT_ITEMS)
        digests_ef = self.read_file(TEXT_AID, EF_TEXT_DIGESTS)
        cert_ef = self.read_file(TEXT_AID, EF_TEXT_SIGNER_CERT)
        try:
            number = decode_number(number_ef)
            items = decode_items(items_ef)
            stored_number, stored_items, signature = decode_digests(digests_ef)
            actual_items = items_digest(items_ef)
            cert = decode_certificate(cert_ef)
        except (TLVError, ValueError):
            raise CardError("the text AP's files are not in the card's layout") from None
        intact = (
            number_digest(number_ef) == stored_number
            and actual_items == stored_items
            and cert.verifies(signed_part(stored_number, stored_items), signature)
        )
        return TextData(number, items, stored_number, stored_items, signature, cert, intact)

    def read_individual_number(self, pin: str) -> str:
        """The individual number (個人番号) from the text AP."""
        self.verify(PinRef.TEXT, pin)
        try:
            return decode_number(self.read_file(TEXT_AID, EF_TEXT_NUMBER))
        except TLVError:
            raise CardError("the number EF is not in the card's layout") from None

    def read_basic_items(self, pin: str) -> CardItems:
        """The 4 items (name, address, date of birth, sex) from the text AP."""
        self.verify(PinRef.TEXT, pin)
        try:
            return decode_items(self.read_file(TEXT_AID, EF_TEXT_ITEMS))
        except TLVError:
            raise CardError("the 4-items EF is not in the card's layout") from None

    def read_face(self, individual_number: str) -> FaceRead:
        """The 券面AP entries (birth, sex, expiry, pictures), unlocked with PIN-A."""
        self.verify(PinRef.FACE_A, individual_number)
        entries = self.read_file(FACE_AID, EF_FACE_ENTRIES)
        cert_der = self.read_file(FACE_AID, EF_FACE_SIGNER_CERT)
        try:
            data = decode_entries(entries)
            cert = x509.load_der_x509_certificate(cert_der)
        except (TLVError, ValueError):
            raise CardError("the face AP's files are not in the card's layout") from None
        return FaceRead(data, cert, verify_card_data(cert, data.signed, data.signature))
