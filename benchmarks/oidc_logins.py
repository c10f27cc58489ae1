"""Benchmark P7: full OpenID Connect logins per second through the provider, in process.

The one web app (the platform in it: portal, JPKI issuer with its OCSP responder, the
provider) is driven through its ASGI interface by httpx2 in the same process, so uvicorn's
HTTP parsing is not counted but everything from routing on is: FastAPI, the pages, Authlib's
grants, the stores.

Before the timed window, for each of ``--logins`` logins of ``--cards`` people, a relying
party (``client_secret_basic``) has its browser request authorization
(``GET /oidc/authorize`` → the consent screen → ``/login?next=…``), and the person's card
fetches the login challenge and signs it (RSA-2048 on the virtual card: the card's work is not
what is measured). Each card's first login (which makes the person's portal account) runs
before the window too.

The timed window, for each login: the card's app posts the signed answer
(``POST /login/r/{id}``), the browser collects its session (``GET /login/wait/{id}/status``),
opens the consent screen and approves (``GET`` and ``POST /oidc/consent/{id}`` → the code),
and the relying party redeems the code (``POST /oidc/token``: PKCE, the ID token signed) and
reads ``/oidc/userinfo``. A login counts when userinfo answered with the subject of the ID
token.

Target (issue 11 §7): >= 500 full logins/s on this 2-core machine (MOSIP's eSignet publishes
15 logins/s).

Usage: .venv/bin/python -m benchmarks.oidc_logins [--logins N] [--cards C] [--concurrency K]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from benchmarks.machine import describe
from openmyna.builder import Builder
from openmyna.card import CardClient, MemoryTransport, VirtualCard
from openmyna.card.login import CardAnswer, LoginChallenge, sign_challenge
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.registry import NewPerson, Sex
from openmyna.web import create_app

ORIGIN = "http://127.0.0.1"
REDIRECT = "https://bank.example/callback"
PIN = "1234"
MAEBASHI = "102016"


@dataclass
class Login:
    browser: httpx2.AsyncClient
    consent: str
    request_id: str
    answer: dict[str, str]
    verifier: str
    state: str


def _people(platform: Platform, count: int) -> list[VirtualCard]:
    regs = platform.registries
    regs.add_municipality(MAEBASHI)
    cards = []
    for i in range(count):
        person = NewPerson("山田", f"花子{i}", "ヤマダ", "ハナコ", dt.date(1985, 2, 3), Sex.FEMALE)
        r = regs.municipality(MAEBASHI).move_in_from_abroad(
            person, on=platform.clock.today(), address=f"群馬県前橋市大手町二丁目{i + 1}番1号"
        )
        platform.sync_once()
        platform.cards.apply(r.resident_code)
        issued = platform.cards.issue(
            r.resident_code, auth_pin=PIN, sign_password="ABC123XYZ", identity_check="旅券"
        )
        cards.append(issued.card)
    return cards


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def _prepare(app: Any, client_id: str, card: VirtualCard, phone: httpx2.AsyncClient) -> Login:
    browser = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ORIGIN)
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(12)
    went = await browser.get(
        "/oidc/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    consent = went.headers["location"]
    login = await browser.get((await browser.get(consent)).headers["location"])
    found = re.fullmatch(r"/login/wait/([0-9a-f]{32})", login.headers["location"])
    assert found is not None
    request_id = found.group(1)
    body = (
        await phone.get(f"/login/r/{request_id}", headers={"Accept": "application/json"})
    ).json()
    challenge_obj = LoginChallenge(
        url=f"{ORIGIN}/login/r/{request_id}",
        origin=ORIGIN,
        request_id=str(body["request_id"]),
        nonce=str(body["nonce"]),
        short_code=str(body["short_code"]),
        expires_at=str(body["expires_at"]),
    )
    answer: CardAnswer = sign_challenge(CardClient(MemoryTransport(card)), challenge_obj, PIN)
    return Login(browser, consent, request_id, answer.body(), verifier, state)


async def _login(
    login: Login, phone: httpx2.AsyncClient, rp: httpx2.AsyncClient, auth: tuple[str, str]
) -> float:
    started = time.perf_counter()
    answered = await phone.post(f"/login/r/{login.request_id}", json=login.answer)
    assert answered.status_code == 200, answered.text
    polled = await login.browser.get(
        f"/login/wait/{login.request_id}/status", headers={"HX-Request": "true"}
    )
    assert polled.headers.get("HX-Redirect") == login.consent, polled.text
    page = await login.browser.get(login.consent)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    approved = await login.browser.post(
        login.consent, data={"csrf_token": csrf.group(1), "decision": "approve"}
    )
    code = re.search(r"[?&]code=([^&]+)", approved.headers["location"])
    assert code is not None
    tokens = await rp.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code.group(1),
            "redirect_uri": REDIRECT,
            "code_verifier": login.verifier,
        },
        auth=auth,
    )
    assert tokens.status_code == 200, tokens.text
    info = await rp.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json()["sub"]
    return time.perf_counter() - started


async def run(logins: int, cards: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp))
        settings = base.model_copy(
            update={
                "portal": base.portal.model_copy(
                    update={"login_starts_per_minute": 10**6, "login_answers_per_minute": 10**6}
                )
            }
        )
        clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        platform = Platform(Builder(settings, clock))
        try:
            people = _people(platform, cards)
            client, secret = platform.oidc.clients.add(
                "benchmark RP", [REDIRECT], auth_method="client_secret_basic"
            )
            assert secret is not None
            app = create_app(platform)
            transport = httpx2.ASGITransport(app=app)
            async with (
                httpx2.AsyncClient(transport=transport, base_url=ORIGIN) as phone,
                httpx2.AsyncClient(transport=transport, base_url=ORIGIN) as rp,
            ):
                prepared = [
                    await _prepare(app, client.client_id, people[i % cards], phone)
                    for i in range(logins)
                ]
                gate = asyncio.Semaphore(concurrency)

                async def one(login: Login) -> float:
                    async with gate:
                        return await _login(login, phone, rp, (client.client_id, secret))

                # Each card's first login makes its account: done once, before the window.
                for first in prepared[:cards]:
                    await one(first)
                timed = prepared[cards:]
                cpu0, wall0 = time.process_time(), time.perf_counter()
                latencies = sorted(await asyncio.gather(*(one(p) for p in timed)))
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                for p in prepared:
                    await p.browser.aclose()
        finally:
            platform.close()
    logins = len(latencies)
    print(describe())
    print(
        f"{logins} full OIDC logins in {wall:.2f} s: {logins / wall:.0f} logins/s; "
        f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms; "
        f"CPU {cpu / logins * 1000:.2f} ms per login (server and client, one process)"
    )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--cards", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    # httpx2's ASGI transport tries ``import sniffio`` on every request (to detect trio); it
    # is not installed, and the failing import's path search cost ~1.4 ms of the client's
    # CPU per request: a known absence makes it fail at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    asyncio.run(run(args.logins, args.cards, args.concurrency))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
