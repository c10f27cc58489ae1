"""The back office's page of the provider's clients: administrators only, CSRF, escaping."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))

from portal_helpers import MAEBASHI, holder, login

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.identity.oidc.clients import secret_hash
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import Role
from openmyna.web import create_app


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    built = Platform(Builder(settings, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _as(platform: Platform, browser: TestClient, role: Role | None) -> None:
    account = login(platform, browser, holder(platform).card)
    if role is not None:
        platform.backoffice.staff.grant(MAEBASHI, account.account_id, role, "職員", by=None)


def test_only_administrators_see_the_page(platform: Platform, browser: TestClient) -> None:
    assert browser.get("/oidc/clients", follow_redirects=False).status_code == 303  # login
    _as(platform, browser, Role.SUPERVISOR)
    refused = browser.get("/oidc/clients")
    assert refused.status_code == 403
    assert "OIDC_ADMINISTRATOR_REQUIRED" in refused.text


def test_an_administrator_registers_and_removes_a_client(
    platform: Platform, browser: TestClient
) -> None:
    _as(platform, browser, Role.ADMINISTRATOR)
    page = browser.get("/oidc/clients")
    assert page.status_code == 200
    form = {
        "csrf_token": _csrf(page.text),
        "name": "<script>alert(1)</script>銀行",
        "contact": "support@bank.example",
        "redirect_uris": "https://bank.example/cb\n",
        "scope": ["openid", "name"],
        "auth": "client_secret_basic",
    }
    done = browser.post("/oidc/clients", data=form)
    assert done.status_code == 200
    assert "<script>alert(1)</script>" not in done.text
    assert "&lt;script&gt;" in done.text
    secret = re.search(r"<dt>client_secret</dt><dd><code>([^<]+)</code>", done.text)
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", done.text)
    assert secret is not None
    assert client_id is not None
    stored = platform.oidc.clients.get(client_id.group(1))
    assert stored.secret_sha256 == secret_hash(secret.group(1))
    assert stored.scopes == ("openid", "name")
    # Shown once: the list does not show it again.
    assert secret.group(1) not in browser.get("/oidc/clients").text
    # Without the CSRF token nothing is removed.
    refused = browser.post(f"/oidc/clients/{client_id.group(1)}/remove", data={})
    assert refused.status_code == 403
    removed = browser.post(
        f"/oidc/clients/{client_id.group(1)}/remove",
        data={"csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert platform.oidc.clients.find(client_id.group(1)) is None


def test_a_bad_registration_is_shown_with_its_code(platform: Platform, browser: TestClient) -> None:
    _as(platform, browser, Role.ADMINISTRATOR)
    page = browser.get("/oidc/clients")
    bad = browser.post(
        "/oidc/clients",
        data={
            "csrf_token": _csrf(page.text),
            "name": "x",
            "redirect_uris": "http://bank.example/cb",
            "auth": "client_secret_basic",
        },
    )
    assert bad.status_code == 400
    assert "OIDC_CLIENT_INVALID" in bad.text
    assert platform.oidc.clients.list() == []
