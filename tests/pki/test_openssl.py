"""Interop with the openssl CLI: ``verify`` accepts the certificates; ``ocsp`` against a live
``openmyna pki serve`` process says good, then revoked after a registry event (and revoked
with reason certificateHold after a card is reported lost). The relying-party verifier uses
the same live server over HTTP.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import card_event, issue_both, make_jpki, pem, registry_event, resident_code, sign

from openmyna.bus import open_bus
from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.pki import (
    CertKind,
    Jpki,
    RevocationChecker,
    RevocationReason,
    VerificationFailed,
    Verifier,
    http_crl_fetch,
    http_ocsp_fetch,
)
from openmyna.pki.ca import CertificateAuthority

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write(folder: Path, name: str, obj: object) -> str:
    path = folder / name
    path.write_bytes(pem(obj))
    return str(path)


def test_openssl_verify_accepts_the_certificates(
    tmp_path: Path, sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, now_clock: FixedClock
) -> None:
    sqlite_jpki.clock = now_clock  # openssl checks validity against the real time
    auth, sig = issue_both(sqlite_jpki, ee_key, resident_code(1))
    auth_ca = _write(tmp_path, "auth-ca.pem", sqlite_jpki.ca_certificate(CertKind.AUTH))
    sign_ca = _write(tmp_path, "sign-ca.pem", sqlite_jpki.ca_certificate(CertKind.SIGN))
    auth_pem, sign_pem = _write(tmp_path, "auth.pem", auth), _write(tmp_path, "sign.pem", sig)
    for ca, cert in ((auth_ca, auth_pem), (sign_ca, sign_pem)):
        done = _openssl("verify", "-x509_strict", "-CAfile", ca, cert)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{cert}: OK"
    crossed = _openssl("verify", "-CAfile", sign_ca, auth_pem)
    assert crossed.returncode != 0
    # the signature certificate's policy is accepted when a relying party requires it
    done = _openssl(
        "verify", "-CAfile", sign_ca, "-policy", "1.2.392.200149.8.5.1.1", "-explicit_policy",
        sign_pem,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture
def live(
    tmp_path: Path,
    now_clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
) -> Iterator[tuple[Jpki, str, Settings]]:
    """A ``pki serve`` process on a free port, and an issuer in this process on the same data."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=tmp_path / "data")
    jpki = make_jpki(settings, now_clock, authorities, key_template, PkiSettings(base_url=base))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENMYNA_") and k not in ("COVERAGE_PROCESS_START",)
    }
    env["OPENMYNA_DATA_DIR"] = str(settings.data_dir)
    env["OPENMYNA_PKI_BASE_URL"] = base
    code = "from openmyna.pki.cli import app; app()"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--no-events"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_crl_fetch(f"{base}/crl/auth", timeout=1)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield jpki, base, settings
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        jpki.close()


def _ocsp(tmp_path: Path, ca: str, cert: str, url: str) -> tuple[str, str]:
    """(status, reason) as ``openssl ocsp`` prints them; the response must verify."""
    done = _openssl("ocsp", "-issuer", ca, "-CAfile", ca, "-cert", cert, "-url", url)
    assert done.returncode == 0, done.stderr
    assert "Response verify OK" in done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{cert}: ")
    reason = ""
    for line in done.stdout.splitlines():
        if line.strip().startswith("Reason:"):
            reason = line.split(":", 1)[1].strip()
    return first.split(": ", 1)[1].strip(), reason


def _wait_for(tmp_path: Path, ca: str, cert: str, url: str, want: str) -> tuple[str, str]:
    deadline = time.monotonic() + 10
    while True:
        got = _ocsp(tmp_path, ca, cert, url)
        if got[0] == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_openssl_ocsp_good_then_revoked_by_events(
    tmp_path: Path, live: tuple[Jpki, str, Settings], ee_key: rsa.RSAPrivateKey
) -> None:
    jpki, base, settings = live
    code = resident_code(2)
    auth, sig = issue_both(jpki, ee_key, code)
    auth_ca = _write(tmp_path, "auth-ca.pem", jpki.ca_certificate(CertKind.AUTH))
    sign_ca = _write(tmp_path, "sign-ca.pem", jpki.ca_certificate(CertKind.SIGN))
    auth_pem, sign_pem = _write(tmp_path, "auth.pem", auth), _write(tmp_path, "sign.pem", sig)
    url = f"{base}/ocsp"
    # openssl sends a nonce by default; the pre-signed response has none and is accepted
    assert _ocsp(tmp_path, auth_ca, auth_pem, url) == ("good", "")
    assert _ocsp(tmp_path, sign_ca, sign_pem, url) == ("good", "")

    bus = open_bus(settings)
    try:
        jpki.subscribe(bus)
        bus.publish([registry_event("moved_within", code, jpki.clock.now())])
        bus.pump()
        assert _wait_for(tmp_path, sign_ca, sign_pem, url, "revoked") == (
            "revoked",
            "affiliationChanged",
        )
        assert _ocsp(tmp_path, auth_ca, auth_pem, url) == ("good", "")
        bus.publish([card_event("lost", code, jpki.clock.now())])
        bus.pump()
        assert _wait_for(tmp_path, auth_ca, auth_pem, url, "revoked") == (
            "revoked",
            "certificateHold",
        )
    finally:
        bus.close()


def test_the_verifier_over_http_with_crl_fallback(
    tmp_path: Path,
    live: tuple[Jpki, str, Settings],
    ee_key: rsa.RSAPrivateKey,
    now_clock: FixedClock,
) -> None:
    jpki, base, _ = live
    auth, _ = issue_both(jpki, ee_key, resident_code(3))
    assert isinstance(auth, x509.Certificate)
    anchors = {k: jpki.ca_certificate(k) for k in CertKind}
    challenge = b"login-challenge"
    signature = sign(ee_key, challenge)

    def via_get(url: str, request: bytes) -> bytes:
        return http_ocsp_fetch(url, request, get=True)

    for fetch in (http_ocsp_fetch, via_get):
        checker = RevocationChecker(now_clock, ocsp_fetch=fetch)
        result = Verifier(anchors, now_clock, revocation=checker).verify_auth(
            auth, challenge, signature
        )
        assert result.status_source == "ocsp"

    def refused(_url: str, _request: bytes) -> bytes:
        raise ConnectionRefusedError

    crl_checker = RevocationChecker(now_clock, ocsp_fetch=refused, crl_fetch=http_crl_fetch)
    verifier = Verifier(anchors, now_clock, revocation=crl_checker)
    assert verifier.verify_auth(auth, challenge, signature).status_source == "crl"
    jpki.revoke(auth.serial_number)
    jpki.publish_crls()  # what the server's schedule does; the server serves the newest CRL
    crl_checker.forget()
    with pytest.raises(VerificationFailed) as err:
        verifier.verify_auth(auth, challenge, signature)
    assert err.value.code == "CERT_REVOKED"
    crl_path = tmp_path / "auth.crl"
    crl_path.write_bytes(http_crl_fetch(f"{base}/crl/auth"))
    text = _openssl("crl", "-inform", "DER", "-in", str(crl_path), "-noout", "-text").stdout
    serial = f"{auth.serial_number:X}"
    serial = "0" * (len(serial) % 2) + serial  # openssl prints whole bytes
    assert f"Serial Number: {serial}" in text


def test_openssl_ocsp_with_two_certificates_gets_both_statuses(
    tmp_path: Path, live: tuple[Jpki, str, Settings], ee_key: rsa.RSAPrivateKey
) -> None:
    """RFC 6960 §4.1.1: one request, two ``-cert`` options, one response with both answers."""
    jpki, base, _ = live
    good, _ = issue_both(jpki, ee_key, resident_code(4))
    revoked, _ = issue_both(jpki, ee_key, resident_code(5))
    jpki.revoke(revoked.serial_number, RevocationReason.KEY_COMPROMISE)
    ca = _write(tmp_path, "auth-ca.pem", jpki.ca_certificate(CertKind.AUTH))
    good_pem, revoked_pem = (
        _write(tmp_path, "good.pem", good),
        _write(tmp_path, "revoked.pem", revoked),
    )
    url = f"{base}/ocsp"
    deadline = time.monotonic() + 10
    while True:  # the server picks the revocation up from the log within its poll interval
        done = _openssl(
            "ocsp", "-issuer", ca, "-CAfile", ca, "-cert", good_pem, "-cert", revoked_pem,
            "-url", url,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Response verify OK" in done.stderr
        statuses = {
            line.split(": ", 1)[0]: line.split(": ", 1)[1].strip()
            for line in done.stdout.splitlines()
            if line.startswith(str(tmp_path))
        }
        if statuses.get(revoked_pem) == "revoked" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert statuses == {good_pem: "good", revoked_pem: "revoked"}
    assert "Reason: keyCompromise" in done.stdout
