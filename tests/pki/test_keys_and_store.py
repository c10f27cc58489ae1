"""CA keys encrypted at rest and owner-only; the issuer's database schema and append-only log."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import copy_keys, issue_both, resident_code
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.pki import CertKind, Jpki, PkiKeyError, RevocationReason
from openmyna.pki.keys import default_kek_path, keys_dir
from openmyna.pki.tables import BODY_ID, STORE_KIND, metadata, revocation_log
from openmyna.store import open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_created_encrypted_and_owner_only(tmp_path: Path, clock: FixedClock) -> None:
    settings = Settings(data_dir=tmp_path)
    with Jpki.open(settings, clock) as jpki:
        fingerprints = {k: jpki.ca_certificate(k).fingerprint(hashes.SHA256()) for k in CertKind}
    folder = keys_dir(tmp_path)
    key_files = sorted(folder.glob("*.key"))
    assert [p.name for p in key_files] == [
        "auth-ca.key",
        "auth-ocsp.key",
        "sign-ca.key",
        "sign-ocsp.key",
    ]
    kek = default_kek_path(tmp_path)
    secret = kek.read_text().strip()
    for path in key_files:
        content = path.read_bytes()
        assert content.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert b"BEGIN PRIVATE KEY" not in content
        assert b"BEGIN RSA PRIVATE KEY" not in content
        assert secret.encode() not in content
        assert _mode(path) == 0o600
    assert _mode(kek) == 0o600
    assert _mode(folder) == 0o700
    assert len(bytes.fromhex(secret)) == 32
    # a second open reads the same CAs back
    with Jpki.open(settings, clock) as again:
        assert {k: again.ca_certificate(k).fingerprint(hashes.SHA256()) for k in CertKind} == (
            fingerprints
        )


def test_a_wrong_secret_or_loose_permissions_are_refused(
    tmp_path: Path, key_template: Path, clock: FixedClock
) -> None:
    copy_keys(key_template, tmp_path)
    settings = Settings(data_dir=tmp_path)
    kek = default_kek_path(tmp_path)
    real = kek.read_text()
    kek.write_text("00" * 32 + "\n")
    with pytest.raises(PkiKeyError) as err:
        Jpki.open(settings, clock)
    assert err.value.code == "PKI_KEY_ERROR"
    assert real.strip() not in err.value.diagnostics()
    kek.write_text(real)
    key = keys_dir(tmp_path) / "auth-ca.key"
    os.chmod(key, 0o644)
    with pytest.raises(PkiKeyError, match="0600"):
        Jpki.open(settings, clock)
    os.chmod(key, 0o600)
    os.chmod(kek, 0o640)
    with pytest.raises(PkiKeyError, match="0600"):
        Jpki.open(settings, clock)
    os.chmod(kek, 0o600)
    Jpki.open(settings, clock).close()


def test_the_secret_can_live_outside_the_data_dir(
    tmp_path: Path, key_template: Path, clock: FixedClock
) -> None:
    copy_keys(key_template, tmp_path / "data")
    outside = tmp_path / "secrets" / "pki.kek"
    outside.parent.mkdir(mode=0o700)
    default_kek_path(tmp_path / "data").rename(outside)
    pki = PkiSettings(kek_file=outside)
    with Jpki.open(Settings(data_dir=tmp_path / "data", pki=pki), clock) as jpki:
        assert jpki.ca_certificate(CertKind.AUTH)
    with pytest.raises(PkiKeyError):  # without it, a new secret cannot open the old keys
        Jpki.open(Settings(data_dir=tmp_path / "data"), clock)


def test_the_ocsp_responder_certificate_is_renewed_before_it_expires(
    tmp_path: Path, key_template: Path, clock: FixedClock
) -> None:
    copy_keys(key_template, tmp_path)
    settings = Settings(data_dir=tmp_path)
    with Jpki.open(settings, clock) as jpki:
        ca = jpki.ca_certificate(CertKind.AUTH)
        old = jpki.responder_certificate(CertKind.AUTH)
    later = FixedClock(old.not_valid_after_utc - dt.timedelta(days=10))
    with Jpki.open(settings, later) as jpki:
        new = jpki.responder_certificate(CertKind.AUTH)
        assert jpki.ca_certificate(CertKind.AUTH) == ca
    assert new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc
    new.verify_directly_issued_by(ca)


def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = open_store(settings, STORE_KIND, BODY_ID)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        store.close()


def test_the_revocation_log_is_append_only(jpki: Jpki, ee_key: rsa.RSAPrivateKey) -> None:
    auth, _ = issue_both(jpki, ee_key, resident_code(1))
    assert isinstance(auth, x509.Certificate)
    jpki.revoke(auth.serial_number, RevocationReason.KEY_COMPROMISE)
    for statement in ("UPDATE revocation_log SET actor = 'someone'", "DELETE FROM revocation_log"):
        with pytest.raises(DBAPIError), jpki.store.engine.begin() as conn:
            conn.execute(text(statement))
    with jpki.store.engine.connect() as conn:
        rows = conn.execute(select(revocation_log.c.action, revocation_log.c.actor)).all()
    assert [tuple(r) for r in rows] == [("revoke", "jpki")]
