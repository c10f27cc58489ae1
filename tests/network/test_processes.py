"""``openmyna network hub`` and ``node`` as real processes on PostgreSQL.

Two hub processes share one database behind one address (a TCP round-robin proxy, TLS passed
through); the requester's and the provider's nodes are processes too. One hub is killed
(SIGKILL) while many exchanges are in flight and started again; the requester's systems retry
what failed under the same idempotency keys. Every exchange ends with exactly one hub record
and the hub's chain verifies.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from netdata import AFFAIR, TAX, A, B, add_residents
from tcp_proxy import TcpProxy

from openmyna.builder import Builder
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network import tls
from openmyna.network.clients import NodeClient
from openmyna.network.exchange import exchange_id_of, exchange_ref
from openmyna.network.hub_store import HubStore
from openmyna.network.netca import NetworkCA
from openmyna.network.oversight import Oversight
from openmyna.network.records import ExchangeRecords, Outcome

CLI = [sys.executable, "-c", "from openmyna.cli import main; main()", "network"]

pytestmark = pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.pg)], indirect=True
)


def _free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Proc:
    """A process of ``openmyna network …`` and where it listens."""

    name: str
    args: list[str]
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@dataclasses.dataclass
class Cluster:
    settings: Settings
    ca: NetworkCA
    env: dict[str, str]
    proxy: TcpProxy
    hubs: list[Proc]
    nodes: dict[str, Proc]
    numbers: list[str]

    def start(self, proc: Proc) -> None:
        with proc.log.open("ab") as log:
            proc.popen = subprocess.Popen(
                [*CLI, *proc.args, "--port", str(proc.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, proc: Proc, key: str | None = None, timeout: float = 30) -> None:
        """Until the process answers ``/healthz`` (and ``key`` there is true)."""
        deadline = time.monotonic() + timeout
        with tls.client(
            self.ca.node(B), self.ca.ca_certificate(), timeout=2, trust_env=False
        ) as http:
            while True:
                assert proc.popen is not None
                if proc.popen.poll() is not None:
                    pytest.fail(f"{proc.name} exited: {proc.log.read_text()[-2000:]}")
                try:
                    body = http.get(f"{proc.url}/healthz").json()
                    if key is None or body.get(key):
                        return
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{proc.name} did not get ready: {proc.log.read_text()[-2000:]}")
                time.sleep(0.1)

    def hub_exchanges(self, hub: Proc) -> int:
        with tls.client(self.ca.node(B), self.ca.ca_certificate(), trust_env=False) as http:
            return int(http.get(f"{hub.url}/healthz").json()["exchanges"])

    def client(self, agency: str) -> NodeClient:
        return NodeClient.connect(self.ca.node(agency), self.ca, self.nodes[agency].url)

    def stop(self) -> None:
        for proc in [*self.nodes.values(), *self.hubs]:
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in [*self.nodes.values(), *self.hubs]:
            if proc.popen is not None:
                try:
                    proc.popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()
        self.proxy.stop()


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path) -> Iterator[Cluster]:
    """Residents, two hub processes behind a proxy, the nodes of A and B, codes and an item."""
    clock = SystemClock()
    # Create the databases, keys and identities once, before the processes race for them.
    with Builder(settings, clock) as parts:
        numbers = add_residents(parts.registries(), 4)
        parts.hub()
        ca = parts.network_ca()
        for agency in (A, B):
            ca.node(agency)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
    env.update(
        OPENMYNA_DATA_DIR=str(settings.data_dir),
        OPENMYNA_DATABASE_URL=str(settings.database_url),
        OPENMYNA_SCHEMA_PREFIX=settings.schema_prefix,
    )
    hubs = [Proc(f"hub{i}", ["hub"], _free_port(), tmp_path / f"hub{i}.log") for i in range(2)]
    proxy = TcpProxy([("127.0.0.1", h.port) for h in hubs]).start()
    hub_url = f"https://127.0.0.1:{proxy.port}"
    nodes = {
        agency: Proc(
            agency,
            ["node", "--agency", agency, "--hub", hub_url],
            _free_port(),
            tmp_path / f"{agency}.log",
        )
        for agency in (A, B)
    }
    c = Cluster(settings, ca, env, proxy, hubs, nodes, numbers)
    try:
        for proc in [*hubs, *nodes.values()]:
            c.start(proc)
        for hub in hubs:
            c.wait_ready(hub)
        for node in nodes.values():
            c.wait_ready(node, "registered")
        with c.client(A) as a, c.client(B) as b:
            for number in numbers:
                a.store_item(a.issue_code(number), "local_tax", TAX)
                b.issue_code(number)
        yield c
    finally:
        c.stop()


def _codes(c: Cluster) -> list[str]:
    with c.client(B) as b:
        return [b.issue_code(n) for n in c.numbers]  # already issued: the same codes


def _hub_records(c: Cluster) -> list[Any]:
    records = ExchangeRecords.open(c.settings, SystemClock())
    try:
        return Oversight(records).query("test-auditor", agency=B)
    finally:
        records.close()


def _open_exchanges(c: Cluster) -> int:
    records = ExchangeRecords.open(c.settings, SystemClock())
    try:
        return HubStore(records.store, SystemClock()).open_count()
    finally:
        records.close()


def _verify_chain(c: Cluster) -> Any:
    records = ExchangeRecords.open(c.settings, SystemClock())
    try:
        return records.verify_chain()
    finally:
        records.close()


def _fields(code: str, key: str) -> dict[str, Any]:
    return {
        "code": code,
        "affair": AFFAIR,
        "item": "local_tax",
        "provider_agency": A,
        "idempotency_key": key,
    }


def test_two_hub_processes_on_one_database_behind_one_address(cluster: Cluster) -> None:
    c = cluster
    codes = _codes(c)
    keys = [f"two-hubs-{i:04d}" for i in range(32)]
    got: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    with c.client(B) as b, ThreadPoolExecutor(8) as pool:
        for r in range(4):
            # Break B's pooled connection to the hub: its next one goes to the other backend
            # (the node retries a broken call once, as a retry under the same keys).
            c.proxy.drop()
            part = keys[r * 8 : (r + 1) * 8]
            got += pool.map(lambda k: b.request(**_fields(codes[int(k[-4:]) % 4], k)), part)
            batch += b.request_many(
                [
                    _fields(codes[i % 4], f"two-hubs-batch-{i:04d}")
                    for i in range(r * 10, r * 10 + 10)
                ]
            )
    assert [g["outcome"] for g in got] == ["provided"] * len(keys)
    assert [r["outcome"] for r in batch] == ["provided"] * 40
    assert all(r["item"]["municipal_tax"] == 174_321 for r in batch)
    # Both hub processes served exchanges, through the one address.
    assert all(n > 0 for n in c.proxy.connections), c.proxy.connections
    served = [c.hub_exchanges(h) for h in c.hubs]
    assert all(n > 0 for n in served), served
    assert sum(served) == len(keys) + 40
    # One chain, one record per exchange.
    ids = collections.Counter(r.exchange_id for r in _hub_records(c))
    expected = {exchange_id_of(exchange_ref(B, k)) for k in keys}
    expected |= {exchange_id_of(exchange_ref(B, f"two-hubs-batch-{i:04d}")) for i in range(40)}
    assert set(ids) == expected
    assert set(ids.values()) == {1}
    report = _verify_chain(c)
    assert report.ok, report.problems
    assert report.records == len(expected)


def test_hubs_killed_mid_exchange_then_retried_with_the_same_keys(cluster: Cluster) -> None:
    c = cluster
    codes = _codes(c)
    keys = [f"kill-{i:04d}" for i in range(80)]
    failed: dict[str, str] = {}
    done = threading.Semaphore(0)
    lock = threading.Lock()

    with c.client(B) as b:

        def one(key: str) -> None:
            try:
                b.request(**_fields(codes[int(key[-4:]) % 4], key))
            except OpenMynaError as exc:
                with lock:
                    failed[key] = exc.code
            finally:
                done.release()

        provider = c.nodes[A].popen
        assert provider is not None
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(one, k) for k in keys]
            for _ in range(12):  # a few exchanges through ...
                done.acquire()
            # ... then hold the provider, so that the hubs have exchanges open (forwarded,
            # not answered): kill the hubs in the middle of them, then let the provider go on.
            provider.send_signal(signal.SIGSTOP)
            try:
                deadline = time.monotonic() + 20
                while _open_exchanges(c) == 0:
                    assert time.monotonic() < deadline, "no exchange got under way"
                    time.sleep(0.05)
                in_flight = _open_exchanges(c)
                for hub in c.hubs:
                    assert hub.popen is not None
                    hub.popen.send_signal(signal.SIGKILL)
                    hub.popen.wait()
            finally:
                provider.send_signal(signal.SIGCONT)
            for f in futures:
                f.result()
        assert in_flight > 0
        assert failed, "no exchange was in flight at the killed hubs"
        assert set(failed.values()) <= {"HUB_UNAVAILABLE", "PROVIDER_UNAVAILABLE", "REMOTE_ERROR"}
        for hub in c.hubs:  # the same hubs again, same ports
            c.start(hub)
        for hub in c.hubs:
            c.wait_ready(hub)
        outcomes: dict[str, str] = {}
        retry_errors: list[str] = []
        for key in keys:  # retry everything: done ones answer again, failed ones complete
            for attempt in range(5):
                try:
                    outcomes[key] = b.request(**_fields(codes[int(key[-4:]) % 4], key))["outcome"]
                    break
                except OpenMynaError as exc:
                    retry_errors.append(exc.code)
                    time.sleep(0.2 * (attempt + 1))
        at_b = b.records()
    print(f"failed at the kill: {collections.Counter(failed.values())}; retries: {retry_errors}")
    assert set(retry_errors) <= {"HUB_UNAVAILABLE", "PROVIDER_UNAVAILABLE"}
    assert outcomes == dict.fromkeys(keys, "provided")
    expected = {exchange_id_of(exchange_ref(B, k)) for k in keys}
    ids = collections.Counter(r.exchange_id for r in _hub_records(c))
    assert set(ids) == expected  # none missing, none extra
    assert set(ids.values()) == {1}  # no exchange recorded twice
    requester_ids = collections.Counter(r["exchange_id"] for r in at_b)
    assert set(requester_ids) == expected
    assert set(requester_ids.values()) == {1}
    with c.client(A) as a:
        provider_ids = collections.Counter(r["exchange_id"] for r in a.records())
    assert set(provider_ids) == expected
    assert set(provider_ids.values()) == {1}
    report = _verify_chain(c)
    assert report.ok, report.problems
    assert report.records == len(keys)
    assert all(r.outcome == Outcome.PROVIDED for r in _hub_records(c))
    records = ExchangeRecords.open(c.settings, SystemClock())
    try:
        assert HubStore(records.store, SystemClock()).open_count() == 0  # none left open
    finally:
        records.close()
