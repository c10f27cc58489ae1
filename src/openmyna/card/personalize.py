"""The issuer's writes to a card: a blank card, personalisation and the counter's changes.

A blank card (``new_card``) holds the JPKI AP with its two keys generated inside.
Personalisation is the issuer's step (the municipality's card issuance, with J-LIS's data):
it runs on the card object once, after the CA certified the keys' public halves
(``jpki_public_key``), and writes the certificates and PINs into the JPKI AP and installs the
券面事項入力補助AP and the 券面AP. The counter later resets PINs (``reset_pin``), rewrites the
4 items after a move or a new name (``rewrite_text_data``) and replaces the signature key and
certificate (``renew_sign_key``, ``write_sign_cert``, ``remove_sign_cert``). None of this is
reachable through APDUs: on the real card the issuer's terminal does it over its own secure
channel, which openmyna does not emulate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from openmyna.card.engine import VirtualCard
from openmyna.card.errors import CardStateError
from openmyna.card.face_ap import face_application
from openmyna.card.files import Application, BinaryEF, KeyEF, PinEF, new_key
from openmyna.card.jpki import blank_jpki_application, personalize_jpki
from openmyna.card.layout import (
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PIN,
    EF_TEXT_NUMBER,
    EF_TEXT_PIN,
    JPKI_AID,
    TEXT_AID,
    KeyRef,
    PinRef,
)
from openmyna.card.pin import PinRule, PinState
from openmyna.card.text_ap import CardItems, decode_number, text_application
from openmyna.card.tlv import TLVError
from openmyna.numbers.redaction import masked_repr


class DataSigner(Protocol):
    """The issuer's signer of card data (see ``signer.CardDataSigner``)."""

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate the card carries so readers can verify."""
        ...

    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``data``."""
        ...


@dataclass(frozen=True)
class HolderData:
    """What the card shows and holds about its holder."""

    individual_number: str
    name: str
    address: str
    date_of_birth: dt.date
    #: ISO/IEC 5218 code.
    sex: int
    card_expiry: dt.date

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class Personalization:
    """Everything issuance writes to a card."""

    holder: HolderData
    auth_cert: x509.Certificate
    auth_ca: x509.Certificate
    #: None for residents under 15 (no signature certificate).
    sign_cert: x509.Certificate | None
    sign_ca: x509.Certificate
    auth_pin: str
    #: None: an unknown random password (only when there is no signature certificate).
    sign_password: str | None
    text_pin: str
    signer: DataSigner

    def __repr__(self) -> str:
        return masked_repr(self)


def new_card(card_id: str | None = None) -> VirtualCard:
    """A blank card with its two JPKI keys generated inside (personalise it next)."""
    return VirtualCard(card_id or secrets.token_hex(8), [blank_jpki_application()])


def jpki_public_key(card: VirtualCard, key: KeyRef) -> rsa.RSAPublicKey:
    """The public half of a JPKI key, for the CA to certify."""
    return card.files.public_key(JPKI_AID, key.fid)


def check_pins(p: Personalization) -> None:
    """Refuse PINs that break their rules before anything is written."""
    PinRule.AUTH_PIN.require(p.auth_pin)
    PinRule.TEXT_PIN.require(p.text_pin)
    if p.sign_password is not None:
        PinRule.SIGN_PASSWORD.require(p.sign_password)
    elif p.sign_cert is not None:
        raise CardStateError("a card with a signature certificate needs a signature password")


def personalize(card: VirtualCard, p: Personalization) -> None:
    """Write certificates, PINs and 券面 data (once per card)."""
    if card.personalized:
        raise CardStateError("the card is already personalised")
    check_pins(p)
    jpki = card.files.application(JPKI_AID)
    if jpki is None:
        raise CardStateError("the card has no JPKI AP")
    h = p.holder
    text = text_application(
        number=h.individual_number,
        items=CardItems(h.name, h.address, h.date_of_birth, h.sex),
        pin=p.text_pin,
        sign=p.signer.sign,
        signer_certificate=p.signer.certificate,
    )
    face = face_application(
        number=h.individual_number,
        date_of_birth=h.date_of_birth,
        sex=h.sex,
        card_expiry=h.card_expiry,
        name_length=len(h.name),
        address_length=len(h.address),
        seed=hashlib.sha256(card.card_id.encode()).digest(),
        sign=p.signer.sign,
        signer_certificate=p.signer.certificate,
    )
    personalize_jpki(
        jpki,
        auth_cert=p.auth_cert,
        auth_ca=p.auth_ca,
        sign_cert=p.sign_cert,
        sign_ca=p.sign_ca,
        auth_pin=p.auth_pin,
        sign_password=p.sign_password,
    )
    card.files.add(text)
    card.files.add(face)
    card.personalized = True
    card.changed()


def reset_pin(card: VirtualCard, pin: PinRef, new_value: str | None = None) -> None:
    """The counter's PIN reset (初期化): refill the counter, optionally with a new value."""
    state = card.files.pin(pin.aid, pin.fid)
    if new_value is None:
        state.tries_left = state.max_tries
    else:
        if not state.rule.changeable:
            raise CardStateError("this PIN cannot be changed")
        state.set_value(new_value)
    card.changed()


def rewrite_text_data(card: VirtualCard, items: CardItems, signer: DataSigner) -> None:
    """Write new 4 items in the 券面事項入力補助AP, signed again by the card data signer.

    The number, the holder's PIN and its retry counter stay; EF 0002-0005 are written anew
    (the digests and signature cover the new items; EF 0004/0005 name the current signer).
    """
    old = card.files.application(TEXT_AID)
    if old is None:
        raise CardStateError("the card has no 券面事項入力補助AP")
    number_ef, pin_ef = old.files.get(EF_TEXT_NUMBER), old.files.get(EF_TEXT_PIN)
    if not isinstance(number_ef, BinaryEF) or not isinstance(pin_ef, PinEF):
        raise CardStateError("the 券面事項入力補助AP is incomplete")
    try:
        number = decode_number(number_ef.data)
    except TLVError:
        raise CardStateError("the number EF is not in the card's layout") from None
    card.files.add(
        text_application(
            number=number,
            items=items,
            pin=pin_ef.pin,
            sign=signer.sign,
            signer_certificate=signer.certificate,
        )
    )
    card.reset()
    card.changed()


def renew_sign_key(card: VirtualCard) -> rsa.RSAPublicKey:
    """Generate a new signature key pair inside the card; its public half for the CA.

    The old key is gone: a signature certificate for it (if still on the card) no longer
    fits and is removed. Nothing is saved until ``write_sign_cert`` or ``remove_sign_cert``.
    """
    jpki = _jpki(card)
    jpki.files.pop(EF_SIGN_CERT, None)
    jpki.add(KeyEF(EF_SIGN_KEY, new_key(), EF_SIGN_PIN))
    return jpki_public_key(card, KeyRef.SIGN)


def write_sign_cert(card: VirtualCard, cert: x509.Certificate, password: str) -> None:
    """Write a new signature certificate and set the signature password (full counter)."""
    PinRule.SIGN_PASSWORD.require(password)
    jpki = _jpki(card)
    key = jpki.files.get(EF_SIGN_KEY)
    public = cert.public_key()
    if (
        not isinstance(key, KeyEF)
        or not isinstance(public, rsa.RSAPublicKey)
        or public.public_numbers() != key.key.public_key().public_numbers()
    ):
        raise CardStateError("the signature certificate is not for this card's signature key")
    jpki.add(BinaryEF(EF_SIGN_CERT, cert.public_bytes(Encoding.DER), read_pin=EF_SIGN_PIN))
    jpki.add(PinEF(EF_SIGN_PIN, PinState.new(PinRule.SIGN_PASSWORD, password)))
    card.reset()
    card.changed()


def remove_sign_cert(card: VirtualCard) -> None:
    """Take a (revoked) signature certificate off the card: the card holds none, as a child's."""
    _jpki(card).files.pop(EF_SIGN_CERT, None)
    card.reset()
    card.changed()


def sign_cert_on(card: VirtualCard) -> x509.Certificate | None:
    """The signature certificate written on the card, if any (the issuer's view)."""
    ef = _jpki(card).files.get(EF_SIGN_CERT)
    if not isinstance(ef, BinaryEF):
        return None
    return x509.load_der_x509_certificate(ef.data)


def _jpki(card: VirtualCard) -> Application:
    jpki = card.files.application(JPKI_AID)
    if jpki is None:
        raise CardStateError("the card has no JPKI AP")
    return jpki
