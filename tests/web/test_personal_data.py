"""No personal data without the operator token; none in URLs; every error is problem+json.

docs/security.md: the resident routes want ``Authorization: Bearer <operator token>``; the
public routes (landing page, health, municipality counts, the allow-list, agencies, OCSP,
CRLs) want nothing and serve nothing about a person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.applications import Starlette

from openmyna import problems
from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import seed_town
from openmyna.guard import OperatorGuard, is_guarded, unguarded_routes
from openmyna.platform import Platform
from openmyna.registry import api as registry_api
from openmyna.web import PERSONAL_DATA_PREFIXES, PUBLIC_PATHS, UnguardedRoute, create_app

TOKEN = "operator-token-for-the-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIST = "/api/registry/102016/residents"
LOOKUP = "/api/registry/102016/residents/lookup"


def _platform(data_dir: Path, token: str | None) -> Platform:
    settings = Settings(
        data_dir=data_dir, operator_token=SecretStr(token) if token is not None else None
    )
    return Platform(Builder(settings, FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))))


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded data dir (SQLite), shared by the tests of this module."""
    data_dir = tmp_path_factory.mktemp("personal")
    platform = _platform(data_dir, None)
    try:
        seed_town(platform.registries, 60, municipalities=("102016",))
    finally:
        platform.close()
    return data_dir


@pytest.fixture(scope="module")
def served(installation: Path) -> Iterator[tuple[Platform, TestClient]]:
    platform = _platform(installation, TOKEN)
    try:
        with TestClient(create_app(platform)) as client:
            yield platform, client
    finally:
        platform.close()


@pytest.fixture(scope="module")
def client(served: tuple[Platform, TestClient]) -> TestClient:
    return served[1]


@pytest.fixture(scope="module")
def person(served: tuple[Platform, TestClient]) -> Any:
    return served[0].registries.municipality("102016").list_residents(limit=1)[0]


def _problem(reply: Any, status: int, title: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == problems.PROBLEM_JSON
    body: dict[str, Any] = reply.json()
    assert body["title"] == title
    return body


def _lookup(client: TestClient, code: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(LOOKUP, json={"resident_code": code}, headers=headers or {})


# --- the operator token ----------------------------------------------------------------


def test_resident_routes_without_the_token_get_401_with_a_bearer_challenge(
    client: TestClient, person: Any
) -> None:
    for reply in (client.get(LIST), _lookup(client, person.resident_code)):
        _problem(reply, 401, "OPERATOR_REQUIRED")
        assert reply.headers["www-authenticate"] == 'Bearer realm="openmyna"'
        assert person.family_name not in reply.text
        assert person.resident_code not in reply.text


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", "Bearer " + TOKEN[:-1], f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_a_wrong_token_gets_401(client: TestClient, person: Any, authorization: str) -> None:
    for reply in (
        client.get(LIST, headers={"Authorization": authorization}),
        _lookup(client, person.resident_code, {"Authorization": authorization}),
    ):
        _problem(reply, 401, "OPERATOR_REQUIRED")
        assert reply.headers["www-authenticate"].startswith("Bearer ")
        assert TOKEN not in reply.text
        assert person.family_name not in reply.text


def test_a_presented_but_wrong_token_is_named_invalid(client: TestClient) -> None:
    reply = client.get(LIST, headers={"Authorization": "Bearer not-the-operator-token"})
    assert reply.headers["www-authenticate"] == 'Bearer realm="openmyna", error="invalid_token"'


def test_the_token_opens_the_resident_routes_and_nothing_is_cached(
    client: TestClient, person: Any
) -> None:
    listed = client.get(LIST, headers=AUTH)
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    one = _lookup(client, person.resident_code, {"Authorization": f"bearer {TOKEN}"})
    assert one.status_code == 200  # the scheme is case-insensitive (RFC 9110 §11.1)
    assert one.json()["name"] == f"{person.family_name} {person.given_name}"
    assert one.headers["cache-control"] == "no-store"


def test_with_no_token_configured_resident_routes_are_refused(installation: Path) -> None:
    platform = _platform(installation, None)
    try:
        with TestClient(create_app(platform)) as client:
            _problem(client.get(LIST, headers=AUTH), 503, "NO_OPERATOR_CONFIGURED")
            assert client.get("/api/registry/municipalities").status_code == 200
    finally:
        platform.close()


def test_public_routes_need_no_token_and_show_no_person(client: TestClient, person: Any) -> None:
    for path in (
        "/",
        "/platform",
        "/healthz",
        "/api/registry/municipalities",
        "/api/network/agencies",
        "/api/network/allow-list",
        "/crl/auth",
        "/crl/sign",
        "/openapi.json",
    ):
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert f"{person.family_name} {person.given_name}" not in reply.text, path
        assert person.resident_code not in reply.text, path
    assert "60" in client.get("/platform").text  # the platform page shows the count


def test_every_route_under_a_personal_data_prefix_carries_the_guard(
    served: tuple[Platform, TestClient],
) -> None:
    app = create_app(served[0])
    personal = [
        r
        for r in app.routes
        if getattr(r, "path", "").startswith(PERSONAL_DATA_PREFIXES) and r.path not in PUBLIC_PATHS  # type: ignore[attr-defined]
    ]
    assert {(r.path, tuple(sorted(r.methods))) for r in personal} == {  # type: ignore[attr-defined]
        (LIST.replace("102016", "{lg_code}"), ("GET",)),
        (LOOKUP.replace("102016", "{lg_code}"), ("POST",)),
    }
    assert all(is_guarded(r) for r in personal)
    # and only those: a guarded route elsewhere would mean a prefix is missing here
    assert [r for r in app.routes if is_guarded(r)] == personal
    assert unguarded_routes(app.routes, PERSONAL_DATA_PREFIXES, PUBLIC_PATHS) == []


def test_a_mount_is_reported_where_it_could_serve_personal_data() -> None:
    from starlette.routing import Mount

    empty = Starlette()
    mounts = [Mount(p, app=empty) for p in ("/static", "/api", "/api/registry/files", "")]
    assert unguarded_routes(mounts, PERSONAL_DATA_PREFIXES, PUBLIC_PATHS) == [
        "/api",
        "/api/registry/files",
        "<Mount>",
    ]


def test_an_app_with_an_unguarded_personal_route_is_not_built(
    served: tuple[Platform, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = registry_api.routes

    def leaky(registries: Any, operator: OperatorGuard) -> list[Any]:
        extra = FastAPI()

        @extra.get("/api/registry/{lg_code}/addresses")
        def addresses(lg_code: str) -> list[str]:
            return []

        return [*real(registries, operator), *extra.router.routes[-1:]]

    monkeypatch.setattr(registry_api, "routes", leaky)
    with pytest.raises(UnguardedRoute) as refused:
        create_app(served[0])
    assert refused.value.context["paths"] == "/api/registry/{lg_code}/addresses"


# --- no resident code or individual number in a URL ----------------------------------

_IDENTIFIERS = {"resident_code", "individual_number", "number", "code"}


def test_no_route_takes_a_resident_code_or_number_in_its_url(
    served: tuple[Platform, TestClient],
) -> None:
    app = create_app(served[0])
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        in_url = {p.name for p in route.dependant.path_params + route.dependant.query_params}
        for dep in route.dependant.dependencies:
            in_url |= {p.name for p in dep.path_params + dep.query_params}
        assert not in_url & _IDENTIFIERS, route.path


def test_the_old_resident_url_is_gone(client: TestClient, person: Any) -> None:
    reply = client.get(f"{LIST}/{person.resident_code}", headers=AUTH)
    _problem(reply, 404, "NOT_FOUND")
    assert person.family_name not in reply.text


# --- every error is problem+json, and never echoes the input -------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", str(10**30)),
        ("offset", str(2**63)),
        ("offset", "-1"),
        ("offset", "ten"),
        ("offset", "1e3"),
        ("limit", str(10**30)),
        ("limit", "0"),
        ("limit", "-5"),
        ("limit", "501"),
        ("limit", "many"),
        ("status", "everyone"),
    ],
)
def test_query_numbers_have_bounds(client: TestClient, name: str, value: str) -> None:
    reply = client.get(LIST, params={name: value}, headers=AUTH)
    body = _problem(reply, 400, "INVALID_INPUT")  # not a 500 with a traceback
    assert body["fields"] == f"query.{name}"
    assert set(body) == {"type", "title", "status", "detail", "fields"}  # no "input"
    assert value not in body["detail"]


def test_the_bounds_themselves_are_served(client: TestClient) -> None:
    edge = client.get(
        LIST,
        params={"offset": registry_api.MAX_OFFSET, "limit": registry_api.MAX_LIMIT},
        headers=AUTH,
    )
    assert edge.status_code == 200
    assert edge.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"resident_code": "山田太郎です"},
        {"resident_code": "123456789018"},
        {"resident_code": 12345678901},
        {"resident_code": "12345678901", "name": "山田太郎"},
        {},
    ],
)
def test_an_invalid_lookup_says_where_never_what(client: TestClient, body: dict[str, Any]) -> None:
    reply = client.post(LOOKUP, json=body, headers=AUTH)
    _problem(reply, 400, "INVALID_INPUT")
    for value in body.values():
        assert str(value) not in reply.text


def test_a_lookup_that_is_not_json_is_a_problem(client: TestClient) -> None:
    reply = client.post(
        LOOKUP, content=b"resident_code=123", headers={**AUTH, "content-type": "application/json"}
    )
    _problem(reply, 400, "INVALID_INPUT")
    assert "resident_code=123" not in reply.text


def test_unknown_routes_and_methods_of_the_app_are_problems(client: TestClient) -> None:
    _problem(client.get("/nowhere"), 404, "NOT_FOUND")
    _problem(client.get("/api/registry"), 404, "NOT_FOUND")
    _problem(client.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")
    _problem(client.get(LOOKUP, headers=AUTH), 405, "METHOD_NOT_ALLOWED")
    _problem(client.put("/ocsp"), 405, "METHOD_NOT_ALLOWED")


def test_the_standalone_pki_server_answers_problems_too(installation: Path) -> None:
    from openmyna.pki.cli import standalone_app

    with (
        Builder(
            Settings(data_dir=installation), FixedClock(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
        ) as parts,
        TestClient(standalone_app(parts.jpki(), None)) as client,
    ):
        _problem(client.get("/nowhere"), 404, "NOT_FOUND")
        _problem(client.put("/ocsp"), 405, "METHOD_NOT_ALLOWED")
        _problem(client.get("/crl/other"), 404, "NOT_FOUND")
