"""Key files: RSA-2048 keys stored as encrypted PKCS#8, under a key-encryption secret.

Layout under the data dir (folders 0700, files 0600):

    keys/pki.kek                 32 random bytes (hex): the key-encryption secret
    keys/pki/auth-ca.key         PKCS#8, encrypted with BestAvailableEncryption(secret)
    keys/pki/auth-ca.pem         the CA certificate (public)
    keys/pki/auth-ocsp.key|.pem  the delegated OCSP responder of the auth CA
    keys/pki/sign-ca.key|.pem, keys/pki/sign-ocsp.key|.pem

The card data signer's key (``card/data_signer.key``, ``openmyna.card.signer``) is kept by
the same ``KeyFiles`` under the same secret. The secret file can live elsewhere
(``OPENMYNA_PKI_KEK_FILE``, e.g. a mounted secret) so that a copy of the data dir alone does
not open the keys. Keys and the secret are never printed, logged or put in an error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.config import Settings
from openmyna.pki.errors import PkiKeyError
from openmyna.pki.profiles import RSA_BITS, RSA_EXPONENT
from openmyna.store import files

KEK_BYTES = 32
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def keys_dir(data_dir: Path) -> Path:
    """The folder of the JPKI issuer's key and certificate files."""
    return data_dir / "keys" / "pki"


def default_kek_path(data_dir: Path) -> Path:
    """Where the key-encryption secret lives unless configured elsewhere."""
    return data_dir / "keys" / "pki.kek"


def _read_private(path: Path, what: str) -> bytes:
    try:
        mode = path.stat().st_mode
        content = path.read_bytes()
    except OSError:
        raise PkiKeyError(f"the {what} cannot be read", file=path.name) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PkiKeyError(
            f"the {what} is accessible by group or others; it must be mode 0600", file=path.name
        )
    return content


def load_or_create_kek(path: Path) -> bytes:
    """The key-encryption secret, created (0600, random) on first use."""
    files.private_dir(path.parent)
    if not path.exists():
        files.write_new(path, secrets.token_hex(KEK_BYTES).encode("ascii") + b"\n")
    text = _read_private(path, "key-encryption secret").strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise PkiKeyError("the key-encryption secret is malformed", file=path.name) from None
    if len(secret) < 16:
        raise PkiKeyError("the key-encryption secret is too short", file=path.name)
    return secret


def _rsa_2048(key: object, name: str) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != RSA_BITS:
        raise PkiKeyError("a key file does not hold an RSA-2048 key", file=name)
    return key


def installation_kek(settings: Settings) -> bytes:
    """The installation's secret: ``settings.pki.kek_file`` or the default, made on first use.

    It encrypts the JPKI issuer's keys and the card data signer's.
    """
    return load_or_create_kek(settings.pki.kek_file or default_kek_path(settings.data_dir))


class KeyFiles:
    """A key folder: encrypted private keys and certificates by name (JPKI's, the card's)."""

    def __init__(self, folder: Path, kek: bytes) -> None:
        files.private_dir(folder)
        self.folder = folder
        self._kek = kek

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock (one process creates or renews keys at a time)."""
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def key_path(self, name: str) -> Path:
        """The encrypted private key file of ``name`` (e.g. ``auth-ca``)."""
        return self.folder / f"{name}.key"

    def cert_path(self, name: str) -> Path:
        """The certificate file of ``name``."""
        return self.folder / f"{name}.pem"

    def has(self, name: str) -> bool:
        """Whether both the key and the certificate of ``name`` exist."""
        return self.key_path(name).exists() and self.cert_path(name).exists()

    def new_key(self, name: str) -> rsa.RSAPrivateKey:
        """Generate an RSA-2048 key and store it encrypted (replacing an older one)."""
        key = rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)
        self.save_key(name, key)
        return key

    def save_key(self, name: str, key: rsa.RSAPrivateKey) -> None:
        """Store ``key`` encrypted as the key of ``name`` (replacing an older one atomically)."""
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._kek),
        )
        files.replace(self.key_path(name), pem)

    def load_key(self, name: str) -> rsa.RSAPrivateKey:
        """Decrypt and load the private key of ``name``."""
        pem = _read_private(self.key_path(name), "key file")
        try:
            key = serialization.load_pem_private_key(pem, password=self._kek)
        except (ValueError, TypeError):
            raise PkiKeyError(
                "a key file cannot be decrypted (wrong key-encryption secret?)", file=name
            ) from None
        return _rsa_2048(key, name)

    def encrypt_plaintext_key(self, name: str) -> None:
        """Encrypt the key of ``name`` if it is stored unencrypted.

        For key files written by earlier versions as plain PKCS#8. The encrypted file is
        written whole and synced under a temporary name, then renamed over the plaintext one
        (``files.replace``): a crash leaves one of the two, never neither and never half.
        """
        pem = _read_private(self.key_path(name), "key file")
        if pem.lstrip().startswith(_ENCRYPTED_PEM):
            return
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise PkiKeyError("a key file cannot be read", file=name) from None
        self.save_key(name, _rsa_2048(key, name))

    def save_cert(self, name: str, cert: x509.Certificate) -> None:
        """Store a certificate (PEM), replacing an older one."""
        files.replace(self.cert_path(name), cert.public_bytes(serialization.Encoding.PEM))

    def load_cert(self, name: str) -> x509.Certificate:
        """Load the certificate of ``name``."""
        try:
            return x509.load_pem_x509_certificate(self.cert_path(name).read_bytes())
        except (OSError, ValueError):
            raise PkiKeyError("a certificate file cannot be read", file=name) from None
