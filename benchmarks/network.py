"""Benchmark X2: completed exchanges per second through the Information Provision Network.

The hub (``openmyna network hub``) and two agency nodes (``openmyna network node``: A =
前橋市 answers local-tax information, B = 中央区 asks for it for child allowance) run as
three separate processes on one PostgreSQL server, with mutual TLS between them (network-CA
certificates), every message signed (ES256 JWS), every item encrypted end to end for B (JWE),
and every exchange recorded at B, A and the hub (hash chain). The load is B's own systems
calling B's node over mutual TLS: batches of requests (``POST /v1/requests/batch``, the
一括照会 way agencies query in bulk: one signature per batch at each hop) from a few
concurrent clients, and, for comparison, single requests (``POST /v1/requests``).

An exchange counts as completed when B's node has verified the hub's result and A's answer,
decrypted the item and validated it against its layout (outcome ``provided``). After the
run, the hub's record chain is verified and every completed exchange must appear exactly
once at the hub, at A and at B. Latency is per exchange, from the client's request to its
answer (for a batch: the batch's round trip).

Target (issue 4): >= 300 exchanges/s on this 2-core machine.

Usage: .venv/bin/python -m benchmarks.network [--seconds S] [--batch N] [--clients C]
       [--single-clients C] [--persons P] [--pg URL] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import create_engine, text

from benchmarks.machine import describe
from openmyna.builder import Builder
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.network import tls
from openmyna.network.netca import HUB_ID, NetworkCA
from openmyna.network.node import AgencyNode
from openmyna.network.node_store import NodeStore
from openmyna.network.records import ExchangeRecords
from openmyna.registry import NewPerson, Sex

TARGET = 300.0
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
A = "lg-102016"  # 前橋市: the provider
B = "lg-131024"  # 中央区: the requester
AFFAIR = "child_allowance"
TAX = {
    "as_of": "2025-06-01",
    "fiscal_year": 2025,
    "levying_lg_code": "102016",
    "status": "taxed",
    "income_categories": ["salary"],
    "total_income": 4_200_000,
    "taxable_income": 2_900_000,
    "municipal_tax": 174_321,
    "prefectural_tax": 116_000,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(settings: Settings, persons: int) -> list[str]:
    """Residents of A, their codes at A and B, A's local-tax items; B's codes, in order."""
    clock = SystemClock()
    parts = Builder(settings, clock)
    regs = parts.registries()
    try:
        regs.add_municipality("102016")
        town = regs.municipality("102016")
        numbers = []
        for i in range(persons):
            person = NewPerson(
                family_name="前橋",
                given_name="花子",
                family_name_kana="マエバシ",
                given_name_kana="ハナコ",
                date_of_birth=dt.date(1970, 1, 1) + dt.timedelta(days=i * 7),
                sex=Sex.FEMALE,
            )
            moved = town.move_in_from_abroad(
                person, on=dt.date(2024, 4, 1), address=f"前橋市大手町{i + 1}番"
            )
            numbers.append(moved.individual_number)
        regs.sync()
        ca = NetworkCA.open(settings, clock)
        ids = {agency: ca.node(agency) for agency in (HUB_ID, A, B)}
        codes = parts.agency_codes()
        node_a = AgencyNode(
            settings, clock, A, ids[A], ids[HUB_ID].certificate, resolve_key=ca.resolver()
        )
        try:
            codes_b = []
            for number in numbers:
                node_a.store_item(codes.issue(A, number), "local_tax", TAX)
                codes_b.append(codes.issue(B, number))
        finally:
            node_a.close()
        return codes_b
    finally:
        parts.close()


@dataclass
class Run:
    """What one load phase measured."""

    mode: str
    clients: int
    batch: int
    seconds: float = 0.0
    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # one per exchange, seconds

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _load(client: httpx2.Client, url: str, codes: list[str], run: Run, seconds: float) -> None:
    """Drive B's node from ``run.clients`` threads for ``seconds``."""
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                first = next(counter) * run.batch
            reqs = [
                {
                    "code": codes[(first + k) % len(codes)],
                    "affair": AFFAIR,
                    "item": "local_tax",
                    "provider_agency": A,
                    "idempotency_key": uuid.uuid4().hex,
                }
                for k in range(run.batch)
            ]
            t0 = time.perf_counter()
            if run.mode == "batch":
                response = client.post(f"{url}/v1/requests/batch", json={"requests": reqs})
                body: Any = response.json()
                results = body.get("results", []) if response.status_code == 200 else []
            else:
                response = client.post(f"{url}/v1/requests", json=reqs[0])
                results = [response.json() if response.status_code == 200 else {}]
            took = time.perf_counter() - t0
            ok = sum(1 for r in results if r.get("outcome") == "provided")
            with lock:
                run.completed += ok
                run.latencies.extend([took] * ok)
                if response.status_code != 200:
                    code = str(response.json().get("title", response.status_code))
                    run.errors[code] = run.errors.get(code, 0) + 1
                for r in results:
                    if "error" in r:
                        code = str(r["error"].get("code") or r["error"].get("title"))
                        run.errors[code] = run.errors.get(code, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(run.clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - start


@contextlib.contextmanager
def _processes(env: dict[str, str]) -> Iterator[tuple[str, str, int]]:
    """Start the hub and the nodes of A and B; yield (hub URL, B's node URL, A's port)."""
    hub_port, a_port, b_port = _free_port(), _free_port(), _free_port()
    hub_url = f"https://127.0.0.1:{hub_port}"
    cli = [str(Path(sys.executable).with_name("openmyna")), "network"]
    procs = [
        subprocess.Popen([*cli, "hub", "--port", str(hub_port)], env=env),
        subprocess.Popen(
            [*cli, "node", "--agency", A, "--hub", hub_url, "--port", str(a_port)], env=env
        ),
        subprocess.Popen(
            [*cli, "node", "--agency", B, "--hub", hub_url, "--port", str(b_port)], env=env
        ),
    ]
    try:
        yield hub_url, f"https://127.0.0.1:{b_port}", a_port
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_ready(client: httpx2.Client, url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx2.HTTPError):
            response = client.get(f"{url}/healthz")
            if response.status_code == 200 and response.json().get("registered", True):
                return
        time.sleep(0.3)
    raise SystemExit(f"{url} did not become ready")


def _counts(settings: Settings, agency: str) -> int:
    store = NodeStore.open(settings, SystemClock(), agency)
    try:
        return len([r for r in store.records() if r.outcome == "provided"])
    finally:
        store.close()


def main() -> None:
    """Run the benchmark and print (and optionally write) a Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--single-clients", type=int, default=8)
    parser.add_argument("--persons", type=int, default=500)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    with tempfile.TemporaryDirectory(prefix="openmyna-bench-net-") as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.pg, schema_prefix=prefix)
        t0 = time.perf_counter()
        codes = _seed(settings, args.persons)
        print(f"seeded {len(codes)} persons in {time.perf_counter() - t0:.1f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
        env |= {
            "OPENMYNA_DATA_DIR": str(settings.data_dir),
            "OPENMYNA_DATABASE_URL": args.pg,
            "OPENMYNA_SCHEMA_PREFIX": prefix,
        }
        ca = NetworkCA.open(settings, SystemClock())
        me = ca.node(B)
        runs: list[Run] = []
        try:
            with _processes(env) as (hub_url, b_url, a_port):
                limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
                with tls.client(me, ca.ca_certificate(), timeout=60.0, limits=limits) as client:
                    _wait_ready(client, hub_url)
                    _wait_ready(client, b_url)
                    _wait_ready(client, f"https://127.0.0.1:{a_port}")
                    warm = Run("batch", 1, args.batch)
                    _load(client, b_url, codes, warm, 3.0)
                    for run in (
                        Run("batch", args.clients, args.batch),
                        Run("single", args.single_clients, 1),
                    ):
                        _load(client, b_url, codes, run, args.seconds)
                        runs.append(run)
                        print(
                            f"{run.mode}: {run.completed} exchanges in {run.seconds:.1f} s = "
                            f"{run.rate:.0f}/s, p50 {run.pct(0.5):.0f} ms, "
                            f"p99 {run.pct(0.99):.0f} ms, errors {run.errors}",
                            flush=True,
                        )
                    expected = warm.completed + sum(r.completed for r in runs)
            records = ExchangeRecords.open(settings, SystemClock())
            try:
                report = records.verify_chain()
                hub_count = records.count()
            finally:
                records.close()
            at_a, at_b = _counts(settings, A), _counts(settings, B)
            consistent = report.ok and hub_count == at_a == at_b == expected
            print(
                f"records: hub {hub_count}, A {at_a}, B {at_b}, completed {expected}, "
                f"chain {'ok' if report.ok else 'BROKEN'}",
                flush=True,
            )
        finally:
            engine = create_engine(args.pg)
            with engine.begin() as conn:
                for (name,) in conn.execute(
                    text(
                        "SELECT schema_name FROM information_schema.schemata "
                        "WHERE schema_name LIKE :p"
                    ),
                    {"p": prefix + "%"},
                ).all():
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            engine.dispose()

    batch = runs[0]
    lines = [
        "## Information Provision Network: exchanges per second (X2, issue 4)",
        "",
        f"- Machine: {describe()}",
        "- Command: `.venv/bin/python -m benchmarks.network "
        f"--seconds {args.seconds:g} --batch {args.batch} --clients {args.clients} "
        f"--single-clients {args.single_clients} --persons {args.persons}`",
        "- Setup: hub + node A + node B as three processes (one uvicorn worker each), one "
        "PostgreSQL server, mutual TLS on every hop, ES256 signatures, JWE content for B, "
        "records at hub, A and B; the client (B's own systems) is a fourth process on the "
        "same 2 cores.",
        "",
        "| mode | clients | per call | exchanges/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.mode} | {run.clients} | {run.batch} | {run.rate:,.0f} | "
            f"{run.pct(0.5):,.0f} | {run.pct(0.99):,.0f} | {sum(run.errors.values())} |"
        )
    lines += [
        "",
        f"Target >= {TARGET:,.0f} exchanges/s: "
        f"{'met' if batch.rate >= TARGET else 'NOT met'} ({batch.rate:,.0f}/s in batches). "
        f"Records after the run: hub {hub_count}, A {at_a}, B {at_b} for {expected} completed "
        f"exchanges; hub chain {'verifies' if report.ok else 'BROKEN'}"
        f"{'' if consistent else ' — INCONSISTENT'}.",
    ]
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.out is not None:
        args.out.write_text(text_out, encoding="utf-8")
    if not consistent:
        raise SystemExit("records are not consistent with the completed exchanges")


if __name__ == "__main__":
    main()
