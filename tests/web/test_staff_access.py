"""The registry's personal-data API for staff: a portal session with a role at the municipality
of the path (clerk or above) reads it, beside the operator token; nobody else does.

docs/security.md: ``GET /api/registry/{lg_code}/residents`` and ``POST …/residents/lookup``
take the operator's bearer token or a staff session; a clerk of 前橋市 reads 前橋市 and is
refused 神戸市; a session without a role is refused; a lookup by session needs its CSRF token.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from openmyna import problems
from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
from backoffice_helpers import KOBE, kobe_resident, staff
from portal_helpers import MAEBASHI, holder, login, resident

TOKEN = "operator-token-for-the-tests"


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    configured = settings.model_copy(update={"operator_token": SecretStr(TOKEN)})
    built = Platform(Builder(configured, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as c:
        yield c


def _list(lg_code: str) -> str:
    return f"/api/registry/{lg_code}/residents"


def _lookup(lg_code: str) -> str:
    return f"/api/registry/{lg_code}/residents/lookup"


def _problem(reply: object, status: int, title: str) -> None:
    assert getattr(reply, "status_code", None) == status, getattr(reply, "text", "")
    assert reply.headers["content-type"] == problems.PROBLEM_JSON  # type: ignore[attr-defined]
    assert reply.json()["title"] == title  # type: ignore[attr-defined]


def test_a_clerk_of_maebashi_reads_maebashi_not_kobe(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    here = resident(platform, "山田", "花子")
    there = kobe_resident(platform)
    listed = client.get(_list(MAEBASHI))
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "no-store"
    names = {item["name"] for item in listed.json()["items"]}
    assert "山田 花子" in names
    assert here.individual_number not in listed.text
    one = client.post(
        _lookup(MAEBASHI),
        json={"resident_code": here.resident_code},
        headers={"X-CSRF-Token": clerk.session.csrf_token},
    )
    assert one.status_code == 200, one.text
    assert one.json()["name"] == "山田 花子"
    for reply in (
        client.get(_list(KOBE)),
        client.post(
            _lookup(KOBE),
            json={"resident_code": there.resident_code},
            headers={"X-CSRF-Token": clerk.session.csrf_token},
        ),
    ):
        _problem(reply, 403, "STAFF_ROLE_REQUIRED")
        assert "田中" not in reply.text
        assert there.resident_code not in reply.text
    reads = [e for e in platform.backoffice.staff.entries(MAEBASHI) if e.action == "api.read"]
    assert [e.account_id for e in reads] == [clerk.member.account_id] * 2
    refused = platform.backoffice.staff.entries(KOBE)
    assert [e.outcome for e in refused] == ["STAFF_ROLE_REQUIRED"] * 2


def test_a_lookup_by_session_needs_its_csrf_token_and_this_site(
    client: TestClient, platform: Platform
) -> None:
    clerk = staff(platform, client, Role.CLERK)
    here = resident(platform)
    body = {"resident_code": here.resident_code}
    _problem(client.post(_lookup(MAEBASHI), json=body), 403, "CSRF_REFUSED")
    _problem(
        client.post(_lookup(MAEBASHI), json=body, headers={"X-CSRF-Token": "wrong"}),
        403,
        "CSRF_REFUSED",
    )
    _problem(
        client.post(
            _lookup(MAEBASHI),
            json=body,
            headers={"X-CSRF-Token": clerk.session.csrf_token, "Origin": "https://evil.example"},
        ),
        403,
        "CSRF_REFUSED",
    )


def test_a_session_without_a_role_is_refused_and_no_session_meets_the_bearer_challenge(
    client: TestClient, platform: Platform
) -> None:
    anonymous = TestClient(client.app, base_url="http://127.0.0.1")
    reply = anonymous.get(_list(MAEBASHI))
    _problem(reply, 401, "OPERATOR_REQUIRED")
    assert reply.headers["www-authenticate"] == 'Bearer realm="openmyna"'
    login(platform, client, holder(platform).card)  # a citizen, not staff
    _problem(client.get(_list(MAEBASHI)), 403, "STAFF_ROLE_REQUIRED")


def test_the_operator_token_still_opens_every_municipality(
    client: TestClient, platform: Platform
) -> None:
    resident(platform)
    kobe_resident(platform)
    operator = TestClient(client.app, base_url="http://127.0.0.1")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for lg_code in (MAEBASHI, KOBE):
        assert operator.get(_list(lg_code), headers=auth).status_code == 200
    # A bearer token is the operator's path even with a staff cookie: a wrong one is refused.
    staff(platform, client, Role.CLERK)
    wrong = client.get(_list(MAEBASHI), headers={"Authorization": "Bearer not-the-token"})
    _problem(wrong, 401, "OPERATOR_REQUIRED")
