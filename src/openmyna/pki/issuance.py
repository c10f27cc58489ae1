"""Issuing end-entity certificates: request checks, the 4 items, validity, the record.

The checks run before anything is signed or written; a refused request leaves no trace.
"""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.law import SIGN_CERT_MIN_AGE, certificate_last_day, may_hold_sign_cert
from openmyna.numbers import validate_resident_code
from openmyna.pki import records
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.errors import InvalidCertRequest, SignCertUnderAge
from openmyna.pki.profiles import (
    ISO_5218_SEXES,
    MAX_ITEM_LENGTH,
    RSA_BITS,
    RSA_EXPONENT,
    CertKind,
    SignCertItems,
    end_entity_certificate,
    end_of_day,
    substitute_characters,
)
from openmyna.store import Store

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_key(public_key: object) -> rsa.RSAPublicKey:
    """The card's public key, if it is RSA-2048 with exponent 65537."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise InvalidCertRequest("the public key must be an RSA key")
    if public_key.key_size != RSA_BITS or public_key.public_numbers().e != RSA_EXPONENT:
        raise InvalidCertRequest("the public key must be RSA-2048 with exponent 65537")
    return public_key


def check_text(value: str, what: str) -> str:
    """A name or address: 1-300 characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCertRequest(f"the {what} is empty")
    if len(value) > MAX_ITEM_LENGTH or _CONTROL.search(value):
        raise InvalidCertRequest(f"the {what} is too long or has control characters")
    return value


def sign_items(
    *, name: str, address: str, date_of_birth: dt.date, sex: int, today: dt.date
) -> SignCertItems:
    """The 4 items of a signature certificate; ``SIGN_CERT_UNDER_15`` for a child."""
    check_text(name, "name")
    check_text(address, "address")
    if sex not in ISO_5218_SEXES:
        raise InvalidCertRequest("sex must be an ISO/IEC 5218 code (0, 1, 2 or 9)")
    if date_of_birth > today:
        raise InvalidCertRequest("the date of birth is in the future")
    if not may_hold_sign_cert(date_of_birth, today):  # the law's age, as the card counts it
        raise SignCertUnderAge(
            "no signature certificate is issued to a resident under 15", min_age=SIGN_CERT_MIN_AGE
        )
    return SignCertItems(
        name=name,
        name_substitute=substitute_characters(name),
        sex=int(sex),
        date_of_birth=date_of_birth,
        address=address,
        address_substitute=substitute_characters(address),
    )


def issue(
    store: Store,
    ca: CertificateAuthority,
    public_key: object,
    *,
    resident_code: str,
    date_of_birth: dt.date,
    card_expiry: dt.date | None,
    stay_expires_on: dt.date | None,
    card_id: str | None,
    items: SignCertItems | None,
    now: dt.datetime,
    today: dt.date,
    base_url: str,
) -> x509.Certificate:
    """Check the request, sign the certificate with ``ca`` and record it as good."""
    key = check_key(public_key)
    code = str(validate_resident_code(resident_code))
    if card_id is not None and not (0 < len(card_id) <= 64):
        raise InvalidCertRequest("card_id must be 1-64 characters")
    if date_of_birth > today:
        raise InvalidCertRequest("the date of birth is in the future")
    if card_expiry is not None and card_expiry < today:
        raise InvalidCertRequest("the card has expired")
    if stay_expires_on is not None and stay_expires_on < today:
        raise InvalidCertRequest("the period of stay has ended")
    # JPKI 施行規則: the 5th birthday after issue, no later than the card or the period of stay.
    last_day = certificate_last_day(
        date_of_birth, issued_on=today, card_expiry=card_expiry, stay_expires_on=stay_expires_on
    )
    cert = end_entity_certificate(
        ca.kind,
        public_key=key,
        serial=x509.random_serial_number(),
        not_before=now,
        not_after=min(end_of_day(last_day), ca.cert.not_valid_after_utc),
        ca_cert=ca.cert,
        ca_key=ca.key,
        base_url=base_url,
        items=items,
    )
    with store.transaction() as s:
        records.insert_certificate(
            s,
            cert,
            CertKind(ca.kind),
            resident_code=code,
            card_id=card_id,
            issued_at=now,
            der=cert.public_bytes(serialization.Encoding.DER),
        )
    return cert
