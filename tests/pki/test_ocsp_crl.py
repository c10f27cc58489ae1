"""The OCSP responder (pre-signed, refreshed, error statuses) and the CRLs, in process and HTTP."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pki_helpers import issue_both, make_jpki, resident_code

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.pki import CertKind, Jpki, RevocationReason, RevocationState
from openmyna.pki.api import routes
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.status import NoStatus, check_crl, ocsp_request, parse_ocsp_response


def _certs(jpki: Jpki, key: rsa.RSAPrivateKey, i: int) -> tuple[x509.Certificate, x509.Certificate]:
    auth, sig = issue_both(jpki, key, resident_code(i))
    assert isinstance(auth, x509.Certificate)
    assert isinstance(sig, x509.Certificate)
    return auth, sig


def _ask(jpki: Jpki, cert: x509.Certificate, kind: CertKind, now: dt.datetime) -> RevocationState:
    ca = jpki.ca_certificate(kind)
    der = jpki.respond_ocsp(ocsp_request(cert, ca))
    return parse_ocsp_response(der, cert, ca, now).state


def _status_of(response: bytes) -> ocsp.OCSPResponseStatus:
    return ocsp.load_der_ocsp_response(response).response_status


def test_good_suspended_revoked_and_unknown(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, sig = _certs(jpki, ee_key, 1)
    now = clock.now()
    assert _ask(jpki, auth, CertKind.AUTH, now) is RevocationState.GOOD
    jpki.suspend(auth.serial_number)
    assert _ask(jpki, auth, CertKind.AUTH, now) is RevocationState.SUSPENDED
    jpki.revoke(sig.serial_number, RevocationReason.AFFILIATION_CHANGED)
    ca = jpki.ca_certificate(CertKind.SIGN)
    resp = ocsp.load_der_ocsp_response(jpki.respond_ocsp(ocsp_request(sig, ca)))
    assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert resp.revocation_reason is x509.ReasonFlags.affiliation_changed
    assert resp.revocation_time_utc == now.replace(microsecond=0)
    assert resp.this_update_utc == now.replace(microsecond=0)
    assert resp.next_update_utc == now.replace(microsecond=0) + dt.timedelta(hours=1)
    assert resp.certificates == [jpki.responder_certificate(CertKind.SIGN)]
    # the auth certificate's serial asked about at the signature CA, and a serial never issued
    name_hash, key_hash = jpki.authority(CertKind.SIGN).hashes["sha1"]
    for serial in (auth.serial_number, 12345):
        wrong = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1())
            .build()
        )
        answer = ocsp.load_der_ocsp_response(
            jpki.respond_ocsp(wrong.public_bytes(serialization.Encoding.DER))
        )
        assert answer.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_responses_are_presigned_and_served_from_the_cache(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    jpki = sqlite_jpki
    auth, _ = _certs(jpki, ee_key, 2)
    signed_at_issue = jpki.ocsp.signed
    assert signed_at_issue == 2  # one per certificate, when issued
    request = ocsp_request(auth, jpki.ca_certificate(CertKind.AUTH))
    first = jpki.ocsp.cached(request)
    assert first is not None  # answerable without signing or a database read
    for _ in range(20):
        assert jpki.respond_ocsp(request) == first
    assert jpki.ocsp.signed == signed_at_issue
    # a status change re-signs at once
    jpki.revoke(auth.serial_number)
    assert jpki.ocsp.signed == signed_at_issue + 1
    revoked = jpki.ocsp.cached(request)
    assert revoked is not None
    assert revoked != first
    # refreshed before nextUpdate: after 30 minutes the response is signed again
    clock.advance(dt.timedelta(minutes=31))
    assert jpki.ocsp.cached(request) is None
    assert jpki.maintain()["refreshed"] >= 1
    again = ocsp.load_der_ocsp_response(jpki.ocsp.cached(request) or b"")
    assert again.this_update_utc == clock.now().replace(microsecond=0)


def test_other_hash_algorithms_are_answered_in_kind(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    auth, _ = _certs(sqlite_jpki, ee_key, 3)
    ca = sqlite_jpki.ca_certificate(CertKind.AUTH)
    for algorithm in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        req = ocsp.OCSPRequestBuilder().add_certificate(auth, ca, algorithm).build()
        resp = ocsp.load_der_ocsp_response(
            sqlite_jpki.respond_ocsp(req.public_bytes(serialization.Encoding.DER))
        )
        assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert resp.hash_algorithm.name == algorithm.name


def test_bad_requests_get_ocsp_error_statuses(sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey) -> None:
    auth, _ = _certs(sqlite_jpki, ee_key, 4)
    ca = sqlite_jpki.ca_certificate(CertKind.AUTH)
    malformed = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    for garbage in (b"", b"\x30\x03\x02\x01\x01", b"hello", b"\x30" * 9000):
        assert _status_of(sqlite_jpki.respond_ocsp(garbage)) is malformed
    good = ocsp_request(auth, ca)
    # the auth CA's name with the signature CA's key: no such issuer here
    mixed = ocsp.OCSPRequestBuilder().add_certificate(
        auth, sqlite_jpki.ca_certificate(CertKind.SIGN), hashes.SHA1()
    )
    answer = sqlite_jpki.respond_ocsp(mixed.build().public_bytes(serialization.Encoding.DER))
    assert _status_of(answer) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    # a request naming an issuer neither CA is: unauthorized
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Other CA")])
    now = dt.datetime.now(dt.UTC)
    stranger = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(stranger_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(stranger_key, hashes.SHA256())
    )
    req = ocsp.OCSPRequestBuilder().add_certificate(auth, stranger, hashes.SHA1()).build()
    answer = sqlite_jpki.respond_ocsp(req.public_bytes(serialization.Encoding.DER))
    assert _status_of(answer) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert _status_of(sqlite_jpki.respond_ocsp(good)) is ocsp.OCSPResponseStatus.SUCCESSFUL


def test_a_change_made_by_another_process_is_picked_up(
    settings: Settings,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
    ee_key: rsa.RSAPrivateKey,
) -> None:
    server = make_jpki(settings, clock, authorities, key_template)
    other = make_jpki(settings, clock, authorities, key_template)
    try:
        auth, _ = _certs(other, ee_key, 5)
        now = clock.now()
        assert _ask(server, auth, CertKind.AUTH, now) is RevocationState.GOOD
        other.revoke(auth.serial_number)
        assert server.ocsp.poll() == 1  # what the throttled poll on each request does
        assert _ask(server, auth, CertKind.AUTH, now) is RevocationState.REVOKED
    finally:
        server.close()
        other.close()


# --- CRLs ----------------------------------------------------------------------------------------


def test_crls_list_revoked_and_suspended_certificates(
    jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    a1, s1 = _certs(jpki, ee_key, 6)
    a2, s2 = _certs(jpki, ee_key, 7)
    first = jpki.publish_crls()
    assert {k: p.number for k, p in first.items()} == {CertKind.AUTH: 1, CertKind.SIGN: 1}
    assert len(list(first[CertKind.AUTH].load())) == 0
    jpki.revoke(s1.serial_number, RevocationReason.AFFILIATION_CHANGED)
    jpki.suspend(a2.serial_number)
    jpki.revoke(a1.serial_number)  # unspecified: no reason code in the entry
    clock.advance(dt.timedelta(minutes=1))
    assert jpki.maintain()["crls_published"] == 2  # the log moved: both CAs republish
    auth_crl, sign_crl = jpki.crl(CertKind.AUTH), jpki.crl(CertKind.SIGN)
    assert auth_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert auth_crl.is_signature_valid(jpki.ca_certificate(CertKind.AUTH).public_key())  # type: ignore[arg-type]
    assert sign_crl.is_signature_valid(jpki.ca_certificate(CertKind.SIGN).public_key())  # type: ignore[arg-type]
    assert auth_crl.issuer == jpki.ca_certificate(CertKind.AUTH).subject
    assert auth_crl.next_update_utc == auth_crl.last_update_utc + dt.timedelta(hours=24)
    entries = {e.serial_number: e for e in auth_crl}
    assert set(entries) == {a1.serial_number, a2.serial_number}
    hold = entries[a2.serial_number].extensions.get_extension_for_class(x509.CRLReason)
    assert hold.value.reason is x509.ReasonFlags.certificate_hold
    with pytest.raises(x509.ExtensionNotFound):
        entries[a1.serial_number].extensions.get_extension_for_class(x509.CRLReason)
    assert [e.serial_number for e in sign_crl] == [s1.serial_number]
    # the relying party's view of the same CRL
    now = clock.now()
    sign_ca = jpki.ca_certificate(CertKind.SIGN)
    der = jpki.published_crl(CertKind.SIGN).der
    assert check_crl(der, s1, sign_ca, now).state is RevocationState.REVOKED
    assert check_crl(der, s2, sign_ca, now).state is RevocationState.GOOD
    with pytest.raises(NoStatus):  # the auth CA's CRL is not the signature CA's
        check_crl(jpki.published_crl(CertKind.AUTH).der, s1, sign_ca, now)
    # nothing changed: no new CRL until the interval has passed
    assert jpki.maintain()["crls_published"] == 0
    clock.advance(dt.timedelta(hours=1))
    assert jpki.maintain()["crls_published"] == 2
    # resuming takes the entry out again
    jpki.resume(a2.serial_number)
    jpki.publish_crls()
    assert [e.serial_number for e in jpki.crl(CertKind.AUTH)] == [a1.serial_number]


def test_expired_certificates_leave_the_crl(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, _ = issue_both(sqlite_jpki, ee_key, resident_code(8), card_expiry=clock.today())
    assert isinstance(auth, x509.Certificate)
    sqlite_jpki.revoke(auth.serial_number)
    sqlite_jpki.publish_crls()
    assert len(list(sqlite_jpki.crl(CertKind.AUTH))) == 1
    clock.advance(dt.timedelta(days=2))
    sqlite_jpki.publish_crls()
    assert len(list(sqlite_jpki.crl(CertKind.AUTH))) == 0


# --- HTTP --------------------------------------------------------------------------------------


@pytest.fixture
def client(sqlite_jpki: Jpki) -> Iterator[TestClient]:
    app = FastAPI()
    app.router.routes.extend(routes(sqlite_jpki))
    with TestClient(app) as c:
        yield c


def test_http_post_get_and_crl_routes(
    client: TestClient, sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, _ = _certs(sqlite_jpki, ee_key, 9)
    ca = sqlite_jpki.ca_certificate(CertKind.AUTH)
    req = ocsp_request(auth, ca)
    posted = client.post("/ocsp", content=req, headers={"Content-Type": "application/ocsp-request"})
    assert posted.status_code == 200
    assert posted.headers["content-type"] == "application/ocsp-response"
    state = parse_ocsp_response(posted.content, auth, ca, clock.now()).state
    assert state is RevocationState.GOOD
    encoded = base64.b64encode(req).decode()
    for path in (encoded, encoded.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")):
        got = client.get(f"/ocsp/{path}")
        assert got.status_code == 200
        assert got.content == posted.content
    for bad in ("/ocsp", "/ocsp/!!notbase64!!", "/ocsp/aGVsbG8="):
        got = client.get(bad)
        assert got.status_code == 200
        assert _status_of(got.content) is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    big = client.post("/ocsp", content=b"\x30" * 10_000)
    assert _status_of(big.content) is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    crl = client.get("/crl/auth")
    assert crl.status_code == 200
    assert crl.headers["content-type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.content).issuer == ca.subject
    assert client.get("/crl/sign.crl").status_code == 200
    missing = client.get("/crl/other")
    assert missing.status_code == 404
    assert missing.json()["title"] == "NOT_FOUND"


def test_a_change_while_a_response_is_signed_is_not_overwritten(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    auth, _ = _certs(sqlite_jpki, ee_key, 10)
    ca = sqlite_jpki.ca_certificate(CertKind.AUTH)
    request = ocsp_request(auth, ca)
    responder = sqlite_jpki.ocsp
    responder.invalidate(auth.serial_number)
    read_status = responder._lookup
    raced: list[int] = []

    def racing_lookup(serial: int) -> object:
        record = read_status(serial)  # reads "good" ...
        if not raced:
            raced.append(serial)
            sqlite_jpki.revoke(serial)  # ... and the revocation commits (and is polled) meanwhile
        return record

    responder._lookup = racing_lookup  # type: ignore[assignment]
    stale = responder.respond(request)  # this request is answered with what it read
    assert parse_ocsp_response(stale, auth, ca, clock.now()).state is RevocationState.GOOD
    cached = responder.cached(request)  # but the cache keeps the revocation
    assert cached is not None
    assert parse_ocsp_response(cached, auth, ca, clock.now()).state is RevocationState.REVOKED
