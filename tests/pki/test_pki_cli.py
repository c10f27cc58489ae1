"""``openmyna pki …`` through Typer's test runner, on a temporary data dir."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import copy_keys, issue_both, resident_code
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.pki import CertKind, CertStatus, Jpki
from openmyna.pki.cli import app, parse_serial

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, key_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installation with CA keys (SQLite, embedded bus)."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(tmp_path))
    for name in ("OPENMYNA_DATABASE_URL", "OPENMYNA_BUS_URL", "OPENMYNA_PKI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    copy_keys(key_template, tmp_path)
    return tmp_path


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_ca_prints_the_certificates(data_dir: Path) -> None:
    auth = x509.load_pem_x509_certificate(run("ca", "--auth", "--pem").encode())
    sign = x509.load_pem_x509_certificate(run("ca", "--sign", "--pem").encode())
    assert auth.subject.rfc4514_string() == "OU=JPKI for user authentication,O=JPKI,C=JP"
    assert sign.subject.rfc4514_string() == "OU=JPKI for digital signature,O=JPKI,C=JP"
    summary = run("ca", "--sign")
    assert "JPKI for digital signature" in summary
    assert "sha256:" in summary
    assert "PRIVATE" not in summary
    bad = runner.invoke(app, ["ca", "--auth", "--sign"])
    assert bad.exit_code == 2


def test_status_revoke_suspend_resume_and_crl(data_dir: Path, ee_key: rsa.RSAPrivateKey) -> None:
    with Jpki.open(Settings(data_dir=data_dir), SystemClock()) as jpki:
        auth, _ = issue_both(jpki, ee_key, resident_code(1), born=dt.date(1980, 5, 17))
    assert isinstance(auth, x509.Certificate)
    serial = f"0x{auth.serial_number:x}"
    out = run("status", serial)
    assert "status:     good" in out
    assert "kind:       auth" in out
    assert resident_code(1) not in out
    assert run("suspend", serial).strip() == "suspended"
    assert "status:     suspended" in run("status", str(auth.serial_number))
    assert run("resume", serial).strip() == "resumed"
    assert run("revoke", serial, "--reason", "keyCompromise").strip() == "revoked"
    assert run("revoke", serial).strip() == "already revoked"
    out = run("crl", "publish")
    assert "auth: CRL #1, 1 entries" in out
    assert "sign: CRL #1, 0 entries" in out
    with Jpki.open(Settings(data_dir=data_dir), SystemClock()) as jpki:
        assert jpki.status(auth.serial_number) is CertStatus.REVOKED
        assert len(list(jpki.crl(CertKind.AUTH))) == 1
    missing = runner.invoke(app, ["status", "0x1234"])
    assert isinstance(missing.exception, OpenMynaError)
    assert missing.exception.code == "CERT_NOT_FOUND"


def test_parse_serial() -> None:
    assert parse_serial("0xff") == 255
    assert parse_serial("255") == 255
    assert parse_serial("ff") == 255
    with pytest.raises(OpenMynaError):
        parse_serial("xyz")


def test_the_standalone_server_revokes_on_events(data_dir: Path, ee_key: rsa.RSAPrivateKey) -> None:
    """``pki serve`` without ``--no-events``: its background loop pumps the bus."""
    from fastapi.testclient import TestClient
    from pki_helpers import registry_event

    from openmyna.bus import open_bus
    from openmyna.pki.cli import standalone_app

    settings = Settings(data_dir=data_dir)
    with Builder(settings, SystemClock()) as parts:
        jpki = parts.jpki(follow_events=True)
        _, sig = issue_both(jpki, ee_key, resident_code(2))
        with TestClient(standalone_app(jpki, parts.bus(), interval=0.1)) as client:
            bus = open_bus(settings)
            try:
                bus.publish([registry_event("name_changed", resident_code(2), jpki.clock.now())])
            finally:
                bus.close()
            deadline = time.monotonic() + 10
            while jpki.status(sig.serial_number) is not CertStatus.REVOKED:
                assert time.monotonic() < deadline, "the server's loop did not revoke"
                time.sleep(0.05)
            crl = x509.load_der_x509_crl(client.get("/crl/sign").content)
            deadline = time.monotonic() + 10
            while crl.get_revoked_certificate_by_serial_number(sig.serial_number) is None:
                assert time.monotonic() < deadline, "the server's loop did not publish a CRL"
                time.sleep(0.1)
                crl = x509.load_der_x509_crl(client.get("/crl/sign").content)
