"""The one ASGI app: health, the registry API (numbers masked), problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import seed_town
from openmyna.platform import Platform
from openmyna.web import create_app

TOKEN = "operator-token-for-the-tests"
#: The operator's header: the registry's resident routes want it (docs/security.md).
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    settings = settings.model_copy(update={"operator_token": SecretStr(TOKEN)})
    p = Platform(Builder(settings, clock))
    seed_town(p.registries, 300, municipalities=("102016", "452025"))
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


def test_health_names_the_backends(client: TestClient, settings: Settings) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if settings.database_url else "sqlite")
    assert body["municipalities"] == 2
    assert body["network"]["hub"] == "idle"  # opened on the first exchange only
    assert body["network"]["allow_list"]["entries"] > 0


def test_index_lists_endpoints(client: TestClient) -> None:
    page = client.get("/platform")
    assert page.status_code == 200
    assert "/api/registry/municipalities" in page.text
    assert "/api/network/allow-list" in page.text


def test_municipalities_with_counts(client: TestClient) -> None:
    rows = client.get("/api/registry/municipalities").json()
    assert {r["lg_code"] for r in rows} == {"102016", "452025"}
    assert sum(r["residents"] for r in rows) == 300
    assert {r["name"] for r in rows} == {"前橋市", "都城市"}


def test_residents_are_listed_with_numbers_masked(client: TestClient, platform: Platform) -> None:
    reg = platform.registries.municipality("102016")
    page = client.get("/api/registry/102016/residents", params={"limit": 10}, headers=AUTH)
    body = page.json()
    assert body["total"] == reg.count()
    assert len(body["items"]) == min(10, body["total"])
    for item in body["items"]:
        number = reg.get(item["resident_code"]).individual_number
        assert item["individual_number"] == f"**** **** {number[-4:]}"
        one = client.post(
            "/api/registry/102016/residents/lookup",
            json={"resident_code": item["resident_code"]},
            headers=AUTH,
        )
        assert one.json()["resident_code"] == item["resident_code"]
        assert number not in one.text
        assert number not in page.text


def test_unknown_municipality_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/registry/130001/residents", headers=AUTH)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "MUNICIPALITY_NOT_FOUND"


def test_bad_lg_code_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/registry/102017/residents", headers=AUTH)
    assert r.status_code == 400
    assert r.json()["title"] == "INVALID_LG_CODE"


def test_unknown_resident_is_404(client: TestClient) -> None:
    r = client.post(
        "/api/registry/102016/residents/lookup", json={"resident_code": "00000000000"}, headers=AUTH
    )
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_ocsp_and_crl_are_served_by_the_one_app(client: TestClient, platform: Platform) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509 import ocsp

    from openmyna.pki import CertKind, RevocationReason

    resident = platform.registries.municipality("102016").list_residents(limit=1)[0]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = platform.jpki.issue_auth_cert(
        key.public_key(),
        resident_code=resident.resident_code,
        date_of_birth=resident.date_of_birth,
        card_expiry=None,
    )
    issuer = platform.jpki.ca_certificate(CertKind.AUTH)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )

    def status() -> ocsp.OCSPCertStatus:
        r = client.post(
            "/ocsp", content=request, headers={"content-type": "application/ocsp-request"}
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/ocsp-response"
        answer = ocsp.load_der_ocsp_response(r.content)
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert answer.serial_number == cert.serial_number
        return answer.certificate_status

    assert status() == ocsp.OCSPCertStatus.GOOD
    assert platform.jpki.revoke(cert.serial_number, RevocationReason.KEY_COMPROMISE)
    platform.sync_once()
    assert status() == ocsp.OCSPCertStatus.REVOKED

    crl = x509.load_der_x509_crl(client.get("/crl/auth").content)
    assert crl.issuer == issuer.subject
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def test_network_agencies_are_public(client: TestClient) -> None:
    rows = client.get("/api/network/agencies").json()
    by_id = {r["id"]: r for r in rows}
    assert by_id["lg-102016"] == {
        "id": "lg-102016",
        "kind": "municipality",
        "name": "群馬県前橋市",
        "lg_code": "102016",
    }
    assert by_id["nenkin"]["kind"] == "pension_service"
    assert by_id["nenkin"]["lg_code"] is None
    prefectures = client.get("/api/network/agencies", params={"kind": "prefecture"}).json()
    assert len(prefectures) == 47
    assert {r["kind"] for r in prefectures} == {"prefecture"}
    bad = client.get("/api/network/agencies", params={"kind": "bank"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_network_allow_list_is_public(client: TestClient) -> None:
    from openmyna.network.allow_list import default_allow_list

    body = client.get("/api/network/allow-list").json()
    allowed = default_allow_list()
    assert (body["version"], body["digest"]) == (allowed.version, allowed.digest)
    assert len(body["entries"]) == len(allowed)
    child = client.get("/api/network/allow-list", params={"affair": "child_allowance"}).json()
    assert set(child["affairs"]) == {"child_allowance"}
    assert child["affairs"]["child_allowance"]["statute"] == "児童手当法"
    tuples = {(e["requester"], e["provider"], e["item"]) for e in child["entries"]}
    assert ("municipality", "municipality", "local_tax") in tuples
    assert ("municipality", "municipality", "resident_registry") in tuples
    assert ("municipality", "municipality", "welfare") not in tuples
    assert all(e["basis"].startswith("番号法") for e in child["entries"])
    missing = client.get("/api/network/allow-list", params={"affair": "no_such_affair"})
    assert missing.status_code == 404
    assert missing.json()["title"] == "NOT_FOUND"
