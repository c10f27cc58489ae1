"""Helpers shared by the JPKI tests (imported as a plain module)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openmyna.bus import Event, new_event
from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.numbers import resident_code_check_digit
from openmyna.pki import CertKind, Jpki, RevocationChecker, Verifier
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.tables import BODY_ID, STORE_KIND
from openmyna.store import open_store

BORN = dt.date(1980, 5, 17)


def resident_code(i: int) -> str:
    """A valid 11-digit resident-record code made from ``i``."""
    base = f"{1_000_000_000 + i:010d}"
    return base + str(resident_code_check_digit(base))


def copy_keys(template: Path, data_dir: Path) -> None:
    """Give a data dir the pre-made CA keys (generating RSA keys per test would be slow)."""
    shutil.copytree(template / "keys", Path(data_dir) / "keys", dirs_exist_ok=True)


def make_jpki(
    settings: Settings,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
    config: PkiSettings | None = None,
) -> Jpki:
    """A ``Jpki`` on ``settings`` with the template's CAs (their files copied in as well)."""
    copy_keys(key_template, settings.data_dir)
    store = open_store(settings, STORE_KIND, BODY_ID)
    return Jpki(store, authorities, clock, config or settings.pki)


def pem(obj: object) -> bytes:
    """PEM of a certificate."""
    return obj.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined,no-any-return]


def der(obj: object) -> bytes:
    """DER of a certificate."""
    return obj.public_bytes(serialization.Encoding.DER)  # type: ignore[attr-defined,no-any-return]


def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """A PKCS#1 v1.5 / SHA-256 signature, as the card makes it."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def issue_both(
    jpki: Jpki,
    key: rsa.RSAPrivateKey,
    code: str,
    *,
    born: dt.date = BORN,
    card_expiry: dt.date | None = None,
    card_id: str | None = None,
) -> tuple[x509.Certificate, x509.Certificate]:
    """An auth and a signature certificate for one resident."""
    auth = jpki.issue_auth_cert(
        key.public_key(),
        resident_code=code,
        date_of_birth=born,
        card_expiry=card_expiry,
        card_id=card_id,
    )
    sig = jpki.issue_sign_cert(
        key.public_key(),
        resident_code=code,
        name="山田 太郎",
        address="群馬県前橋市大手町二丁目12番1号",
        date_of_birth=born,
        sex=1,
        card_expiry=card_expiry,
        card_id=card_id,
    )
    return auth, sig


def registry_event(kind: str, code: str, at: dt.datetime, **extra: object) -> Event:
    """A registry event about one resident, with the fields docs/registry.md lists."""
    data = {
        "resident_code": code,
        "lg_code": "102016",
        "event_date": at.date().isoformat(),
        "seq": 2,
        **extra,
    }
    return new_event(f"registry.{kind}", "registry.102016", at, data)


def card_event(kind: str, code: str, at: dt.datetime, card_id: str = "card-1") -> Event:
    """A card lifecycle event (published by the card's lifecycle code)."""
    return new_event(f"card.{kind}", "card.102016", at, {"resident_code": code, "card_id": card_id})


def in_process_verifier(jpki: Jpki, clock: object, **kwargs: object) -> Verifier:
    """A verifier whose OCSP and CRL come from ``jpki`` in process."""
    checker = RevocationChecker(
        clock,  # type: ignore[arg-type]
        ocsp_fetch=jpki.ocsp_fetcher(),
        crl_fetch=jpki.crl_fetcher(),
    )
    anchors = {kind: jpki.ca_certificate(kind) for kind in CertKind}
    return Verifier(anchors, clock, revocation=checker, **kwargs)  # type: ignore[arg-type]
