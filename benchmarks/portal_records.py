"""Benchmark P2: the やりとり履歴 pages of a person with 10,000 exchange records, over HTTP.

``openmyna serve`` runs as its own process (one uvicorn worker: the portal and the network's
hub in it, SQLite or PostgreSQL); this process plays the browser over HTTP on 127.0.0.1.

Before the timed window (in this process, before the server starts): one resident gets a
card from the real lifecycle and JPKI issuer, logs in to the portal (the portal's code for
the person is issued by the hub at that first login) and a session is opened; the hub then
records ``--records`` exchanges about the person (through ``ExchangeRecords.append_many``,
what the hub writes for every exchange), spread over a year, among three agencies and three
items.

The timed window is an open loop: ``--rate`` requests per second for ``--seconds``, each sent
at its scheduled moment whatever the earlier ones do, and its latency counted from that
moment (so queueing counts). The requests mix the list's first page, random later pages,
filters by item, agency and period, and single records; each must answer 200 with the
records it asked for.

Target (issue 10 §3): p99 < 100 ms at 200 requests/s with 10,000 records for the person.

Usage: .venv/bin/python -m benchmarks.portal_records [--records N] [--rate R] [--seconds S]
       [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx2

from benchmarks.machine import describe
from benchmarks.portal_login import (
    COOKIE,
    _cpu_seconds,
    _drop_schemas,
    _env,
    _free_port,
    _wait_ready,
    issue_cards,
)
from openmyna.builder import Builder
from openmyna.card import CardClient, KeyRef, MemoryTransport
from openmyna.clock import FixedClock, SystemClock
from openmyna.config import Settings
from openmyna.network.records import NewRecord, Outcome
from openmyna.pki import CertKind, RevocationChecker, Verifier
from openmyna.platform import Platform
from openmyna.portal.accounts import PORTAL_AGENCY

TARGET_P99_MS = 100.0
PIN = "1234"
KINDS = (
    ("lg-281000", "lg-102016", "child_allowance", "local_tax"),
    ("lg-281000", "nenkin", "child_allowance", "pension"),
    ("lg-102016", "lg-102016", "child_allowance", "resident_registry"),
)


def prepare(settings: Settings, records: int) -> tuple[str, int]:
    """A logged-in person (the session token) with ``records`` records at the hub."""
    [card] = issue_cards(settings, 1)
    platform = Platform(Builder(settings, SystemClock()))
    try:
        jpki = platform.jpki
        verifier = Verifier(
            {k: jpki.ca_certificate(k) for k in CertKind},
            platform.clock,
            revocation=RevocationChecker(platform.clock, ocsp_fetch=jpki.ocsp_fetcher()),
        )
        chip = CardClient(MemoryTransport(card))
        challenge = os.urandom(32)
        signature = chip.sign(KeyRef.AUTH, PIN, data=challenge)
        result = verifier.verify_auth(chip.auth_certificate(), challenge, signature)
        account = platform.portal.accounts.for_login(result)
        token, _ = platform.portal.sessions.create(
            account.account_id, result.subject_id, user_agent="benchmark"
        )
        hub = platform.network.hub
        key = hub.codes.person_key(PORTAL_AGENCY, account.portal_code)
        # Spread over the last year: the hub writes with its clock, moved per batch here.
        now = dt.datetime.now(dt.UTC)
        clock = FixedClock(now - dt.timedelta(days=365))
        hub.records.clock = clock
        batch = 50
        step = dt.timedelta(days=365) * batch / records
        for first in range(0, records, batch):
            rows = [
                NewRecord(*KINDS[n % len(KINDS)], Outcome.PROVIDED, key)
                for n in range(first, min(records, first + batch))
            ]
            hub.records.append_many(rows)
            clock.advance(step)
        last_seq = hub.records.count()
        return token, last_seq
    finally:
        platform.close()


def in_process(settings: Settings, token: str, records: int, count: int = 2000) -> dict[str, float]:
    """The hub's side alone: ``ExchangeHistory.page`` (count + page query) on the same mix."""
    from openmyna.portal.records.service import ExchangeHistory, RecordFilter

    platform = Platform(Builder(settings, SystemClock()))
    try:
        portal = platform.portal
        session = portal.sessions.current(token)
        code = portal.accounts.get(session.account_id).portal_code
        history = ExchangeHistory(portal.network)
        rnd = random.Random(11)
        pages = max(1, records // 50)
        today = dt.datetime.now(dt.UTC).date()
        mix = [
            (RecordFilter(), 1),
            (RecordFilter(), pages),
            (RecordFilter(item="pension"), 3),
            (RecordFilter(agency="nenkin"), 1),
            (RecordFilter(since=today - dt.timedelta(days=90), until=today), 1),
        ]
        took = []
        for i in range(count):
            chosen, number = mix[i % len(mix)]
            if i % len(mix) == 1:
                number = rnd.randint(1, pages)
            t0 = time.perf_counter()
            history.page(code, chosen, number)
            took.append(time.perf_counter() - t0)
        took.sort()
        return {"p50_ms": took[count // 2] * 1000, "p99_ms": took[int(count * 0.99)] * 1000}
    finally:
        platform.close()


def _requests(count: int, last_seq: int, records: int, seed: int = 7) -> list[tuple[str, str]]:
    """The request mix: (path with query, text the answer must hold)."""
    rnd = random.Random(seed)
    pages = max(1, records // 50)
    today = dt.datetime.now(dt.UTC).date()
    out = []
    for i in range(count):
        kind = i % 6
        if kind == 0:
            out.append(("/records", "件中 1〜50件目"))
        elif kind == 1:
            out.append((f"/records?page={rnd.randint(2, pages)}", "件中"))
        elif kind == 2:
            out.append((f"/records?item=pension&page={rnd.randint(1, max(1, pages // 3))}", "件中"))
        elif kind == 3:
            out.append(("/records?agency=nenkin", "件中"))
        elif kind == 4:
            since = today - dt.timedelta(days=rnd.randint(30, 300))
            until = since + dt.timedelta(days=30)
            out.append((f"/records?since={since}&until={until}", "件中"))
        else:
            out.append(
                (f"/records/{rnd.randint(max(1, last_seq - records + 1), last_seq)}", "記録番号")
            )
    return out


async def _run(
    base: str, token: str, wanted: list[tuple[str, str]], rate: float, server_pid: int
) -> dict[str, float]:
    limits = httpx2.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Cookie": f"{COOKIE}={token}"}
    async with httpx2.AsyncClient(limits=limits, timeout=60, trust_env=False) as http:
        for path, _ in wanted[:30]:  # warm: templates compiled, connections open
            await http.get(base + path, headers=headers)
        latencies: list[float] = []
        failures: list[str] = []

        async def one(at: float, path: str, expect: str) -> None:
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            got = await http.get(base + path, headers=headers)
            latencies.append(time.perf_counter() - at)
            if got.status_code != 200 or expect not in got.text:
                failures.append(f"{path}: {got.status_code}")

        t0, server0 = time.perf_counter() + 0.5, _cpu_seconds(server_pid)
        await asyncio.gather(
            *(one(t0 + i / rate, path, expect) for i, (path, expect) in enumerate(wanted))
        )
        elapsed = time.perf_counter() - t0
        server_cpu = _cpu_seconds(server_pid) - server0
    latencies.sort()
    n = len(latencies)
    return {
        "requests": float(n),
        "seconds": elapsed,
        "achieved": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000,
        "p90_ms": latencies[int(n * 0.90)] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "failures": float(len(failures)),
        "server_cpu_ms": server_cpu / n * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openmyna-records-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=args.pg,
            schema_prefix=f"b{uuid.uuid4().hex[:8]}_" if args.pg else "",
        )
        t0 = time.perf_counter()
        token, last_seq = prepare(settings, args.records)
        prepare_s = time.perf_counter() - t0
        hub_side = in_process(settings, token, args.records)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "openmyna.cli", "serve", "--port", str(port)],
            env=_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(base, server)
            wanted = _requests(int(args.rate * args.seconds), last_seq, args.records)
            result = asyncio.run(_run(base, token, wanted, args.rate, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.pg:
                _drop_schemas(args.pg, settings.schema_prefix)
    load = os.getloadavg()[0]
    backend = "PostgreSQL" if args.pg else "SQLite"
    print(f"machine: {describe()}; load average {load:.2f} at the end")
    print(f"backend: {backend}; {args.records} records for the person, made in {prepare_s:.1f} s")
    print(
        f"timed: {int(result['requests'])} requests scheduled at {args.rate:.0f}/s,"
        f" achieved {result['achieved']:.0f}/s over {result['seconds']:.1f} s;"
        f" {int(result['failures'])} failed"
    )
    print(
        f"latency from the scheduled moment: p50 {result['p50_ms']:.1f} ms,"
        f" p90 {result['p90_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms,"
        f" max {result['max_ms']:.1f} ms; server CPU {result['server_cpu_ms']:.2f} ms/request"
    )
    print(
        f"in process, the hub's query alone (ExchangeHistory.page: count and one page):"
        f" p50 {hub_side['p50_ms']:.2f} ms, p99 {hub_side['p99_ms']:.2f} ms"
    )
    met = "met" if result["p99_ms"] < TARGET_P99_MS and not result["failures"] else "NOT met"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms at {args.rate:.0f}/s: {met}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
