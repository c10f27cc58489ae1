"""The one ASGI app: health, the registry API (numbers masked), problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import seed_town
from openmyna.platform import Platform
from openmyna.web import create_app


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    p = Platform(settings, clock)
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


def test_index_lists_endpoints(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "/api/registry/municipalities" in page.text


def test_municipalities_with_counts(client: TestClient) -> None:
    rows = client.get("/api/registry/municipalities").json()
    assert {r["lg_code"] for r in rows} == {"102016", "452025"}
    assert sum(r["residents"] for r in rows) == 300
    assert {r["name"] for r in rows} == {"前橋市", "都城市"}


def test_residents_are_listed_with_numbers_masked(client: TestClient, platform: Platform) -> None:
    reg = platform.registries.municipality("102016")
    page = client.get("/api/registry/102016/residents", params={"limit": 10})
    body = page.json()
    assert body["total"] == reg.count()
    assert len(body["items"]) == min(10, body["total"])
    for item in body["items"]:
        number = reg.get(item["resident_code"]).individual_number
        assert item["individual_number"] == f"**** **** {number[-4:]}"
        one = client.get(f"/api/registry/102016/residents/{item['resident_code']}")
        assert one.json()["resident_code"] == item["resident_code"]
        assert number not in one.text
        assert number not in page.text


def test_unknown_municipality_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/registry/130001/residents")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "MUNICIPALITY_NOT_FOUND"


def test_bad_lg_code_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/registry/102017/residents")
    assert r.status_code == 400
    assert r.json()["title"] == "INVALID_LG_CODE"


def test_unknown_resident_is_404(client: TestClient) -> None:
    r = client.get("/api/registry/102016/residents/00000000000")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
