"""Issuance's work on the card itself: keys, certificates from the JPKI issuer, personalisation.

The card generates its two key pairs; only the public halves go to the issuer
(``CertificateIssuer``, i.e. ``openmyna.pki.Jpki``), whose certificates are written back
with the PINs and the 券面 data. Nothing here touches the card register.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.engine import VirtualCard
from openmyna.card.layout import KeyRef
from openmyna.card.personalize import (
    DataSigner,
    HolderData,
    Personalization,
    check_pins,
    jpki_public_key,
    new_card,
    personalize,
)
from openmyna.errors import OpenMynaError
from openmyna.registry import IdentityEntry

#: The JPKI issuer's error code for a signature certificate asked for a child.
UNDER_15 = "SIGN_CERT_UNDER_15"


class CertificateIssuer(Protocol):
    """What issuance needs of the JPKI issuer (``openmyna.pki.Jpki``)."""

    def ca_certificate(self, kind: Any) -> x509.Certificate:
        """The CA certificate of ``CertKind.AUTH`` or ``CertKind.SIGN``."""
        ...

    def issue_auth_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        date_of_birth: dt.date,
        card_expiry: dt.date,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """A user-authentication certificate for the card's auth key."""
        ...

    def issue_sign_cert(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        resident_code: str,
        name: str,
        address: str,
        date_of_birth: dt.date,
        sex: int,
        card_expiry: dt.date,
        card_id: str | None = None,
        stay_expires_on: dt.date | None = None,
    ) -> x509.Certificate:
        """A signature certificate (raises ``SIGN_CERT_UNDER_15`` for children)."""
        ...

    def revoke_for_resident(
        self,
        resident_code: str,
        kinds: Any,
        reason: Any,
        *,
        issued_up_to: dt.datetime | None = None,
        card_id: str | None = None,
        actor: str = "jpki",
    ) -> list[int]:
        """Revoke a resident's good or suspended certificates of ``kinds``; their serials."""
        ...


def cert_kinds() -> tuple[Any, Any]:
    """``(CertKind.AUTH, CertKind.SIGN)`` of the pki package, or their names without it."""
    try:
        from openmyna.pki import CertKind
    except ImportError:
        return "auth", "sign"
    return CertKind.AUTH, CertKind.SIGN


def make_card(
    entry: IdentityEntry,
    issuer: CertificateIssuer,
    signer: DataSigner,
    *,
    card_expiry: dt.date,
    auth_pin: str,
    sign_password: str | None,
    text_pin: str,
) -> tuple[VirtualCard, x509.Certificate, x509.Certificate | None]:
    """A new personalised card for ``entry``: the card, its auth and signature certificates.

    The signature certificate is None when the issuer refuses it for a resident under 15.
    """
    card = new_card()
    auth_kind, sign_kind = cert_kinds()
    auth_cert = issuer.issue_auth_cert(
        jpki_public_key(card, KeyRef.AUTH),
        resident_code=entry.resident_code,
        date_of_birth=entry.date_of_birth,
        card_expiry=card_expiry,
        card_id=card.card_id,
        stay_expires_on=entry.stay_expires_on,
    )
    sign_cert: x509.Certificate | None
    try:
        sign_cert = issuer.issue_sign_cert(
            jpki_public_key(card, KeyRef.SIGN),
            resident_code=entry.resident_code,
            name=entry.name,
            address=entry.address,
            date_of_birth=entry.date_of_birth,
            sex=int(entry.sex),
            card_expiry=card_expiry,
            card_id=card.card_id,
            stay_expires_on=entry.stay_expires_on,
        )
    except OpenMynaError as exc:
        if exc.code != UNDER_15:
            raise
        sign_cert = None
    p = Personalization(
        holder=HolderData(
            individual_number=entry.individual_number,
            name=entry.name,
            address=entry.address,
            date_of_birth=entry.date_of_birth,
            sex=int(entry.sex),
            card_expiry=card_expiry,
        ),
        auth_cert=auth_cert,
        auth_ca=issuer.ca_certificate(auth_kind),
        sign_cert=sign_cert,
        sign_ca=issuer.ca_certificate(sign_kind),
        auth_pin=auth_pin,
        sign_password=sign_password if sign_cert is not None else None,
        text_pin=text_pin,
        signer=signer,
    )
    check_pins(p)
    personalize(card, p)
    return card, auth_cert, sign_cert
