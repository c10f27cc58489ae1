"""The issuer's writes to a card: a blank card, personalisation and the counter's PIN reset.

A blank card (``new_card``) holds the JPKI AP with its two keys generated inside.
Personalisation is the issuer's step (the municipality's card issuance, with J-LIS's data):
it runs on the card object once, after the CA certified the keys' public halves
(``jpki_public_key``), and writes the certificates and PINs into the JPKI AP and installs the
券面事項入力補助AP and the 券面AP. None of this is reachable through APDUs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.engine import VirtualCard
from openmyna.card.errors import CardStateError
from openmyna.card.face_ap import face_application
from openmyna.card.jpki import blank_jpki_application, personalize_jpki
from openmyna.card.layout import JPKI_AID, KeyRef, PinRef
from openmyna.card.pin import PinRule
from openmyna.card.text_ap import CardItems, text_application
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
