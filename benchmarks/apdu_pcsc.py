"""Benchmark: APDU round trips per second through pcscd + vpcd, next to the memory transport.

An emulated My Number Card (keys made inside it, certificates from a JPKI in a temporary
data dir) is served through vpcd by a separate process, as ``openmyna card insert`` does,
and driven through pyscard and pcscd by this one. The same workloads then run against a
card object in this process (``MemoryTransport``):

* ``SELECT EF + READ BINARY``: alternately ``00 A4 02 0C`` (the token EF) and a 32-byte
  ``00 B0``; the figure is APDUs per second (one APDU = one round trip);
* ``read auth certificate``: ``CardClient.auth_certificate()`` (SELECT EF + 256-byte
  READ BINARY chunks), certificates per second;
* ``sign (auth key)``: ``CardClient.sign`` (VERIFY + SELECT EF + the sign command, an
  RSA-2048 signature), signatures per second.

Usage, from the repository root (pcscd with the vpcd reader must run; see
scripts/setup-test-env.sh):
    .venv/bin/python -m benchmarks.apdu_pcsc [--seconds S] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from benchmarks.machine import describe
from openmyna.card.client import CardClient
from openmyna.card.engine import VirtualCard
from openmyna.card.jpki import personalize_jpki
from openmyna.card.layout import EF_AUTH_KEY, EF_JPKI_TOKEN, EF_SIGN_KEY, JPKI_AID, KeyRef
from openmyna.card.personalize import new_card
from openmyna.card.transport import MemoryTransport, Transport
from openmyna.card.transport.pcsc import (
    VPCD_FIRST_PORT,
    VPCD_READER_PREFIX,
    PcscTransport,
    list_readers,
    reader_has_card,
    wait_for_card,
)
from openmyna.card.transport.vpcd import serve_card
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.numbers import resident_code_check_digit
from openmyna.pki import CertKind, Jpki

AUTH_PIN = "1234"
SIGN_PASSWORD = "BENCH2026"
DEFAULT_MARKDOWN = Path("/tmp/bench_apdu.md")


def issued_card(data_dir: Path) -> VirtualCard:
    """A card whose JPKI AP holds certificates from a fresh JPKI in ``data_dir``."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    card = new_card()
    base = "1000000007"
    code = base + str(resident_code_check_digit(base))
    with Jpki.open(Settings(data_dir=data_dir), FixedClock(now)) as jpki:
        born = dt.date(1980, 5, 17)
        auth = jpki.issue_auth_cert(
            card.files.public_key(JPKI_AID, EF_AUTH_KEY),
            resident_code=code,
            date_of_birth=born,
            card_expiry=None,
        )
        sign = jpki.issue_sign_cert(
            card.files.public_key(JPKI_AID, EF_SIGN_KEY),
            resident_code=code,
            name="試験 太郎",
            address="東京都千代田区霞が関二丁目1番2号",
            date_of_birth=born,
            sex=1,
            card_expiry=None,
        )
        app = card.files.application(JPKI_AID)
        assert app is not None
        personalize_jpki(
            app,
            auth_cert=auth,
            auth_ca=jpki.ca_certificate(CertKind.AUTH),
            sign_cert=sign,
            sign_ca=jpki.ca_certificate(CertKind.SIGN),
            auth_pin=AUTH_PIN,
            sign_password=SIGN_PASSWORD,
        )
    return card


def _serve_child(port: int, data_dir: str, ready: EventType) -> None:
    """The card side in its own process, as ``openmyna card insert`` runs it."""
    card = issued_card(Path(data_dir))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connected = threading.Event()

    def announce() -> None:
        connected.wait()
        ready.set()

    threading.Thread(target=announce, daemon=True).start()
    serve_card(card, port=port, stop=stop, connected=connected)


def rate(work: Callable[[], int], seconds: float) -> float:
    """Operations per second of ``work`` (which returns how many it did) over ``seconds``."""
    end_warmup = time.perf_counter() + min(0.5, seconds / 4)
    while time.perf_counter() < end_warmup:
        work()
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        done += work()
    return done / (time.perf_counter() - started)


def workloads(transport: Transport) -> dict[str, Callable[[], int]]:
    """The three workloads on one transport (the JPKI AP selected first)."""
    client = CardClient(transport)
    client.select_application(JPKI_AID)
    select = bytes.fromhex("00A4020C02") + EF_JPKI_TOKEN.to_bytes(2, "big")
    read = bytes.fromhex("00B0000020")

    def select_read() -> int:
        for apdu in (select, read):
            if transport.transmit(apdu)[-2:] != b"\x90\x00":
                raise RuntimeError("the card refused a benchmark APDU")
        return 2

    def read_cert() -> int:
        client.auth_certificate()
        return 1

    def sign() -> int:
        client.sign(KeyRef.AUTH, AUTH_PIN, digest=bytes(32))
        return 1

    return {
        "SELECT EF + READ BINARY (APDUs/s)": select_read,
        "read auth certificate (certificates/s)": read_cert,
        "sign with the auth key (signatures/s)": sign,
    }


def free_vpcd_port() -> tuple[str, int]:
    """A vpcd reader with no card in it, and its port."""
    readers = sorted(r for r in list_readers() if r.startswith(VPCD_READER_PREFIX))
    for slot, name in enumerate(readers):
        if not reader_has_card(name):
            return name, VPCD_FIRST_PORT + slot
    raise SystemExit("no free vpcd reader: is pcscd running with vsmartcard-vpcd?")


def main() -> None:
    """Run the benchmark and print (and write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per workload and transport")
    parser.add_argument("--markdown", type=Path, default=DEFAULT_MARKDOWN)
    args = parser.parse_args()

    reader, port = free_vpcd_port()
    load = os.getloadavg()[0]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        child = ctx.Process(target=_serve_child, args=(port, str(Path(tmp) / "vpcd"), ready))
        child.start()
        try:
            if not ready.wait(60) or not wait_for_card(reader, timeout=10):
                raise SystemExit("the card did not show in pcscd's vpcd reader")
            with PcscTransport(reader) as pcsc:
                results["pcscd + vpcd"] = {
                    name: rate(work, args.seconds) for name, work in workloads(pcsc).items()
                }
        finally:
            child.terminate()
            child.join(10)
        memory = MemoryTransport(issued_card(Path(tmp) / "memory"))
        results["memory"] = {
            name: rate(work, args.seconds) for name, work in workloads(memory).items()
        }

    names = list(results["memory"])
    lines = [
        "## APDU round trips through pcscd + vpcd",
        "",
        f"Machine: {describe()}.",
        f"Command: `.venv/bin/python -m benchmarks.apdu_pcsc --seconds {args.seconds:g}` "
        f"(reader '{reader}'; the card served by a separate process). "
        f"Load average at the start: {load:.1f}.",
        "",
        "| workload | pcscd + vpcd | memory transport | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        via, mem = results["pcscd + vpcd"][name], results["memory"][name]
        lines.append(f"| {name} | {via:,.0f} | {mem:,.0f} | {mem / via:,.1f}x |")
    per_apdu = 1e6 / results["pcscd + vpcd"][names[0]]
    lines += ["", f"One APDU round trip through pcscd + vpcd: {per_apdu:,.0f} µs."]
    text = "\n".join(lines)
    print(text)
    args.markdown.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
