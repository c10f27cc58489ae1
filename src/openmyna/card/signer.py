"""The card data signer: the issuer's key that signs the 券面 data written to each card.

On the real card, J-LIS signs the text and face data so that a reader can tell they were
written by the issuer. openmyna keeps one RSA-2048 key per installation in
``$OPENMYNA_DATA_DIR/card/`` (``data_signer.key``, owner-only, and ``data_signer.crt``, a
self-signed certificate that cards carry in EF 0004). The JPKI package may later provide this
key from its CA hierarchy; cards only need ``sign`` and ``certificate``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import KeyFileError
from openmyna.store import files

KEY_FILE = "data_signer.key"
CERT_FILE = "data_signer.crt"
VALIDITY_YEARS = 20


class SignerKeyError(KeyFileError):
    """The card data signer's files are unreadable or do not belong together."""

    code = "CARD_SIGNER_KEY_ERROR"


def card_dir(settings: Settings) -> Path:
    """The card package's directory in the data dir (owner-only)."""
    path = settings.ensure_data_dir() / "card"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class CardDataSigner:
    """Signs card data with the issuer's key; ``certificate`` verifies the signatures."""

    def __init__(self, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        public = certificate.public_key()
        if (
            not isinstance(public, rsa.RSAPublicKey)
            or public.public_numbers() != key.public_key().public_numbers()
        ):
            raise SignerKeyError("the signer certificate does not match its key")
        self._key = key
        self.certificate = certificate

    @classmethod
    def generate(cls, clock: Clock) -> CardDataSigner:
        """A new signer with a self-signed certificate (not stored)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openmyna"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Card data signer"),
                x509.NameAttribute(NameOID.COMMON_NAME, "openmyna card data signer"),
            ]
        )
        now = clock.now().astimezone(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * VALIDITY_YEARS + 5))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> CardDataSigner:
        """The installation's signer, created in the data dir on first use."""
        directory = card_dir(settings)
        lock = os.open(directory / ".signer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
            if not key_path.exists():
                signer = cls.generate(clock)
                cert_path.unlink(missing_ok=True)
                files.write_new(
                    key_path,
                    signer._key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ),
                )
                files.replace(
                    cert_path, signer.certificate.public_bytes(serialization.Encoding.PEM)
                )
                return signer
            try:
                key = serialization.load_pem_private_key(key_path.read_bytes(), None)
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            except (OSError, ValueError, TypeError) as exc:
                raise SignerKeyError("cannot read the card data signer's files") from exc
            if not isinstance(key, rsa.RSAPrivateKey):
                raise SignerKeyError("the card data signer's key is not RSA")
            return cls(key, cert)
        finally:
            os.close(lock)

    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``data``."""
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def verify_card_data(certificate: x509.Certificate, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``data`` verifies with the certificate's RSA key."""
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        return False
    try:
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
