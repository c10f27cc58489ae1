"""Helpers of the proxy tests (imported as a plain module): a principal, a proxy, a grant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi.testclient import TestClient
from portal_helpers import holder, login

from openmyna.platform import Platform
from openmyna.portal.accounts import Account
from openmyna.registry import Resident


def csrf(page_text: str) -> str:
    """The CSRF token of a page's first form."""
    return page_text.split('name="csrf_token" value="')[1].split('"')[0]


def invitation(page_text: str) -> str:
    """The invitation code a page shows once."""
    return page_text.split('class="invitation-code"><code>')[1].split("<")[0]


@dataclass
class Pair:
    """A principal and a proxy, each logged in with their own card in their own browser."""

    principal: TestClient
    principal_account: Account
    proxy: TestClient
    proxy_account: Account
    principal_resident: Resident
    proxy_resident: Resident


def pair(platform: Platform, client: TestClient) -> Pair:
    """山田花子 (the principal, on ``client``) and 佐藤一郎 (the proxy, another browser)."""
    mother = holder(platform)
    son = holder(platform, "佐藤", "一郎")
    principal_account = login(platform, client, mother.card)
    other = TestClient(client.app, base_url="http://127.0.0.1")
    proxy_account = login(platform, other, son.card)
    return Pair(client, principal_account, other, proxy_account, mother.resident, son.resident)


def grant(
    platform: Platform,
    principal: TestClient,
    scopes: list[str],
    *,
    last_day: dt.date | None = None,
    proxy_label: str = "長男 一郎",
    principal_label: str = "母 花子",
) -> str:
    """The principal makes a grant on /proxy; its invitation code."""
    day = last_day or platform.clock.today() + dt.timedelta(days=30)
    made = principal.post(
        "/proxy/grants",
        data={
            "proxy_label": proxy_label,
            "principal_label": principal_label,
            "scopes": scopes,
            "last_day": day.isoformat(),
            "csrf_token": csrf(principal.get("/proxy").text),
        },
    )
    assert made.status_code == 200, made.text
    return invitation(made.text)


def redeem(proxy: TestClient, code: str) -> int:
    """The proxy redeems a code on /proxy; the answer's status."""
    token = csrf(proxy.get("/proxy").text)
    return proxy.post(
        "/proxy/redeem", data={"code": code, "csrf_token": token}, follow_redirects=False
    ).status_code


def act(platform: Platform, p: Pair) -> str:
    """The proxy starts acting under the grant they hold; its id."""
    [held] = [
        g
        for g in platform.portal.proxies.held(p.proxy_account.account_id)
        if g.principal_id == p.principal_account.account_id and g.revoked_at is None
    ]
    went = p.proxy.post(
        "/proxy/act",
        data={"grant_id": held.grant_id, "csrf_token": csrf(p.proxy.get("/proxy").text)},
        follow_redirects=False,
    )
    assert went.status_code == 303, went.text
    return held.grant_id


def acting_pair(platform: Platform, client: TestClient, scopes: list[str]) -> Pair:
    """A pair whose proxy redeemed a grant of ``scopes`` and acts under it."""
    p = pair(platform, client)
    assert redeem(p.proxy, grant(platform, p.principal, scopes)) == 303
    act(platform, p)
    return p
