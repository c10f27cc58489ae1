"""Fixtures of the JPKI tests: CA keys made once per session, copied into each data dir."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import make_jpki

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertKind, Jpki
from openmyna.pki.ca import CertificateAuthority, open_authorities
from openmyna.pki.keys import KeyFiles, default_kek_path, keys_dir, load_or_create_kek

_MADE = min(dt.datetime.now(dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)) - dt.timedelta(days=30)


@pytest.fixture(scope="session")
def key_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding only CA keys, created a month before the test clock's date."""
    root = tmp_path_factory.mktemp("pki-keys")
    kek = load_or_create_kek(default_kek_path(root))
    open_authorities(KeyFiles(keys_dir(root), kek), FixedClock(_MADE))
    return root


@pytest.fixture(scope="session")
def authorities(key_template: Path) -> dict[CertKind, CertificateAuthority]:
    """The template's CAs, decrypted once (each decryption runs the key-derivation function)."""
    kek = load_or_create_kek(default_kek_path(key_template))
    return open_authorities(KeyFiles(keys_dir(key_template), kek), FixedClock(_MADE))


@pytest.fixture(scope="session")
def ee_keys() -> list[rsa.RSAPrivateKey]:
    """A few RSA-2048 card keys (the card generates them; here the tests do)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


@pytest.fixture
def ee_key(ee_keys: list[rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
    """One card key."""
    return ee_keys[0]


@pytest.fixture
def jpki(
    settings: Settings,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
) -> Iterator[Jpki]:
    """The JPKI issuer on each storage backend, at the test clock."""
    j = make_jpki(settings, clock, authorities, key_template)
    yield j
    j.close()


@pytest.fixture
def sqlite_jpki(
    tmp_path: Path,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
) -> Iterator[Jpki]:
    """The JPKI issuer on SQLite only (for tests that are not about storage)."""
    j = make_jpki(Settings(data_dir=tmp_path), clock, authorities, key_template)
    yield j
    j.close()


@pytest.fixture
def now_clock() -> FixedClock:
    """A clock at the real time: for tests where openssl checks times against its own clock."""
    return FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
