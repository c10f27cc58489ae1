"""``POST /api/ekyc/verifications``: a customer's signature accepted, and every refusal by code."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from ekyc_helpers import (
    ADDRESS,
    BORN,
    Registered,
    b64,
    challenge,
    cms_by,
    holder,
    post_cms,
    post_raw,
    raw_by,
    register,
)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmyna.card import KeyRef
from openmyna.clock import FixedClock
from openmyna.ekyc import EkycPlatform
from openmyna.ekyc.tables import EKYC_BODY, EKYC_KIND
from openmyna.pki import CertKind, RevocationChecker, SignCertItems, Verifier
from openmyna.pki.profiles import ca_certificate, end_entity_certificate
from openmyna.platform import Platform
from openmyna.store import open_store
from openmyna.web import create_app

PROBLEM = "application/problem+json"


def _refused(response: object, status: int, code: str) -> None:
    r = response
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    assert r.json()["title"] == code  # type: ignore[attr-defined]


def test_a_cms_signature_gives_the_certificate_its_status_and_the_4_items(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who = holder(platform)
    data = challenge()
    answer = post_cms(client, business, cms_by(platform, who.card, data), data)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] == "accepted"
    assert answer.headers["cache-control"] == "no-store"
    assert body["items"] == {
        "name": "山田 花子",
        "name_substitute": "山田 花子",
        "address": ADDRESS,
        "address_substitute": ADDRESS,
        "date_of_birth": BORN.isoformat(),
        "sex": 2,
    }
    assert body["status"]["state"] == "good"
    assert body["status"]["source"] == "ocsp"
    assert body["status"]["checked_at"] == platform.clock.now().isoformat()
    assert body["certificate"]["kind"] == "sign"
    assert int(body["certificate"]["serial"], 16) > 0
    assert body["reference"].startswith("ekyc-")
    assert body["signing_time"] == platform.clock.now().isoformat()


def test_a_raw_signature_with_its_certificate_is_accepted(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who = holder(platform)
    data = challenge()
    cert, signature = raw_by(who.card, data)
    answer = post_raw(client, business, cert, data, signature)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"]["name"] == "山田 花子"
    assert answer.json()["signing_time"] is None


def test_forged_signatures_are_refused(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who = holder(platform)
    data = challenge()
    cert, signature = raw_by(who.card, data)
    _refused(
        post_raw(client, business, cert, data + b"!", signature), 422, "BAD_CHALLENGE_SIGNATURE"
    )
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    _refused(post_raw(client, business, cert, data, flipped), 422, "BAD_CHALLENGE_SIGNATURE")
    cms = cms_by(platform, who.card, data)
    _refused(post_cms(client, business, cms, b"other data"), 422, "CMS_DIGEST_MISMATCH")
    # Another person's certificate beside this person's signature.
    other = holder(platform, "佐藤", "次郎")
    other_cert, _ = raw_by(other.card, data)
    _refused(
        post_raw(client, business, other_cert, data, signature), 422, "BAD_CHALLENGE_SIGNATURE"
    )


def _counterfeit(now: dt.datetime, *, same_name: bool) -> tuple[bytes, rsa.RSAPrivateKey]:
    """A signature certificate from a CA that is not the JPKI's (its name copied, or not)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ee_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kind = CertKind.SIGN if same_name else CertKind.AUTH
    fake_ca = ca_certificate(kind, ca_key, 7, now - dt.timedelta(days=1))
    if not same_name:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Not JPKI")])
        fake_ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_key.public_key())
            .serial_number(8)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, SHA256())
        )
    items = SignCertItems("山田 花子", "山田 花子", 2, BORN, ADDRESS, ADDRESS)
    cert = end_entity_certificate(
        CertKind.SIGN,
        public_key=ee_key.public_key(),
        serial=0x1234,
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=365),
        ca_cert=fake_ca,
        ca_key=ca_key,
        base_url="http://127.0.0.1:8000",
        items=items,
    )
    return cert.public_bytes(serialization.Encoding.DER), ee_key


def test_a_certificate_not_from_the_jpki_is_refused(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    data = challenge()
    now = platform.clock.now()
    forged, key = _counterfeit(now, same_name=True)
    signature = key.sign(data, padding.PKCS1v15(), SHA256())
    _refused(post_raw(client, business, forged, data, signature), 422, "CERT_FORGED")
    other, key = _counterfeit(now, same_name=False)
    signature = key.sign(data, padding.PKCS1v15(), SHA256())
    _refused(post_raw(client, business, other, data, signature), 422, "UNKNOWN_ISSUER")


def test_the_authentication_certificate_is_not_a_signature_certificate(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who = holder(platform)
    data = challenge()
    cert, signature = raw_by(who.card, data, KeyRef.AUTH)
    _refused(post_raw(client, business, cert, data, signature), 422, "WRONG_CA")


def test_revoked_and_suspended_certificates_are_refused_at_the_time_of_use(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who, other = holder(platform), holder(platform, "佐藤", "次郎")
    data = challenge()
    cert, signature = raw_by(who.card, data)
    assert post_raw(client, business, cert, data, signature).status_code == 200
    from cryptography import x509

    serial = x509.load_der_x509_certificate(cert).serial_number
    assert platform.jpki.revoke(serial)  # the real issuer: the OCSP responder says revoked
    _refused(post_raw(client, business, cert, data, signature), 422, "CERT_REVOKED")
    cms = cms_by(platform, who.card, data)
    _refused(post_cms(client, business, cms, data), 422, "CERT_REVOKED")

    other_cert, other_sig = raw_by(other.card, data)
    other_serial = x509.load_der_x509_certificate(other_cert).serial_number
    assert platform.jpki.suspend(other_serial)
    _refused(post_raw(client, business, other_cert, data, other_sig), 422, "CERT_SUSPENDED")


def test_an_expired_certificate_is_refused(
    platform: Platform, client: TestClient, business: Registered, clock: FixedClock
) -> None:
    who = holder(platform)
    data = challenge()
    cert, signature = raw_by(who.card, data)
    from cryptography import x509

    clock.set(x509.load_der_x509_certificate(cert).not_valid_after_utc + dt.timedelta(seconds=1))
    _refused(post_raw(client, business, cert, data, signature), 422, "CERT_EXPIRED")


def test_unknown_revoked_and_suspended_business_keys_are_refused(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    who = holder(platform)
    data = challenge()
    cms = cms_by(platform, who.card, data)
    body = {"cms": b64(cms), "data": b64(data)}
    url = "/api/ekyc/verifications"
    none = client.post(url, json=body)
    _refused(none, 401, "EKYC_BAD_API_KEY")
    assert none.headers["www-authenticate"].startswith("Bearer")
    for bad in (
        "Bearer nonsense",
        f"Basic {business.key.key}",
        f"Bearer {business.key.key[:-1]}x",
        "Bearer ekyc_000000000000_" + "A" * 43,
    ):
        _refused(
            client.post(url, json=body, headers={"Authorization": bad}), 401, "EKYC_BAD_API_KEY"
        )
    ekyc = platform.builder.ekyc()
    spare = ekyc.add_key(business.business.business_id)
    ekyc.revoke_key(business.key.key_id)
    _refused(post_cms(client, business, cms, data), 401, "EKYC_BAD_API_KEY")
    fresh = Registered(business.business, spare)
    assert post_cms(client, fresh, cms, data).status_code == 200
    ekyc.suspend(business.business.business_id)
    _refused(post_cms(client, fresh, cms, data), 403, "EKYC_BUSINESS_SUSPENDED")
    [last, *_] = ekyc.audit(business.business.business_id)
    assert (last.action, last.result, last.billed) == ("verify", "EKYC_BUSINESS_SUSPENDED", False)
    ekyc.resume(business.business.business_id)
    assert post_cms(client, fresh, cms, data).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"data": "AAAA"}, "INVALID_INPUT"),  # neither form
        ({"data": "AAAA", "cms": "AAAA", "signature": "AAAA"}, "INVALID_INPUT"),  # both
        ({"data": "AAAA", "certificate": "AAAA"}, "INVALID_INPUT"),  # half the raw form
        ({"data": "AAAA", "cms": "AAAA", "extra": 1}, "INVALID_INPUT"),
        ({"data": "A" * 90_000, "cms": "AAAA"}, "INVALID_INPUT"),  # oversized data
        ({"data": "AAAA", "cms": "A" * 30_000}, "INVALID_INPUT"),  # oversized CMS
        ({"data": "not base64!", "cms": "AAAA"}, "EKYC_BAD_INPUT"),
        ({"data": "AAAA", "cms": "MIIBAA=="}, "CMS_MALFORMED"),
        ({"data": "AAAA", "cms": b64(b"\x30\x03\x02\x01\x01")}, "CMS_MALFORMED"),
        ({"data": "AAAA", "certificate": b64(b"x" * 300), "signature": "AAAA"}, "EKYC_BAD_INPUT"),
    ],
)
def test_malformed_and_oversized_input_is_refused(
    client: TestClient, business: Registered, body: dict[str, object], code: str
) -> None:
    answer = client.post("/api/ekyc/verifications", json=body, headers=business.headers)
    _refused(answer, 400, code)


def test_a_malformed_certificate_is_refused_and_recorded(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    answer = post_raw(client, business, b"\x30" * 300, b"data", b"\x00" * 256)
    _refused(answer, 422, "CERT_MALFORMED")
    [last, *_] = platform.builder.ekyc().audit(business.business.business_id)
    assert (last.result, last.cert_serial, last.billed) == ("CERT_MALFORMED", None, False)
    not_json = client.post(
        "/api/ekyc/verifications",
        content=b"{",
        headers={**business.headers, "content-type": "application/json"},
    )
    _refused(not_json, 400, "INVALID_INPUT")


def test_the_api_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/ekyc/verifications" in paths
    post = paths["/api/ekyc/verifications"]["post"]
    assert {"400", "401", "403", "422", "503"} <= set(post["responses"])
    assert "/api/ekyc/audit" in paths
    assert "/api/ekyc/usage" in paths


def test_a_second_business_is_unaffected_by_the_first_ones_suspension(
    platform: Platform, client: TestClient, business: Registered
) -> None:
    other = register(platform, "あおば通信")
    platform.builder.ekyc().suspend(business.business.business_id)
    who = holder(platform)
    data = challenge()
    assert post_cms(client, other, cms_by(platform, who.card, data), data).status_code == 200
    [entry, *_] = platform.builder.ekyc().audit(other.business.business_id)
    assert entry.result == "accepted"


def test_no_trustworthy_status_is_refused_not_guessed(platform: Platform) -> None:
    """The OCSP responder does not answer: STATUS_UNKNOWN (503), recorded, not billed."""

    def unreachable(_url: str, _request: bytes) -> bytes:
        raise OSError("the OCSP responder does not answer")

    jpki = platform.jpki
    verifier = Verifier(
        {k: jpki.ca_certificate(k) for k in CertKind},
        platform.clock,
        revocation=RevocationChecker(platform.clock, ocsp_fetch=unreachable),
    )
    store = open_store(platform.settings, EKYC_KIND, EKYC_BODY)
    try:
        ekyc = EkycPlatform(store, platform.clock, verifier)
        platform.builder.provide("ekyc", ekyc)
        bank = register(platform)
        who = holder(platform)
        data = challenge()
        with TestClient(create_app(platform), base_url="http://127.0.0.1") as client:
            answer = post_cms(client, bank, cms_by(platform, who.card, data), data)
        _refused(answer, 503, "STATUS_UNKNOWN")
        [entry, *_] = ekyc.audit(bank.business.business_id)
        assert (entry.result, entry.cert_status, entry.billed) == (
            "STATUS_UNKNOWN",
            "unknown",
            False,
        )
    finally:
        store.close()


_B64 = st.binary(max_size=600).map(lambda raw: base64.b64encode(raw).decode("ascii"))
_VALUE = st.one_of(_B64, st.text(max_size=40), st.integers(), st.none(), st.lists(st.none()))
_BODIES = st.dictionaries(
    st.sampled_from(["data", "cms", "certificate", "signature", "other"]), _VALUE, max_size=4
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_BODIES)
def test_any_body_is_answered_without_a_server_error_and_as_a_problem(
    client: TestClient, business: Registered, body: dict[str, object]
) -> None:
    answer = client.post("/api/ekyc/verifications", json=body, headers=business.headers)
    assert answer.status_code in (400, 422)
    assert answer.headers["content-type"].startswith(PROBLEM)
