"""The relying parties' verifier: every refusal has its own stable code."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from pki_helpers import der, in_process_verifier, issue_both, pem, resident_code, sign

from openmyna.clock import FixedClock
from openmyna.pki import (
    POLICY_AUTH,
    POLICY_SIGN,
    CertKind,
    Jpki,
    RevocationChecker,
    RevocationReason,
    VerificationFailed,
    Verifier,
)
from openmyna.pki.profiles import ca_name

CHALLENGE = b"challenge-0123456789abcdef"


@pytest.fixture
def certs(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> tuple[x509.Certificate, x509.Certificate]:
    auth, sig = issue_both(sqlite_jpki, ee_key, resident_code(1))
    assert isinstance(auth, x509.Certificate)
    assert isinstance(sig, x509.Certificate)
    return auth, sig


def _code(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(VerificationFailed) as err:
        call(*args, **kwargs)  # type: ignore[operator]
    return err.value.code


def _custom(
    jpki: Jpki,
    key: rsa.RSAPrivateKey,
    *,
    policy: x509.ObjectIdentifier | None = POLICY_AUTH,
    usage: dict[str, bool] | None = None,
    ca: bool = False,
    signer: rsa.RSAPrivateKey | None = None,
    issuer: x509.Name | None = None,
) -> x509.Certificate:
    """An auth-like certificate made with the real CA key (or ``signer``), one thing changed."""
    authority = jpki.authority(CertKind.AUTH)
    now = jpki.clock.now()
    flags = {
        "digital_signature": True,
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "key_cert_sign": False,
        "crl_sign": False,
        "encipher_only": False,
        "decipher_only": False,
        **(usage or {}),
    }
    ski = authority.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "X")]))
        .issuer_name(issuer or authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.KeyUsage(**flags), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    )
    if policy is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), critical=False
        )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(signer or authority.key, hashes.SHA256())


def test_a_valid_login_gives_a_stable_subject_id(
    sqlite_jpki: Jpki,
    certs: tuple[x509.Certificate, x509.Certificate],
    ee_key: rsa.RSAPrivateKey,
    clock: FixedClock,
) -> None:
    auth, _ = certs
    verifier = in_process_verifier(sqlite_jpki, clock)
    first = verifier.verify_auth(der(auth), CHALLENGE, sign(ee_key, CHALLENGE))
    again = verifier.verify_auth(pem(auth), b"other", sign(ee_key, b"other"))
    assert first.subject_id == again.subject_id
    assert first.subject_id.endswith(f":{auth.serial_number:x}")
    assert first.subject_id.startswith("jpki:")
    assert resident_code(1) not in first.subject_id
    assert first.status_source == "ocsp"
    assert first.not_after == auth.not_valid_after_utc
    # the same answer without the chain cache, and for a parsed certificate
    plain = in_process_verifier(sqlite_jpki, clock, cache_chains=False)
    assert plain.verify_auth(auth, CHALLENGE, sign(ee_key, CHALLENGE)) == first


def test_a_document_signature_gives_the_4_items(
    sqlite_jpki: Jpki,
    certs: tuple[x509.Certificate, x509.Certificate],
    ee_key: rsa.RSAPrivateKey,
    clock: FixedClock,
) -> None:
    _, sig = certs
    doc = "申請書".encode() * 100
    result = in_process_verifier(sqlite_jpki, clock).verify_signature(
        der(sig), doc, sign(ee_key, doc)
    )
    assert result.items.name == "山田 太郎"
    assert result.items.date_of_birth == dt.date(1980, 5, 17)
    assert result.serial == sig.serial_number


def test_every_refusal_has_its_own_code(
    sqlite_jpki: Jpki,
    certs: tuple[x509.Certificate, x509.Certificate],
    ee_key: rsa.RSAPrivateKey,
    ee_keys: list[rsa.RSAPrivateKey],
    clock: FixedClock,
) -> None:
    jpki = sqlite_jpki
    auth, sig = certs
    good_sig = sign(ee_key, CHALLENGE)
    v = in_process_verifier(jpki, clock)
    codes: dict[str, str] = {}

    def login(cert: object, signature: bytes = good_sig, **kw: object) -> None:
        v.verify_auth(cert, CHALLENGE, signature, **kw)  # type: ignore[arg-type]

    # forged: the CA signature altered; the body altered; signed by another key, same name
    tampered = bytearray(der(auth))
    tampered[-5] ^= 0x01
    codes["signature altered"] = _code(login, bytes(tampered))
    body = der(auth).replace(f"{auth.serial_number:X}".encode()[:8], b"00000000", 1)
    assert body != der(auth)
    codes["body altered"] = _code(login, body)
    impostor = _custom(jpki, ee_key, signer=ee_keys[1])
    codes["impostor CA key"] = _code(login, impostor)
    late = impostor.not_valid_after_utc + dt.timedelta(days=1)
    codes["impostor, also expired"] = _code(login, der(impostor), at=late)
    # a CA that is not JPKI, and the other JPKI CA
    stranger = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Some CA")])
    codes["unknown issuer"] = _code(login, _custom(jpki, ee_key, issuer=stranger))
    codes["signature cert used to log in"] = _code(login, sig)
    # time
    codes["before validity"] = _code(
        login, auth, at=auth.not_valid_before_utc - dt.timedelta(seconds=1)
    )
    codes["after validity"] = _code(
        login, auth, at=auth.not_valid_after_utc + dt.timedelta(seconds=1)
    )
    # profile
    codes["signature policy"] = _code(login, _custom(jpki, ee_key, policy=POLICY_SIGN))
    codes["no policy"] = _code(login, _custom(jpki, ee_key, policy=None))
    codes["no digitalSignature"] = _code(
        login, _custom(jpki, ee_key, usage={"digital_signature": False, "key_encipherment": True})
    )
    codes["end entity claiming to be a CA"] = _code(login, _custom(jpki, ee_key, ca=True))
    # the challenge
    codes["challenge signed by another key"] = _code(login, auth, sign(ee_keys[1], CHALLENGE))
    codes["garbage"] = _code(login, b"not a certificate")

    assert codes == {
        "signature altered": "CERT_FORGED",
        "body altered": "CERT_FORGED",
        "impostor CA key": "CERT_FORGED",
        "impostor, also expired": "CERT_FORGED",
        "unknown issuer": "UNKNOWN_ISSUER",
        "signature cert used to log in": "WRONG_CA",
        "before validity": "CERT_NOT_YET_VALID",
        "after validity": "CERT_EXPIRED",
        "signature policy": "WRONG_POLICY",
        "no policy": "WRONG_POLICY",
        "no digitalSignature": "WRONG_KEY_USAGE",
        "end entity claiming to be a CA": "CHAIN_INVALID",
        "challenge signed by another key": "BAD_CHALLENGE_SIGNATURE",
        "garbage": "CERT_MALFORMED",
    }
    # an auth certificate offered as a signature certificate: the other CA again
    doc_code = _code(v.verify_signature, auth, b"doc", sign(ee_key, b"doc"))
    assert doc_code == "WRONG_CA"


def test_expired_by_the_clock(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, _ = issue_both(sqlite_jpki, ee_key, resident_code(2), card_expiry=clock.today())
    v = in_process_verifier(sqlite_jpki, clock)
    v.verify_auth(auth, CHALLENGE, sign(ee_key, CHALLENGE))
    clock.advance(dt.timedelta(days=1))
    assert _code(v.verify_auth, der(auth), CHALLENGE, sign(ee_key, CHALLENGE)) == "CERT_EXPIRED"


def test_revoked_and_suspended_with_cached_status(
    sqlite_jpki: Jpki,
    certs: tuple[x509.Certificate, x509.Certificate],
    ee_key: rsa.RSAPrivateKey,
    clock: FixedClock,
) -> None:
    auth, sig = certs
    checker = RevocationChecker(
        clock, ocsp_fetch=sqlite_jpki.ocsp_fetcher(), crl_fetch=sqlite_jpki.crl_fetcher()
    )
    anchors = {k: sqlite_jpki.ca_certificate(k) for k in CertKind}
    v = Verifier(anchors, clock, revocation=checker)
    challenge_sig = sign(ee_key, CHALLENGE)
    for _ in range(5):
        v.verify_auth(der(auth), CHALLENGE, challenge_sig)
    assert checker.fetches == {"ocsp": 1, "crl": 0}  # status cached between logins
    sqlite_jpki.suspend(auth.serial_number)
    v.verify_auth(der(auth), CHALLENGE, challenge_sig)  # still cached (up to 5 minutes)
    clock.advance(dt.timedelta(minutes=5, seconds=1))
    assert _code(v.verify_auth, der(auth), CHALLENGE, challenge_sig) == "CERT_SUSPENDED"
    sqlite_jpki.revoke(auth.serial_number, RevocationReason.KEY_COMPROMISE)
    checker.forget()
    assert _code(v.verify_auth, der(auth), CHALLENGE, challenge_sig) == "CERT_REVOKED"
    # a document signed before a revocation still verifies at its signing time
    signed_at = clock.now()
    clock.advance(dt.timedelta(minutes=1))
    sqlite_jpki.revoke(sig.serial_number, RevocationReason.AFFILIATION_CHANGED)
    doc_sig = sign(ee_key, b"doc")
    assert v.verify_signature(sig, b"doc", doc_sig, at=signed_at).serial == sig.serial_number
    assert _code(v.verify_signature, sig, b"doc", doc_sig) == "CERT_REVOKED"


def test_crl_fallback_and_unknown_status(
    sqlite_jpki: Jpki,
    certs: tuple[x509.Certificate, x509.Certificate],
    ee_key: rsa.RSAPrivateKey,
    clock: FixedClock,
) -> None:
    auth, _ = certs
    anchors = {k: sqlite_jpki.ca_certificate(k) for k in CertKind}

    def down(*_args: object) -> bytes:
        raise OSError("connection refused")

    crl_only = RevocationChecker(clock, ocsp_fetch=down, crl_fetch=sqlite_jpki.crl_fetcher())
    v = Verifier(anchors, clock, revocation=crl_only)
    result = v.verify_auth(auth, CHALLENGE, sign(ee_key, CHALLENGE))
    assert result.status_source == "crl"
    sqlite_jpki.suspend(auth.serial_number)
    sqlite_jpki.publish_crls()
    crl_only.forget()
    assert _code(v.verify_auth, auth, CHALLENGE, sign(ee_key, CHALLENGE)) == "CERT_SUSPENDED"

    nothing = RevocationChecker(clock, ocsp_fetch=down, crl_fetch=down)
    blind = Verifier(anchors, clock, revocation=nothing)
    assert _code(blind.verify_auth, auth, CHALLENGE, sign(ee_key, CHALLENGE)) == "STATUS_UNKNOWN"

    # a CRL or OCSP answer signed by someone else is not believed
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = clock.now()
    fake_crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name(CertKind.AUTH))
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
        .sign(other, hashes.SHA256())
    )
    forged = RevocationChecker(
        clock, ocsp_fetch=lambda _u, _r: b"\x30\x03\x0a\x01\x00", crl_fetch=lambda _u: der(fake_crl)
    )
    fooled = Verifier(anchors, clock, revocation=forged)
    assert _code(fooled.verify_auth, auth, CHALLENGE, sign(ee_key, CHALLENGE)) == "STATUS_UNKNOWN"


def test_a_verifier_needs_both_anchors(sqlite_jpki: Jpki, clock: FixedClock) -> None:
    anchors = [sqlite_jpki.ca_certificate(k) for k in CertKind]
    Verifier(anchors, clock, revocation=None)
    with pytest.raises(ValueError, match="both"):
        Verifier(anchors[:1], clock, revocation=None)
