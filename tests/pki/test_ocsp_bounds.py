"""OCSP requests for several certificates (RFC 6960 §4.1.1), nonce bounds (RFC 9654 §2.1), and
the responder's bounds: junk never grows memory, never evicts real answers, never adds refresh
work, and costs a limited number of signatures.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
import tracemalloc
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from pki_helpers import issue_both, make_jpki, resident_code

from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.pki import CertKind, Jpki, RevocationReason
from openmyna.pki import der as d
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.ocsp import OcspResponder
from openmyna.pki.ocsp_wire import MAX_NONCE_OCTETS, NONCE_OID, parse_request
from openmyna.pki.status import ocsp_request

SHA1_OID = "1.3.14.3.2.26"
Ref = tuple[bytes, bytes, int]  # (issuerNameHash, issuerKeyHash, serial), SHA-1 CertID


def _request(refs: list[Ref], nonce: bytes | None = None, *, bare: bool = False) -> bytes:
    """A DER OCSPRequest for several certificates (RFC 6960 §4.1.1), as openssl writes one."""
    entries = [
        d.sequence(
            d.sequence(
                d.sequence(d.oid(SHA1_OID), d.null()),
                d.octet_string(name_hash),
                d.octet_string(key_hash),
                d.integer(serial),
            )
        )
        for name_hash, key_hash, serial in refs
    ]
    tbs = [d.sequence(*entries)]
    if nonce is not None:
        value = nonce if bare else d.octet_string(nonce)
        extension = d.sequence(d.oid(NONCE_OID), d.octet_string(value))
        tbs.append(d.tlv(d.explicit(2), d.sequence(extension)))
    return d.sequence(d.sequence(*tbs))


def _ref(jpki: Jpki, kind: CertKind, serial: int) -> Ref:
    name_hash, key_hash = jpki.authority(kind).hashes["sha1"]
    return name_hash, key_hash, serial


def _certs(jpki: Jpki, key: rsa.RSAPrivateKey, n: int) -> list[x509.Certificate]:
    out = []
    for i in range(n):
        auth, _ = issue_both(jpki, key, resident_code(40 + i))
        assert isinstance(auth, x509.Certificate)
        out.append(auth)
    return out


def _status(der_bytes: bytes) -> ocsp.OCSPResponseStatus:
    return ocsp.load_der_ocsp_response(der_bytes).response_status


def test_several_certificates_get_one_signed_response_with_each_status(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    jpki = sqlite_jpki
    good, revoked, held = _certs(jpki, ee_key, 3)
    jpki.revoke(revoked.serial_number, RevocationReason.KEY_COMPROMISE)
    jpki.suspend(held.serial_number)
    serials = [good.serial_number, revoked.serial_number, 424242, held.serial_number]
    request = _request([_ref(jpki, CertKind.AUTH, s) for s in serials], os.urandom(32))
    answer = jpki.respond_ocsp(request)
    resp = ocsp.load_der_ocsp_response(answer)
    assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    singles = list(resp.responses)
    assert [s.serial_number for s in singles] == serials  # in the request's order
    assert [s.certificate_status for s in singles] == [
        ocsp.OCSPCertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN,
        ocsp.OCSPCertStatus.REVOKED,
    ]
    now = clock.now().replace(microsecond=0)
    assert singles[1].revocation_reason is x509.ReasonFlags.key_compromise
    assert singles[1].revocation_time_utc == now
    assert singles[3].revocation_reason is x509.ReasonFlags.certificate_hold
    assert singles[0].revocation_reason is None
    ca = jpki.authority(CertKind.AUTH)
    for single in singles:
        assert single.hash_algorithm.name == "sha1"
        assert (single.issuer_name_hash, single.issuer_key_hash) == ca.hashes["sha1"]
        assert single.this_update_utc == now
        assert single.next_update_utc == now + dt.timedelta(hours=1)
    assert resp.produced_at_utc == now
    # signed by the auth CA's delegated responder, which the response carries
    responder = jpki.responder_certificate(CertKind.AUTH)
    assert resp.certificates == [responder]
    key_id = x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    assert resp.responder_key_hash == key_id
    assert resp.signature_hash_algorithm is not None
    public = responder.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())

    # asked again: from the cache, no new signature; a status change is answered at once
    signed = jpki.ocsp.signed
    assert jpki.ocsp.cached(request) == answer
    assert jpki.respond_ocsp(request) == answer
    assert jpki.ocsp.signed == signed
    jpki.resume(held.serial_number)
    assert jpki.ocsp.cached(request) is None
    again = ocsp.load_der_ocsp_response(jpki.respond_ocsp(request))
    assert [s.certificate_status for s in again.responses][3] is ocsp.OCSPCertStatus.GOOD


def test_several_certificates_bad_mixes_and_nonce_bounds(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey
) -> None:
    jpki = sqlite_jpki
    auth, sig = issue_both(jpki, ee_key, resident_code(50))
    one = _ref(jpki, CertKind.AUTH, auth.serial_number)
    other = _ref(jpki, CertKind.SIGN, sig.serial_number)
    ok = ocsp.OCSPResponseStatus.SUCCESSFUL
    # both CAs in one request: one signer cannot answer for both (RFC 6960 §4.2.2.2)
    assert (
        _status(jpki.respond_ocsp(_request([one, other]))) is ocsp.OCSPResponseStatus.UNAUTHORIZED
    )
    stranger = (b"\x01" * 20, b"\x02" * 20, 7)
    assert _status(jpki.respond_ocsp(_request([one, stranger]))) is (
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    )
    malformed = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert _status(jpki.respond_ocsp(_request([]))) is malformed
    # nonces of 1..128 octets (RFC 9654 §2.1), in the DER form or bare (RFC 2560 clients)
    for refs in ([one], [one, one]):
        for size in (1, 16, 32, MAX_NONCE_OCTETS):
            assert _status(jpki.respond_ocsp(_request(refs, os.urandom(size)))) is ok
        assert _status(jpki.respond_ocsp(_request(refs, os.urandom(16), bare=True))) is ok
        for size in (0, MAX_NONCE_OCTETS + 1, 8000):
            assert _status(jpki.respond_ocsp(_request(refs, os.urandom(size)))) is malformed
    # cryptography's own request with a too long nonce, too
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        auth, jpki.ca_certificate(CertKind.AUTH), hashes.SHA1()
    )
    long_nonce = builder.add_extension(x509.OCSPNonce(os.urandom(129)), critical=False)
    der_bytes = long_nonce.build().public_bytes(serialization.Encoding.DER)
    assert _status(jpki.respond_ocsp(der_bytes)) is malformed
    # the DER reader is strict: a length in more octets than it needs is refused
    good = _request([one, one])
    assert good[:2] == b"\x30\x81"
    padded = b"\x30\x82\x00" + good[2:]
    assert _status(jpki.respond_ocsp(padded)) is malformed
    assert _status(jpki.respond_ocsp(good + b"\x00")) is malformed  # trailing bytes
    assert len(parse_request(good)) == 2


def test_junk_requests_stay_bounded_and_never_touch_real_answers(
    tmp_path: Path,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
    ee_key: rsa.RSAPrivateKey,
) -> None:
    config = PkiSettings(ocsp_on_demand_cache_size=40, ocsp_on_demand_rate=5.0)
    jpki = make_jpki(Settings(data_dir=tmp_path), clock, authorities, key_template, config)
    try:
        real = _certs(jpki, ee_key, 3)
        responder = jpki.ocsp
        real_request = ocsp_request(real[0], jpki.ca_certificate(CertKind.AUTH))
        presigned = responder.cached(real_request)
        assert presigned is not None
        signed_before = responder.signed
        bounds = responder.cache_bounds()
        assert bounds == {"certificates": 200_000, "unknown": 40, "several": 40}

        gc.collect()
        tracemalloc.start()
        start = time.monotonic()
        before = tracemalloc.get_traced_memory()[0]
        tried = 0
        for i in range(1500):
            serial = int.from_bytes(os.urandom(19), "big")
            nonce = os.urandom(MAX_NONCE_OCTETS)
            refs = [_ref(jpki, CertKind.AUTH, serial)]
            if i % 3 == 0:  # some ask about several junk serials and a real one
                refs += [
                    _ref(jpki, CertKind.AUTH, serial + 1),
                    _ref(jpki, CertKind.AUTH, real[1].serial_number),
                ]
            answer = jpki.respond_ocsp(_request(refs, nonce))
            assert _status(answer) in (
                ocsp.OCSPResponseStatus.SUCCESSFUL,
                ocsp.OCSPResponseStatus.TRY_LATER,
            )
            tried += 1
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        elapsed = time.monotonic() - start

        sizes = responder.cache_sizes()
        assert sizes["unknown"] <= 40
        assert sizes["several"] <= 40
        assert sizes["certificates"] == 6  # only the real (auth and sign) certificates' answers
        # no request bytes kept: 1,500 requests of ~200 bytes, and their answers, would be more
        assert grown < 400_000, grown
        # at most the budget's burst plus its rate over the time taken was signed for junk
        junk_signed = responder.signed - signed_before
        assert junk_signed <= 5 + 5 * elapsed + 1, (junk_signed, elapsed)
        assert responder.refused >= tried - junk_signed
        # the real certificate's pre-signed answer is still served, with no new signature
        signed = responder.signed
        assert responder.cached(real_request) == presigned
        assert jpki.respond_ocsp(real_request) == presigned
        assert responder.signed == signed
        # a refresh signs the real certificates' answers and nothing else
        clock.advance(dt.timedelta(minutes=31))
        assert jpki.maintain()["refreshed"] == 6
        assert responder.signed == signed + 6
        assert responder.cache_sizes() == {"certificates": 6, "unknown": 0, "several": 0}
    finally:
        jpki.close()


def test_the_on_demand_budget_refills_and_never_holds_back_real_certificates(
    sqlite_jpki: Jpki, ee_key: rsa.RSAPrivateKey, clock: FixedClock
) -> None:
    jpki = sqlite_jpki
    (real,) = _certs(jpki, ee_key, 1)
    now = [100.0]
    responder = OcspResponder(
        {k: jpki.authority(k) for k in CertKind},
        jpki._lookup,
        jpki._changes,
        clock,
        validity=dt.timedelta(hours=1),
        refresh=dt.timedelta(minutes=30),
        poll_interval=0.5,
        max_entries=10,
        on_demand_entries=2,
        on_demand_rate=2.0,
        monotonic=lambda: now[0],
    )
    try_later = ocsp.OCSPResponseStatus.TRY_LATER

    def junk(serial: int) -> ocsp.OCSPResponseStatus:
        return _status(responder.respond(_request([_ref(jpki, CertKind.AUTH, serial)])))

    assert [junk(s) for s in (1, 2, 3)][:2] == [ocsp.OCSPResponseStatus.SUCCESSFUL] * 2
    assert junk(4) is try_later  # two a second, spent
    assert responder.cache_sizes()["unknown"] == 2
    assert junk(1) is ocsp.OCSPResponseStatus.SUCCESSFUL  # asked again: from the small cache
    # the real certificate is answered (and cached) whatever the budget says
    request = ocsp_request(real, jpki.ca_certificate(CertKind.AUTH))
    assert _status(responder.respond(request)) is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert responder.cached(request) is not None
    assert _status(responder.respond(_request([_ref(jpki, CertKind.AUTH, 9)] * 2))) is try_later
    now[0] += 1.0  # a second later: two more
    assert junk(5) is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert junk(6) is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert junk(7) is try_later
    assert responder.cache_sizes() == {"certificates": 1, "unknown": 2, "several": 0}


def test_an_unknown_answer_is_forgotten_when_the_serial_is_issued(
    tmp_path: Path,
    clock: FixedClock,
    authorities: dict[CertKind, CertificateAuthority],
    key_template: Path,
    ee_key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = PkiSettings(presign_on_issue=False)  # nothing signed at issue to overwrite it
    jpki = make_jpki(Settings(data_dir=tmp_path), clock, authorities, key_template, config)
    serial = x509.random_serial_number()
    request = _request([_ref(jpki, CertKind.AUTH, serial)])
    first = ocsp.load_der_ocsp_response(jpki.respond_ocsp(request))
    assert first.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    monkeypatch.setattr(x509, "random_serial_number", lambda: serial)
    cert = jpki.issue_auth_cert(
        ee_key.public_key(),
        resident_code=resident_code(60),
        date_of_birth=dt.date(1990, 1, 1),
        card_expiry=None,
    )
    assert cert.serial_number == serial
    now_known = ocsp.load_der_ocsp_response(jpki.respond_ocsp(request))
    assert now_known.certificate_status is ocsp.OCSPCertStatus.GOOD
    jpki.close()
