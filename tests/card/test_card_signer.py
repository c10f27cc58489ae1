"""The card data signer's files: the key encrypted at rest under the JPKI key-encryption
secret, owner-only, the same signer on every open, plaintext keys of earlier versions
migrated, one key when processes open at once."""

from __future__ import annotations

import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.signer import (
    CERT_FILE,
    CardDataSigner,
    SignerKeyError,
    card_dir,
    verify_card_data,
)
from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.errors import KeyFileError
from openmyna.pki.keys import default_kek_path

KEY = "data_signer.key"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir of its own (the signer's files and the key-encryption secret live there)."""
    return Settings(data_dir=tmp_path / "data")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _public(signer: CardDataSigner) -> rsa.RSAPublicNumbers:
    public = signer.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public.public_numbers()


def _same(a: CardDataSigner, b: CardDataSigner) -> None:
    """``b`` is ``a``: same certificate, and ``b`` signs what ``a``'s certificate verifies."""
    assert b.certificate == a.certificate
    assert _public(b) == _public(a)
    assert verify_card_data(a.certificate, b"card data", b.sign(b"card data"))


def _decrypted(pem: bytes, kek_path: Path) -> rsa.RSAPublicNumbers:
    """The public numbers of the key in ``pem``, decrypted with the secret in ``kek_path``."""
    kek = bytes.fromhex(kek_path.read_text().strip())
    key = serialization.load_pem_private_key(pem, password=kek)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers()


def _no_plaintext_key(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            content = path.read_bytes()
            assert b"BEGIN PRIVATE KEY" not in content, path.name
            assert b"BEGIN RSA PRIVATE KEY" not in content, path.name


def test_the_key_is_stored_encrypted_and_owner_only(settings: Settings, clock: FixedClock) -> None:
    signer = CardDataSigner.open(settings, clock)
    folder = card_dir(settings)
    key_path = folder / KEY
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    _no_plaintext_key(folder)
    with pytest.raises(TypeError):  # no password: refused
        serialization.load_pem_private_key(pem, password=None)
    kek_path = default_kek_path(settings.data_dir)
    assert kek_path.read_text().strip().encode() not in pem
    assert _decrypted(pem, kek_path) == _public(signer)  # the JPKI secret opens it
    assert _mode(key_path) == 0o600
    assert _mode(folder / CERT_FILE) == 0o600
    assert _mode(folder) == 0o700
    assert _mode(kek_path) == 0o600
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_reopening_gives_the_same_signer(settings: Settings, clock: FixedClock) -> None:
    first = CardDataSigner.open(settings, clock)
    key_pem = (card_dir(settings) / KEY).read_bytes()
    again = CardDataSigner.open(settings, clock)
    _same(first, again)
    assert (card_dir(settings) / KEY).read_bytes() == key_pem  # read, not written again


def test_a_wrong_secret_is_a_signer_key_error(settings: Settings, clock: FixedClock) -> None:
    CardDataSigner.open(settings, clock)
    kek_path = default_kek_path(settings.data_dir)
    real = kek_path.read_text().strip()
    kek_path.write_text("ab" * 32 + "\n")
    with pytest.raises(SignerKeyError) as err:
        CardDataSigner.open(settings, clock)
    assert isinstance(err.value, KeyFileError)
    assert err.value.code == "CARD_SIGNER_KEY_ERROR"
    assert err.value.exit_code == 4
    assert "wrong key-encryption secret" in err.value.message
    shown = err.value.diagnostics() + str(err.value.problem())
    assert real not in shown
    assert "ab" * 32 not in shown
    assert "PRIVATE KEY" not in shown
    assert err.value.__cause__ is None  # nothing of the decryption attempt is chained on


def test_unsafe_or_unreadable_files_are_signer_key_errors(
    settings: Settings, clock: FixedClock
) -> None:
    CardDataSigner.open(settings, clock)
    folder = card_dir(settings)
    (folder / KEY).chmod(0o644)
    with pytest.raises(SignerKeyError, match="0600"):
        CardDataSigner.open(settings, clock)
    (folder / KEY).chmod(0o600)
    kek_path = default_kek_path(settings.data_dir)
    kek_path.write_text("not hex\n")
    with pytest.raises(SignerKeyError, match="malformed"):
        CardDataSigner.open(settings, clock)


def test_a_plaintext_key_of_an_earlier_version_is_encrypted_on_open(
    settings: Settings, clock: FixedClock
) -> None:
    # What an earlier version left: unencrypted PKCS#8 and the certificate (0600, folder 0700).
    old = CardDataSigner.generate(clock)
    folder = card_dir(settings)
    plain = old._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (folder / KEY).write_bytes(plain)
    (folder / KEY).chmod(0o600)
    cert_pem = old.certificate.public_bytes(serialization.Encoding.PEM)
    (folder / CERT_FILE).write_bytes(cert_pem)
    (folder / CERT_FILE).chmod(0o600)

    migrated = CardDataSigner.open(settings, clock)
    _same(old, migrated)
    pem = (folder / KEY).read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    _no_plaintext_key(folder)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert _mode(folder / KEY) == 0o600
    assert (folder / CERT_FILE).read_bytes() == cert_pem  # the cards carry it: unchanged
    assert _decrypted(pem, default_kek_path(settings.data_dir)) == _public(old)
    _same(old, CardDataSigner.open(settings, clock))  # and the encrypted file opens again


def test_a_secret_outside_the_data_dir_is_used(tmp_path: Path, clock: FixedClock) -> None:
    outside = tmp_path / "secrets" / "pki.kek"
    outside.parent.mkdir(mode=0o700)
    settings = Settings(data_dir=tmp_path / "data", pki=PkiSettings(kek_file=outside))
    signer = CardDataSigner.open(settings, clock)
    assert outside.exists()
    assert not default_kek_path(settings.data_dir).exists()
    assert _decrypted((card_dir(settings) / KEY).read_bytes(), outside) == _public(signer)
    _same(signer, CardDataSigner.open(settings, clock))

    # A copy of the data dir alone (no secret) does not open the key.
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    with pytest.raises(SignerKeyError, match="cannot be decrypted"):
        CardDataSigner.open(Settings(data_dir=tmp_path / "copy"), clock)
    with pytest.raises(SignerKeyError):  # nor the original data dir without its setting
        CardDataSigner.open(Settings(data_dir=tmp_path / "data"), clock)


def test_a_missing_certificate_is_a_signer_key_error(settings: Settings, clock: FixedClock) -> None:
    CardDataSigner.open(settings, clock)
    (card_dir(settings) / CERT_FILE).unlink()
    with pytest.raises(SignerKeyError, match="certificate"):
        CardDataSigner.open(settings, clock)


def test_threads_opening_at_once_create_one_key(settings: Settings, clock: FixedClock) -> None:
    count = 4
    start = threading.Barrier(count)

    def open_signer() -> CardDataSigner:
        start.wait()
        return CardDataSigner.open(settings, clock)

    with ThreadPoolExecutor(count) as pool:
        opened = [f.result() for f in [pool.submit(open_signer) for _ in range(count)]]
    for other in opened[1:]:
        _same(opened[0], other)
    on_disk = x509.load_pem_x509_certificate((card_dir(settings) / CERT_FILE).read_bytes())
    assert on_disk == opened[0].certificate
    _same(opened[0], CardDataSigner.open(settings, clock))
