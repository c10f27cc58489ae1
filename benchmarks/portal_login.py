"""Benchmark P1: card logins per second through the portal, end to end over HTTP.

``openmyna serve`` runs as its own process (one uvicorn worker, the platform in it: the
portal, the JPKI issuer with its in-process OCSP responder, SQLite or PostgreSQL); this
process plays the browsers and the holders' apps over HTTP on 127.0.0.1.

Before the timed window:

- ``--cards`` residents get a card from the real lifecycle and JPKI issuer (in this process,
  before the server starts; the cards stay in memory here);
- each card logs in once, so that the server's verifier has checked its chain and holds
  its revocation status (OCSP, cached for 5 minutes) and its account exists;
- ``--logins`` login requests are started (``GET /login``: the request and its browser
  cookie), their challenges fetched (``GET /login/r/{id}``) and signed by the cards
  (RSA-2048, PKCS#1 v1.5) — the client's signing is not what is measured.

The timed window: for every request, the holder's app posts the answer
(``POST /login/r/{id}``: signature verification against the cached status, the account,
the request answered) and the browser collects its session
(``GET /login/wait/{id}/status``: a new session, its cookie, the login history). A login
counts when the browser got its ``omyna_session`` cookie. Afterwards every session token is
checked against the server's store.

Target (issue 10 §8): >= 1,000 logins/s on this 2-core machine. For comparison, MOSIP
publishes 50 authentications/s on a cluster and 15 logins/s for its OIDC service.

Usage: .venv/bin/python -m benchmarks.portal_login [--logins N] [--cards C]
       [--concurrency K] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import httpx2

from benchmarks.machine import describe
from openmyna.builder import Builder
from openmyna.card import CardClient, MemoryTransport, VirtualCard
from openmyna.card.login import CardAnswer, LoginChallenge, sign_challenge
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.registry import NewPerson, Sex

TARGET = 1000.0
PIN = "1234"
MAEBASHI = "102016"
COOKIE = "omyna_session"


@dataclass
class Prepared:
    """One login ready to be answered: the request, its browser cookie, the card's answer."""

    request_id: str
    cookie: str
    answer: CardAnswer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def issue_cards(settings: Settings, count: int) -> list[VirtualCard]:
    """``count`` residents of 前橋市 with cards (the real lifecycle and JPKI issuer)."""
    platform = Platform(Builder(settings, SystemClock()))
    try:
        regs = platform.registries
        regs.add_municipality(MAEBASHI)
        reg = regs.municipality(MAEBASHI)
        cards = []
        for i in range(count):
            person = NewPerson(
                "山田", f"花子{i}", "ヤマダ", "ハナコ", dt.date(1985, 2, 3), Sex.FEMALE
            )
            r = reg.move_in_from_abroad(
                person, on=platform.clock.today(), address=f"群馬県前橋市大手町{i + 1}番"
            )
            platform.sync_once()
            platform.cards.apply(r.resident_code)
            issued = platform.cards.issue(
                r.resident_code, auth_pin=PIN, sign_password="PASS1234", identity_check="旅券"
            )
            cards.append(issued.card)
        platform.sync_once()
        return cards
    finally:
        platform.close()


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
    env["OPENMYNA_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["OPENMYNA_DATABASE_URL"] = settings.database_url
        env["OPENMYNA_SCHEMA_PREFIX"] = settings.schema_prefix
    env["OPENMYNA_PORTAL_LOGIN_STARTS_PER_MINUTE"] = "100000000"
    env["OPENMYNA_PORTAL_LOGIN_ANSWERS_PER_MINUTE"] = "100000000"
    env["OPENMYNA_PORTAL_LOGIN_REQUEST_TTL"] = "PT30M"
    return env


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            if httpx2.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer in time")


async def _start(http: httpx2.AsyncClient, base: str) -> tuple[str, str]:
    went = await http.get(base + "/login")
    if went.status_code != 303 or "set-cookie" not in went.headers:
        raise SystemExit(f"GET /login answered {went.status_code} {dict(went.headers)}")
    request_id = went.headers["location"].rsplit("/", 1)[-1]
    found = re.search(rf"omyna_login_{request_id}=([^;]+)", went.headers["set-cookie"])
    assert found is not None
    return request_id, found.group(1)


async def _challenge(http: httpx2.AsyncClient, base: str, request_id: str) -> LoginChallenge:
    got = await http.get(f"{base}/login/r/{request_id}", headers={"Accept": "application/json"})
    body = got.json()
    return LoginChallenge(
        url=f"{base}/login/r/{request_id}",
        origin=base,
        request_id=request_id,
        nonce=body["nonce"],
        short_code=body["short_code"],
        expires_at=body["expires_at"],
    )


async def _answer(http: httpx2.AsyncClient, base: str, p: Prepared) -> None:
    posted = await http.post(f"{base}/login/r/{p.request_id}", json=p.answer.body())
    if posted.status_code != 200:
        raise SystemExit(f"answer refused: {posted.text[:200]}")


async def _collect(http: httpx2.AsyncClient, base: str, p: Prepared) -> str:
    got = await http.get(
        f"{base}/login/wait/{p.request_id}/status",
        headers={"HX-Request": "true", "Cookie": f"omyna_login_{p.request_id}={p.cookie}"},
    )
    found = re.search(rf"{COOKIE}=([^;]+)", got.headers.get("set-cookie", ""))
    if got.status_code != 200 or found is None:
        raise SystemExit(f"no session: {got.status_code} {got.text[:200]}")
    return found.group(1)


async def _prepare(
    http: httpx2.AsyncClient, base: str, cards: list[VirtualCard], count: int, concurrency: int
) -> list[Prepared]:
    clients = [CardClient(MemoryTransport(c)) for c in cards]
    out: list[Prepared] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Prepared:
        async with gate:
            request_id, cookie = await _start(http, base)
            found = await _challenge(http, base, request_id)
        answer = sign_challenge(clients[i % len(clients)], found, PIN)
        return Prepared(request_id, cookie, answer)

    for chunk in range(0, count, 500):
        out += await asyncio.gather(*(one(i) for i in range(chunk, min(count, chunk + 500))))
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(
    base: str, cards: list[VirtualCard], logins: int, concurrency: int, server_pid: int
) -> dict[str, float]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60, trust_env=False) as http:
        # Many browsers in one client: no shared cookie jar, each request sends its own.
        http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        warm = await _prepare(http, base, cards, len(cards), concurrency)
        for p in warm:  # chain checked, status cached, account made: once per card
            await _answer(http, base, p)
            await _collect(http, base, p)
        t0 = time.perf_counter()
        ready = await _prepare(http, base, cards, logins, concurrency)
        prepare_s = time.perf_counter() - t0
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def login(p: Prepared) -> str:
            async with gate:
                started = time.perf_counter()
                await _answer(http, base, p)
                token = await _collect(http, base, p)
                latencies.append(time.perf_counter() - started)
                return token

        t0, server0, client0 = time.perf_counter(), _cpu_seconds(server_pid), time.process_time()
        tokens = await asyncio.gather(*(login(p) for p in ready))
        elapsed = time.perf_counter() - t0
        server_cpu = _cpu_seconds(server_pid) - server0
        client_cpu = time.process_time() - client0
        # Every token opens a page as a logged-in person.
        checks = await asyncio.gather(
            *(http.get(base + "/", headers={"Cookie": f"{COOKIE}={t}"}) for t in tokens[:200])
        )
        logged_in = sum("マイナンバーカードでログインしています" in r.text for r in checks)
    latencies.sort()
    return {
        "logins": float(len(tokens)),
        "distinct": float(len(set(tokens))),
        "seconds": elapsed,
        "per_second": len(tokens) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "prepare_s": prepare_s,
        "checked": float(len(checks)),
        "logged_in": float(logged_in),
        "server_cpu_ms": server_cpu / len(tokens) * 1000,
        "client_cpu_ms": client_cpu / len(tokens) * 1000,
    }


def _drop_schemas(url: str, prefix: str) -> None:
    """Drop the PostgreSQL schemas this run made."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        names = conn.execute(
            text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": prefix + "%"},
        ).scalars()
        for name in list(names):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=3000)
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openmyna-login-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=args.pg,
            schema_prefix=f"b{uuid.uuid4().hex[:8]}_" if args.pg else "",
        )
        t0 = time.perf_counter()
        cards = issue_cards(settings, args.cards)
        issue_s = time.perf_counter() - t0
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        cli = [sys.executable, "-m", "openmyna.cli"]
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            env=_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(base, server)
            result = asyncio.run(_run(base, cards, args.logins, args.concurrency, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.pg:
                _drop_schemas(args.pg, settings.schema_prefix)
    load = os.getloadavg()[0]
    backend = "PostgreSQL" if args.pg else "SQLite"
    print(f"machine: {describe()}; load average {load:.2f} at the end")
    print(f"backend: {backend}; {args.cards} cards issued in {issue_s:.1f} s")
    print(
        f"prepared {int(result['logins'])} login requests (started, fetched, signed) in"
        f" {result['prepare_s']:.1f} s"
    )
    print(
        f"timed: {int(result['logins'])} logins in {result['seconds']:.2f} s ="
        f" {result['per_second']:.0f} logins/s (concurrency {args.concurrency});"
        f" latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
    )
    print(
        f"CPU per login in the window: server {result['server_cpu_ms']:.2f} ms,"
        f" client {result['client_cpu_ms']:.2f} ms"
    )
    print(
        f"sessions distinct: {int(result['distinct'])}; {int(result['logged_in'])} of"
        f" {int(result['checked'])} checked open a logged-in page"
    )
    met = "met" if result["per_second"] >= TARGET else "NOT met"
    print(f"target >= {TARGET:.0f}/s: {met}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
