"""Detached CMS signatures (``openmyna.pki.cms``): openssl verifies what is built, the parser
reads it back, and anything outside the profile or over other content is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import der, issue_both, pem, resident_code, sign

from openmyna.clock import FixedClock
from openmyna.pki import BadChallengeSignature, CertKind, Jpki
from openmyna.pki.cms import (
    MAX_CMS_BYTES,
    build_detached,
    parse_detached,
    signed_attributes,
)
from openmyna.pki.errors import CmsDigestMismatch, CmsMalformed
from openmyna.pki.verify import Verifier

OPENSSL = shutil.which("openssl")
CONTENT = '{"answers":{"a":"申請 <b>&"},"format":"openmyna-eapply/1"}'.encode()


def _signed(jpki: Jpki, key: rsa.RSAPrivateKey, clock: FixedClock) -> tuple[bytes, bytes]:
    _, cert = issue_both(jpki, key, resident_code(7))
    signature = build_detached(
        CONTENT, der(cert), lambda data: sign(key, data), signing_time=clock.now()
    )
    return signature, pem(jpki.ca_certificate(CertKind.SIGN))


def _openssl_verify(
    tmp_path: Path, signature: bytes, content: bytes, ca_pem: bytes, at: dt.datetime
) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    (tmp_path / "sig.p7s").write_bytes(signature)
    (tmp_path / "content").write_bytes(content)
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    return subprocess.run(
        [
            OPENSSL, "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp_path / "sig.p7s"), "-content", str(tmp_path / "content"),
            "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any",
            "-attime", str(int(at.timestamp())), "-out", str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
def test_openssl_cms_verify_accepts_the_detached_signature(
    tmp_path: Path, sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    signature, ca = _signed(sqlite_jpki, ee_key, clock)
    done = _openssl_verify(tmp_path, signature, CONTENT, ca, clock.now())
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    assert (tmp_path / "out").read_bytes() == CONTENT
    # The same signature over one changed byte: openssl refuses it.
    changed = CONTENT.replace(b"a", b"b", 1)
    refused = _openssl_verify(tmp_path, signature, changed, ca, clock.now())
    assert refused.returncode != 0
    # And against the other JPKI CA (the user-authentication one): no chain.
    auth_ca = pem(sqlite_jpki.ca_certificate(CertKind.AUTH))
    assert _openssl_verify(tmp_path, signature, CONTENT, auth_ca, clock.now()).returncode != 0


def test_the_parser_reads_the_profile_and_the_verifier_accepts_it(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    signature, _ = _signed(sqlite_jpki, ee_key, clock)
    parsed = parse_detached(signature)
    assert parsed.message_digest == hashlib.sha256(CONTENT).digest()
    assert parsed.signing_time == clock.now()
    assert parsed.signed_attributes == signed_attributes(CONTENT, clock.now())
    assert parsed.signed_attributes[0] == 0x31  # signed as a SET OF (RFC 5652 §5.4)
    parsed.check_content(CONTENT)
    with pytest.raises(CmsDigestMismatch):
        parsed.check_content(CONTENT + b" ")
    verifier = Verifier(
        {k: sqlite_jpki.ca_certificate(k) for k in CertKind}, clock, revocation=None
    )
    result = verifier.verify_signature(
        parsed.certificate_der, parsed.signed_attributes, parsed.signature
    )
    assert result.serial == parsed.serial
    with pytest.raises(BadChallengeSignature):
        verifier.verify_signature(parsed.certificate_der, parsed.signed_attributes, bytes(256))


def _reencoded(signature: bytes, change: object) -> bytes:
    info = cms.ContentInfo.load(signature)
    change(info["content"])  # type: ignore[operator]
    return bytes(info.dump(force=True))


def _with_content(signed: cms.SignedData) -> None:
    signed["encap_content_info"] = {"content_type": "data", "content": CONTENT}


def _without_certificates(signed: cms.SignedData) -> None:
    signed["certificates"] = None


def _two_signers(signed: cms.SignedData) -> None:
    signer = signed["signer_infos"][0]
    signed["signer_infos"] = [signer, signer]


def _without_signing_time(signed: cms.SignedData) -> None:
    signer = signed["signer_infos"][0]
    attrs = [a for a in signer["signed_attrs"] if a["type"].native != "signing_time"]
    signer["signed_attrs"] = attrs


def _sha1_digest(signed: cms.SignedData) -> None:
    signed["digest_algorithms"] = [{"algorithm": "sha1"}]


def _subject_key_identifier(signed: cms.SignedData) -> None:
    signer = signed["signer_infos"][0]
    signer["sid"] = cms.SignerIdentifier({"subject_key_identifier": b"\x01" * 20})


@pytest.mark.parametrize(
    "change",
    [
        _with_content,
        _without_certificates,
        _two_signers,
        _without_signing_time,
        _sha1_digest,
        _subject_key_identifier,
    ],
)
def test_anything_outside_the_profile_is_malformed(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock, change: object
) -> None:
    signature, _ = _signed(sqlite_jpki, ee_key, clock)
    with pytest.raises(CmsMalformed):
        parse_detached(_reencoded(signature, change))


@pytest.mark.parametrize(
    "junk", [b"", b"\x30\x03\x02\x01\x01", b"not der at all", b"\x30" * (MAX_CMS_BYTES + 1)]
)
def test_junk_is_malformed(junk: bytes) -> None:
    with pytest.raises(CmsMalformed):
        parse_detached(junk)


def test_signing_times_after_2049_are_generalizedtime(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    later = dt.datetime(2051, 1, 1, tzinfo=dt.UTC)
    _, cert = issue_both(sqlite_jpki, ee_key, resident_code(8))
    signature = build_detached(CONTENT, der(cert), lambda d: sign(ee_key, d), signing_time=later)
    assert parse_detached(signature).signing_time == later
    attrs = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signed_attrs"]
    [when] = [a for a in attrs if a["type"].native == "signing_time"]
    assert when["values"][0].name == "generalized_time"
