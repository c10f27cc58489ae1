"""The emulated My Number Card in pcscd's vpcd reader, used by unchanged PC/SC software.

One card is issued for the module: keys generated inside the card, certificates from the
project's JPKI (``openmyna.pki.Jpki``, at the real time so that ``openssl`` accepts them).
It is served through vpcd, then read and used by

- ``CardClient`` over ``PcscTransport`` (the client code that reads a real card),
- OpenSC's ``pkcs15-tool`` (JPKI driver card-jpki.c + pkcs15-jpki.c),
- OpenSC's PKCS#11 module through ``pkcs11-tool``,
- ``openssl verify``.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from interop_support import AUTH_PIN, SIGN_PASSWORD, card_in_reader, issue_jpki

from openmyna.card.client import CardClient
from openmyna.card.engine import VirtualCard
from openmyna.card.errors import SecurityNotSatisfied
from openmyna.card.layout import CertSlot, KeyRef, PinRef
from openmyna.card.personalize import new_card
from openmyna.card.transport import open_transport
from openmyna.card.transport.pcsc import PcscTransport
from openmyna.pki import Jpki

#: pcscd and its vpcd readers are the machine's: one worker runs these (tests/conftest.py).
pytestmark = pytest.mark.pcsc

AUTH_TOKEN = "JPKI (User Authentication PIN)"
SIGN_TOKEN = "JPKI (Digital Signature PIN)"


@dataclass(frozen=True)
class IssuedCard:
    """The card as pcscd sees it, and what the issuer knows about it."""

    card: VirtualCard
    reader: str
    port: int
    auth_cert: x509.Certificate
    sign_cert: x509.Certificate
    auth_ca: x509.Certificate
    sign_ca: x509.Certificate


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def issued(vpcd_slot: tuple[str, int], interop_jpki: Jpki) -> Iterator[IssuedCard]:
    """A JPKI-personalised card inserted in a vpcd reader for the whole module."""
    reader, port = vpcd_slot
    card = new_card()
    certs = issue_jpki(card, interop_jpki, serial=42)
    with card_in_reader(card, reader, port):
        yield IssuedCard(
            card, reader, port, certs.auth_cert, certs.sign_cert, certs.auth_ca, certs.sign_ca
        )


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a tool; on failure show its output (which holds no secrets of the suite)."""
    done = subprocess.run([str(a) for a in args], capture_output=True, timeout=60, check=False)
    if check and done.returncode != 0:
        pytest.fail(
            f"{args[0]} exited {done.returncode}:\n{done.stdout.decode(errors='replace')}\n"
            f"{done.stderr.decode(errors='replace')}"
        )
    return done


def pkcs15(
    issued: IssuedCard, *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """``pkcs15-tool`` on the card's reader."""
    return run("pkcs15-tool", "--reader", issued.reader, *args, check=check)


# --- the project's own client, over PC/SC -----------------------------------------------------


def test_card_client_over_pcsc(issued: IssuedCard) -> None:
    transport = open_transport("vpcd", port=issued.port, wait=5)
    assert isinstance(transport, PcscTransport)
    with CardClient(transport) as client:
        assert transport.atr == issued.card.atr
        assert client.is_my_number_card()
        assert _der(client.auth_certificate()) == _der(issued.auth_cert)
        assert client.certificate_der(CertSlot.AUTH_CA) == _der(issued.auth_ca)
        assert client.certificate_der(CertSlot.SIGN_CA) == _der(issued.sign_ca)
        with pytest.raises(SecurityNotSatisfied):
            client.certificate(CertSlot.SIGN)
        assert client.tries_left(PinRef.AUTH) == 3
        assert client.tries_left(PinRef.SIGN) == 5

        challenge = b"relying party challenge 7f3a"
        signature = client.sign(KeyRef.AUTH, AUTH_PIN, data=challenge)
        public = issued.auth_cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())

        assert _der(client.sign_certificate(SIGN_PASSWORD)) == _der(issued.sign_cert)
        document = "申請書".encode()
        signature = client.sign(KeyRef.SIGN, SIGN_PASSWORD, data=document)
        sign_public = issued.sign_cert.public_key()
        assert isinstance(sign_public, rsa.RSAPublicKey)
        sign_public.verify(signature, document, padding.PKCS1v15(), hashes.SHA256())


# --- OpenSC: pkcs15-tool ----------------------------------------------------------------------


@pytest.mark.usefixtures("opensc_tools")
def test_pkcs15_tool_lists_the_jpki_certificates(issued: IssuedCard) -> None:
    out = pkcs15(issued, "--list-certificates").stdout.decode()
    expected = {
        "User Authentication Certificate]": "01",
        "Digital Signature Certificate]": "02",
        "User Authentication Certificate CA]": "03",
        "Digital Signature Certificate CA]": "04",
    }
    blocks = out.split("X.509 Certificate [")[1:]
    assert {b.splitlines()[0] for b in blocks} == set(expected)
    for block in blocks:
        label = block.splitlines()[0]
        assert label in expected, label
        assert f"ID             : {expected[label]}" in block
    sign_block = next(b for b in blocks if b.startswith("Digital Signature Certificate]"))
    assert "private" in sign_block


@pytest.mark.usefixtures("opensc_tools")
@pytest.mark.parametrize(
    ("cert_id", "which"), [("01", "auth_cert"), ("03", "auth_ca"), ("04", "sign_ca")]
)
def test_pkcs15_tool_reads_the_certificates(issued: IssuedCard, cert_id: str, which: str) -> None:
    pem = pkcs15(issued, "--read-certificate", cert_id).stdout
    assert _der(x509.load_pem_x509_certificate(pem)) == _der(getattr(issued, which))


@pytest.mark.usefixtures("opensc_tools")
def test_pkcs15_tool_reads_the_signature_certificate_only_with_the_password(
    issued: IssuedCard,
) -> None:
    refused = pkcs15(issued, "--read-certificate", "02", check=False)
    assert refused.returncode != 0
    assert b"BEGIN CERTIFICATE" not in refused.stdout
    pem = pkcs15(
        issued, "--verify-pin", "--auth-id", "02", "--pin", SIGN_PASSWORD,
        "--read-certificate", "02",
    ).stdout  # fmt: skip
    assert _der(x509.load_pem_x509_certificate(pem)) == _der(issued.sign_cert)


@pytest.mark.usefixtures("opensc_tools")
def test_pkcs15_tool_shows_the_pin_counters(issued: IssuedCard) -> None:
    out = pkcs15(issued, "--list-pins").stdout.decode()
    assert "User Authentication PIN" in out
    assert "Digital Signature PIN" in out
    assert "Tries left     : 3" in out
    assert "Tries left     : 5" in out


# --- OpenSC: the PKCS#11 module ---------------------------------------------------------------


def _pkcs11_sign(
    module: Path, tmp_path: Path, *, token: str, pin: str, key_id: str, mechanism: str,
    data: bytes, check: bool = True,
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:  # fmt: skip
    source = tmp_path / "in.bin"
    target = tmp_path / "sig.bin"
    source.write_bytes(data)
    done = run(
        "pkcs11-tool", "--module", module, "--token-label", token, "--login", "--pin", pin,
        "--sign", "--mechanism", mechanism, "--id", key_id,
        "--input-file", source, "--output-file", target,
        check=check,
    )  # fmt: skip
    return done, target.read_bytes() if target.exists() else b""


def test_pkcs11_tool_signs_with_the_auth_key(
    opensc_tools: Path, issued: IssuedCard, tmp_path: Path
) -> None:
    message = b"login challenge 2026-04-01 nonce 5d1c"
    _, signature = _pkcs11_sign(
        opensc_tools, tmp_path, token=AUTH_TOKEN, pin=AUTH_PIN, key_id="01",
        mechanism="SHA256-RSA-PKCS", data=message,
    )  # fmt: skip
    assert len(signature) == 256
    public = issued.auth_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())

    # RSA-PKCS over a DigestInfo made by the caller: the card pads and signs it as given, and
    # PKCS#1 v1.5 is deterministic, so the signature is the same.
    digest_info = (
        bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(message).digest()
    )
    _, raw = _pkcs11_sign(
        opensc_tools, tmp_path, token=AUTH_TOKEN, pin=AUTH_PIN, key_id="01",
        mechanism="RSA-PKCS", data=digest_info,
    )  # fmt: skip
    assert raw == signature


def test_pkcs11_tool_signs_with_the_signature_key(
    opensc_tools: Path, issued: IssuedCard, tmp_path: Path
) -> None:
    document = "電子申請 (e-application)".encode()
    _, signature = _pkcs11_sign(
        opensc_tools, tmp_path, token=SIGN_TOKEN, pin=SIGN_PASSWORD, key_id="02",
        mechanism="SHA256-RSA-PKCS", data=document,
    )  # fmt: skip
    public = issued.sign_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, document, padding.PKCS1v15(), hashes.SHA256())


def test_pkcs11_wrong_pin_spends_a_try(
    opensc_tools: Path, issued: IssuedCard, tmp_path: Path
) -> None:
    done, signature = _pkcs11_sign(
        opensc_tools, tmp_path, token=AUTH_TOKEN, pin="9999", key_id="01",
        mechanism="SHA256-RSA-PKCS", data=b"x", check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert b"CKR_PIN_INCORRECT" in done.stdout + done.stderr
    assert signature == b""
    assert "Tries left     : 2" in pkcs15(issued, "--list-pins").stdout.decode()
    # The right PIN refills the counter (and leaves the card as the other tests expect).
    _pkcs11_sign(
        opensc_tools, tmp_path, token=AUTH_TOKEN, pin=AUTH_PIN, key_id="01",
        mechanism="SHA256-RSA-PKCS", data=b"x",
    )  # fmt: skip
    assert "Tries left     : 2" not in pkcs15(issued, "--list-pins").stdout.decode()


# --- openssl ----------------------------------------------------------------------------------


def test_openssl_verifies_the_certificates_read_through_opensc(
    opensc_tools: Path, issued: IssuedCard, tmp_path: Path
) -> None:
    files = {}
    for cert_id in ("01", "03", "04"):
        files[cert_id] = tmp_path / f"{cert_id}.pem"
        files[cert_id].write_bytes(pkcs15(issued, "--read-certificate", cert_id).stdout)
    sign_pem = tmp_path / "02.pem"
    sign_pem.write_bytes(_pem(issued.sign_cert))
    issuer_auth_ca = tmp_path / "issuer-auth-ca.pem"
    issuer_auth_ca.write_bytes(_pem(issued.auth_ca))

    ok = run("openssl", "verify", "-CAfile", files["03"], files["01"]).stdout
    assert ok.strip().endswith(b": OK")
    # Against the CA certificate the issuer publishes, not only the copy on the card.
    run("openssl", "verify", "-CAfile", issuer_auth_ca, files["01"])
    run("openssl", "verify", "-CAfile", files["04"], sign_pem)
    # The other CA does not vouch for it.
    wrong = run("openssl", "verify", "-CAfile", files["04"], files["01"], check=False)
    assert wrong.returncode != 0
