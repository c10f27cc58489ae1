"""The JPKI AP (公的個人認証AP): two key pairs, their certificates and their PINs.

| EF | content | read |
|---|---|---|
| 0006 | token ``JPKIAPICCTOKEN2`` (32 bytes, space-padded) | always |
| 000A | user-authentication certificate (利用者証明用電子証明書), DER | always |
| 000B | the auth CA certificate | always |
| 0001 | signature certificate (署名用電子証明書), DER | after the signature password |
| 0002 | the signature CA certificate | always |
| 0017 | auth key (RSA-2048) — sign after the auth PIN | never |
| 0018 | auth PIN: 4 digits, 3 tries | — |
| 001A | signature key (RSA-2048) — sign after the password | never |
| 001B | signature password: 6–16 of A–Z, 0–9, 5 tries | — |

A residents under 15 gets no signature certificate (EF 0001 is absent), as on the real card;
the password EF stays, so middleware that asks both PIN counters keeps working.
"""

from __future__ import annotations

import secrets
import string

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.errors import CardStateError
from openmyna.card.files import AppKind, Application, BinaryEF, KeyEF, PinEF, new_key
from openmyna.card.layout import (
    EF_AUTH_CA,
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_JPKI_TOKEN,
    EF_SIGN_CA,
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PIN,
    JPKI_AID,
    JPKI_TOKEN,
)
from openmyna.card.pin import PinRule, PinState


def blank_jpki_application() -> Application:
    """The JPKI AP before issuance: the token and two freshly generated keys."""
    app = Application(JPKI_AID, AppKind.JPKI, "JPKI AP (公的個人認証AP)")
    app.add(BinaryEF(EF_JPKI_TOKEN, JPKI_TOKEN))
    app.add(KeyEF(EF_AUTH_KEY, new_key(), EF_AUTH_PIN))
    app.add(KeyEF(EF_SIGN_KEY, new_key(), EF_SIGN_PIN))
    return app


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _same_key(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bool:
    public = cert.public_key()
    return (
        isinstance(public, rsa.RSAPublicKey)
        and public.public_numbers() == key.public_key().public_numbers()
    )


def random_sign_password() -> str:
    """An unguessable valid signature password (for cards without a signature certificate)."""
    alphabet = string.ascii_uppercase + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(16))
        if PinRule.SIGN_PASSWORD.allows(value):
            return value


def personalize_jpki(
    app: Application,
    *,
    auth_cert: x509.Certificate,
    auth_ca: x509.Certificate,
    sign_cert: x509.Certificate | None,
    sign_ca: x509.Certificate,
    auth_pin: str,
    sign_password: str | None,
) -> None:
    """Write the certificates and set the PINs (issuance); certificates must fit the keys."""
    auth_key = app.files.get(EF_AUTH_KEY)
    sign_key = app.files.get(EF_SIGN_KEY)
    if not isinstance(auth_key, KeyEF) or not isinstance(sign_key, KeyEF):
        raise CardStateError("the JPKI AP has no keys")
    if not _same_key(auth_cert, auth_key.key):
        raise CardStateError("the auth certificate is not for this card's auth key")
    if sign_cert is not None and not _same_key(sign_cert, sign_key.key):
        raise CardStateError("the signature certificate is not for this card's signature key")
    auth = PinState.new(PinRule.AUTH_PIN, auth_pin)
    sign = PinState.new(PinRule.SIGN_PASSWORD, sign_password or random_sign_password())
    app.add(BinaryEF(EF_AUTH_CERT, _der(auth_cert)))
    app.add(BinaryEF(EF_AUTH_CA, _der(auth_ca)))
    app.add(BinaryEF(EF_SIGN_CA, _der(sign_ca)))
    if sign_cert is not None:
        app.add(BinaryEF(EF_SIGN_CERT, _der(sign_cert), read_pin=EF_SIGN_PIN))
    app.add(PinEF(EF_AUTH_PIN, auth))
    app.add(PinEF(EF_SIGN_PIN, sign))
