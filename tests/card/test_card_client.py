"""``CardClient`` over the memory transport, end to end, APDUs only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from card_helpers import AUTH_PIN, HOLDER, NUMBER, SIGN_PASSWORD, TEXT_PIN, data_signer, fresh_card
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.card import (
    CardClient,
    CardError,
    CardFileNotFound,
    CertSlot,
    KeyRef,
    MemoryTransport,
    NotAMyNumberCard,
    PinRef,
    SecurityNotSatisfied,
    Transport,
    VirtualCard,
)
from openmyna.card.errors import error_for_sw
from openmyna.card.files import AppKind, Application, BinaryEF
from openmyna.card.images import FACE_WIDTH, png_size
from openmyna.card.tlv import digest_info


class CountingTransport(MemoryTransport):
    """A memory transport that counts round trips."""

    def __init__(self, card: VirtualCard) -> None:
        super().__init__(card)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return super().transmit(apdu)


def _rsa(cert_key: object) -> rsa.RSAPublicKey:
    assert isinstance(cert_key, rsa.RSAPublicKey)
    return cert_key


def test_certificates(client: CardClient) -> None:
    assert client.is_my_number_card()
    auth = client.auth_certificate()
    assert auth.issuer == client.certificate(CertSlot.AUTH_CA).subject
    sign_ca = client.certificate(CertSlot.SIGN_CA)
    with pytest.raises(SecurityNotSatisfied) as caught:
        client.sign_certificate()
    assert caught.value.code == "SECURITY_NOT_SATISFIED"
    sign = client.sign_certificate(SIGN_PASSWORD)
    assert sign.issuer == sign_ca.subject
    assert client.certificate_der(CertSlot.AUTH) == client.certificate_der(CertSlot.AUTH)


def test_signing_with_both_keys(client: CardClient) -> None:
    message = b"log in to the portal"
    auth_sig = client.sign(KeyRef.AUTH, AUTH_PIN, data=message)
    _rsa(client.auth_certificate().public_key()).verify(
        auth_sig, message, padding.PKCS1v15(), hashes.SHA256()
    )
    digest = hashlib.sha256(b"a contract").digest()
    sign_sig = client.sign(KeyRef.SIGN, SIGN_PASSWORD, digest=digest)
    _rsa(client.sign_certificate().public_key()).verify(
        sign_sig, b"a contract", padding.PKCS1v15(), hashes.SHA256()
    )
    sha384 = client.sign(KeyRef.AUTH, AUTH_PIN, data=message, hash_name="sha384")
    _rsa(client.auth_certificate().public_key()).verify(
        sha384, message, padding.PKCS1v15(), hashes.SHA384()
    )
    with pytest.raises(ValueError, match="either"):
        client.sign(KeyRef.AUTH, AUTH_PIN)
    with pytest.raises(ValueError, match="size"):
        client.sign(KeyRef.AUTH, AUTH_PIN, digest=b"short")


def test_text_ap(client: CardClient) -> None:
    data = client.read_text_data(TEXT_PIN)
    assert data.individual_number == NUMBER
    assert data.items.name == HOLDER.name
    assert data.items.address == HOLDER.address
    assert data.items.date_of_birth == HOLDER.date_of_birth
    assert data.items.sex == 1
    assert data.intact
    # EF 0004 holds the real card's 7F21 certificate of the card data signer's key.
    signer_key = data_signer().certificate.public_key()
    assert isinstance(signer_key, rsa.RSAPublicKey)
    assert data.signer_certificate.public_numbers == signer_key.public_numbers()
    assert data.signer_certificate.self_signed
    assert client.read_individual_number(TEXT_PIN) == NUMBER
    assert client.read_basic_items(TEXT_PIN) == data.items


def test_text_ap_detects_altered_data(card: VirtualCard, client: CardClient) -> None:
    from openmyna.card.layout import EF_TEXT_ITEMS, TEXT_AID

    app = card.files.application(TEXT_AID)
    assert app is not None
    ef = app.files[EF_TEXT_ITEMS]
    assert isinstance(ef, BinaryEF)
    ef.data = ef.data.replace("山田".encode(), "川田".encode())
    data = client.read_text_data(TEXT_PIN)
    assert data.items.name == "川田 太郎"
    assert not data.intact


def test_face_ap(client: CardClient) -> None:
    face = client.read_face(NUMBER)
    assert face.intact
    assert face.data.date_of_birth == HOLDER.date_of_birth
    assert face.data.card_expiry == HOLDER.card_expiry
    assert face.data.sex == 1
    assert png_size(face.data.face_image) == (FACE_WIDTH, 128)
    assert png_size(face.data.name_image)[0] == 256


def test_extended_reads_take_fewer_round_trips(card: VirtualCard) -> None:
    short = CountingTransport(card)
    CardClient(short).auth_certificate()
    card.reset()
    long = CountingTransport(card)
    CardClient(long, extended=True).auth_certificate()
    assert len(long.sent) < len(short.sent)
    assert any(len(a) == 7 and a[4] == 0 for a in long.sent)  # an extended Le


def test_a_card_without_the_jpki_application() -> None:
    other = VirtualCard("other", [Application(bytes.fromhex("A000000003"), AppKind.APPLET)])
    client = CardClient(MemoryTransport(other))
    assert not client.is_my_number_card()
    with pytest.raises(NotAMyNumberCard):
        client.require_my_number_card()
    with pytest.raises(CardFileNotFound) as caught:
        client.auth_certificate()
    assert caught.value.code == "FILE_NOT_FOUND"


def test_a_child_card_has_no_signature_certificate() -> None:
    client = CardClient(MemoryTransport(fresh_card(with_sign_cert=False)))
    client.auth_certificate()
    with pytest.raises(CardFileNotFound):
        client.sign_certificate()
    assert client.tries_left(PinRef.SIGN) == 5  # the password EF stays for middleware


def test_status_words_map_to_errors() -> None:
    assert error_for_sw(0x63C1, "VERIFY").code == "PIN_WRONG"
    assert error_for_sw(0x6983, "VERIFY").code == "PIN_LOCKED"
    assert error_for_sw(0x6982, "READ").code == "SECURITY_NOT_SATISFIED"
    assert error_for_sw(0x6A82, "SELECT").code == "FILE_NOT_FOUND"
    generic = error_for_sw(0x6D00, "X")
    assert type(generic) is CardError
    assert generic.code == "CARD_ERROR"
    assert generic.context["sw"] == "6D 00"


class WireOnly:
    """A transport that is nothing but a byte pipe (no card object in reach)."""

    def __init__(self, pipe: Callable[[bytes], bytes]) -> None:
        self._pipe = pipe
        self.closed = False

    def transmit(self, apdu: bytes) -> bytes:
        return self._pipe(bytes(apdu))

    def close(self) -> None:
        self.closed = True


def test_the_client_needs_nothing_but_the_byte_pipe(card: VirtualCard) -> None:
    pipe = WireOnly(card.transmit)
    assert isinstance(pipe, Transport)
    client = CardClient(pipe)
    assert client.is_my_number_card()
    assert client.tries_left(PinRef.AUTH) == 3
    client.sign(KeyRef.AUTH, AUTH_PIN, data=b"x")
    assert client.read_text_data(TEXT_PIN).intact
    client.close()
    assert pipe.closed


def test_signing_a_digest_info_directly(client: CardClient) -> None:
    info = digest_info("sha256", hashlib.sha256(b"m").digest())
    sig = client.sign_digest_info(KeyRef.AUTH, AUTH_PIN, info)
    _rsa(client.auth_certificate().public_key()).verify(
        sig, b"m", padding.PKCS1v15(), hashes.SHA256()
    )


def test_client_as_context_manager_closes_the_transport(card: VirtualCard) -> None:
    transport = MemoryTransport(card)
    with CardClient(transport) as client:
        client.auth_certificate()
    assert transport.closed
    with pytest.raises(ValueError, match="closed"):
        transport.transmit(b"\x00\xa4\x04\x0c")
