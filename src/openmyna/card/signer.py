"""The card data signer: the issuer's key that signs the 券面 data written to each card.

On the real card, J-LIS signs the text and face data so that a reader can tell they were
written by the issuer. openmyna keeps one RSA-2048 key per installation in
``$OPENMYNA_DATA_DIR/card/``: ``data_signer.key``, PKCS#8 encrypted under the JPKI
key-encryption secret (``Settings.pki.kek_file``, default ``keys/pki.kek``) by
``openmyna.pki.keys.KeyFiles`` like the CA keys, and ``data_signer.crt``, a self-signed
certificate that cards carry in EF 0004. Files are owner-only (0600, folder 0700). A key file
an earlier version stored unencrypted is encrypted in place when the signer is first opened.
The JPKI package may later provide this key from its CA hierarchy; cards only need ``sign``
and ``certificate``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import KeyFileError
from openmyna.store import files

if TYPE_CHECKING:
    from openmyna.pki.keys import KeyFiles

#: The key's name in the card folder's ``KeyFiles``: ``data_signer.key``.
KEY_NAME = "data_signer"
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
        """The installation's signer, created in the data dir on first use.

        ``SignerKeyError`` when the key cannot be decrypted (another key-encryption secret)
        or a file is unreadable, unsafe (not 0600) or does not match the other.
        """
        # Imported here: opening the signer needs the pki's key files, importing a card does
        # not need the pki package.
        from openmyna.pki.errors import PkiKeyError
        from openmyna.pki.keys import KeyFiles, installation_kek

        directory = card_dir(settings)
        try:
            keys = KeyFiles(directory, installation_kek(settings))
            with keys.lock():  # of processes opening at once, one creates the key
                return cls._open_or_create(keys, directory / CERT_FILE, clock)
        except PkiKeyError as exc:
            raise SignerKeyError(exc.message, **exc.context) from None

    @classmethod
    def _open_or_create(cls, keys: KeyFiles, cert_path: Path, clock: Clock) -> CardDataSigner:
        if not keys.key_path(KEY_NAME).exists():
            signer = cls.generate(clock)
            # The certificate first: a key file on disk means a complete signer, so a crash
            # in between leaves no key and the next open starts again.
            files.replace(cert_path, signer.certificate.public_bytes(serialization.Encoding.PEM))
            keys.save_key(KEY_NAME, signer._key)
            return signer
        keys.encrypt_plaintext_key(KEY_NAME)  # a key stored by an earlier version
        key = keys.load_key(KEY_NAME)
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SignerKeyError("cannot read the card data signer's certificate") from exc
        return cls(key, cert)

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
