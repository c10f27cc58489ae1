"""Benchmark J2: OCSP responses per second over HTTP on this machine.

Starts ``openmyna pki serve`` (uvicorn, the real ``/ocsp`` route, one process) pinned to one
CPU, issues auth certificates, and drives the responder with ``wrk`` (Debian package ``wrk``)
pinned to the other CPU: keep-alive POSTs of DER OCSP requests (SHA-1 CertID, as ``openssl
ocsp`` sends), cycling through all the certificates, for a bounded time, only to 127.0.0.1.
Every response is a signed OCSP response taken from the responder's cache of pre-signed
responses (a warm-up run fills the server process's cache first). Without ``wrk`` a small
asyncio keep-alive client in this script does the same (``--client python``).

Target (issue 3): >= 2,000 responses/s.

With ``--junk N`` it then measures the server's memory under junk (issue 9): N requests for
random serials with the longest nonce accepted (128 octets), a third of them for three
certificates at once, and N more with an 8 KB nonce (refused), through the same keep-alive
client. It reports the server's resident memory (VmRSS) before and after, what the junk was
answered, and whether a real certificate's pre-signed answer is still served byte for byte.

Usage: .venv/bin/python -m benchmarks.ocsp_http [--seconds S] [--connections C] [--certs N]
       [--client wrk|python] [--junk N] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from benchmarks.machine import describe
from openmyna.clock import SystemClock
from openmyna.config import PkiSettings, Settings
from openmyna.numbers import resident_code_check_digit
from openmyna.pki import CertKind, Jpki
from openmyna.pki import der as d
from openmyna.pki.status import ocsp_request, parse_ocsp_response

TARGET = 2_000.0

LUA = """
local paths = {%s}
local bodies = {}
for i, p in ipairs(paths) do
  local f = assert(io.open(p, "rb")); bodies[i] = f:read("*a"); f:close()
end
local i = 0
local headers = {["Content-Type"] = "application/ocsp-request"}
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/ocsp", headers, bodies[i])
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _code(i: int) -> str:
    base = f"{3_000_000_000 + i:010d}"
    return base + str(resident_code_check_digit(base))


def _wrk(url: str, script: Path, seconds: float, connections: int, cpu: int) -> dict[str, str]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(
        [
            "taskset",
            "-c",
            str(cpu),
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {"rps": re.search(r"Requests/sec:\s+([\d.]+)", out)}
    result = {"raw": out}
    result["rps"] = found["rps"].group(1) if found["rps"] else "0"
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non2xx"] = errors.group(1) if errors else "0"
    socket_errors = re.search(r"Socket errors:.*", out)
    result["socket_errors"] = socket_errors.group(0) if socket_errors else "none"
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    result["p50"] = p50.group(1) if p50 else "?"
    result["p99"] = p99.group(1) if p99 else "?"
    return result


async def _python_client(
    port: int, bodies: list[bytes], seconds: float, connections: int
) -> dict[str, str]:
    """Keep-alive HTTP/1.1 POSTs from ``connections`` tasks for ``seconds``; responses/s."""
    done = 0
    bad = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done, bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        try:
            while time.perf_counter() < deadline:
                body = bodies[i % len(bodies)]
                i += 1
                writer.write(
                    b"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/ocsp-request\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                done += 1
                if not head.startswith(b"HTTP/1.1 200"):
                    bad += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    elapsed = time.perf_counter() - start
    return {"rps": f"{done / elapsed:.1f}", "non2xx": str(bad), "p50": "?", "p99": "?",
            "socket_errors": "none", "raw": ""}  # fmt: skip


def _junk_request(name_hash: bytes, key_hash: bytes, serials: list[int], nonce: bytes) -> bytes:
    """A DER OCSP request (RFC 6960 §4.1.1) for ``serials`` under one issuer, with a nonce."""
    entries = [
        d.sequence(
            d.sequence(
                d.sequence(d.oid("1.3.14.3.2.26"), d.null()),
                d.octet_string(name_hash),
                d.octet_string(key_hash),
                d.integer(serial),
            )
        )
        for serial in serials
    ]
    nonce_ext = d.sequence(d.oid("1.3.6.1.5.5.7.48.1.2"), d.octet_string(d.octet_string(nonce)))
    tbs = d.sequence(d.sequence(*entries), d.tlv(d.explicit(2), d.sequence(nonce_ext)))
    return d.sequence(tbs)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _send_each(port: int, bodies: list[bytes], connections: int) -> dict[str, int]:
    """POST every body once over ``connections`` keep-alive connections; answers by status."""
    counts: dict[str, int] = {}
    queue = list(reversed(bodies))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                writer.write(
                    b"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/ocsp-request\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                found = re.search(rb"(?i)content-length:\s*(\d+)", head)
                answer = await reader.readexactly(int(found.group(1)) if found else 0)
                status = ocsp.load_der_ocsp_response(answer).response_status.name
                counts[status] = counts.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return counts


def _junk_phase(
    port: int, pid: int, jpki_hashes: tuple[bytes, bytes], real: bytes, count: int
) -> list[str]:
    """Junk at the server; Markdown lines with its memory before and after."""
    name_hash, key_hash = jpki_hashes
    url = f"http://127.0.0.1:{port}/ocsp"

    def post(body: bytes) -> bytes:
        req = urllib.request.Request(url, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return bytes(resp.read())

    before_answer = post(real)
    before = _rss_mib(pid)
    rows = []
    for label, nonce_size in (("128-octet nonce", 128), ("8 KB nonce (refused)", 8000)):
        bodies = []
        for i in range(count):
            serial = int.from_bytes(os.urandom(19), "big")
            serials = [serial, serial + 1, serial + 2] if i % 3 == 0 else [serial]
            bodies.append(_junk_request(name_hash, key_hash, serials, os.urandom(nonce_size)))
        start = time.perf_counter()
        counts = asyncio.run(_send_each(port, bodies, 16))
        took = time.perf_counter() - start
        answered = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        rows.append(
            f"| {count:,} with a {label} | {took:.1f} s | {answered} | {_rss_mib(pid):.0f} |"
        )
    same = post(real) == before_answer
    return [
        "## J2 — OCSP responder memory under junk",
        "",
        f"{count:,} requests for random serials per row (a third for three serials at once), "
        "16 keep-alive connections, one after the other against the same server.",
        "",
        "| junk | time | answers | server VmRSS after (MiB) |",
        "|---|---|---|---|",
        f"| (none: after the throughput run) | | | {before:.0f} |",
        *rows,
        "",
        f"A real certificate's pre-signed answer served byte for byte afterwards: {same}.",
    ]


def main() -> None:
    """Run the benchmark and print (and optionally write) a Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--certs", type=int, default=500)
    parser.add_argument("--client", choices=("wrk", "python"), default=None)
    parser.add_argument("--junk", type=int, default=0, help="then measure memory under junk")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    client = args.client or ("wrk" if shutil.which("wrk") else "python")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = cpus[0], cpus[-1]

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="openmyna-bench-ocsp-") as tmp:
        data = Path(tmp) / "data"
        pki = PkiSettings(base_url=base, presign_on_issue=False)
        jpki = Jpki.open(Settings(data_dir=data, pki=pki), SystemClock())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = jpki.ca_certificate(CertKind.AUTH)
        ca_hashes = jpki.authority(CertKind.AUTH).hashes["sha1"]
        certs, paths = [], []
        for i in range(args.certs):
            cert = jpki.issue_auth_cert(
                key.public_key(), resident_code=_code(i), date_of_birth=dt.date(1985, 6, 1),
                card_expiry=None,
            )  # fmt: skip
            certs.append(cert)
            path = Path(tmp) / f"req{i}.der"
            path.write_bytes(ocsp_request(cert, ca))
            paths.append(path)
        jpki.close()
        script = Path(tmp) / "ocsp.lua"
        script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))

        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
        env["OPENMYNA_DATA_DIR"] = str(data)
        server = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(server_cpu),
                sys.executable,
                "-c",
                "from openmyna.pki.cli import app; app()",
                "serve",
                "--port",
                str(port),
                "--no-events",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    req = urllib.request.Request(
                        f"{base}/ocsp", data=paths[0].read_bytes(), method="POST"
                    )
                    with urllib.request.urlopen(req, timeout=2) as resp:
                        answer = resp.read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the OCSP server did not start") from None
                    time.sleep(0.2)
            state = parse_ocsp_response(answer, certs[0], ca, dt.datetime.now(dt.UTC)).state
            assert state.value == "good", state
            bodies = [p.read_bytes() for p in paths]
            if client == "wrk":
                _wrk(f"{base}/ocsp", script, 3, args.connections, client_cpu)  # warm-up
                result = _wrk(f"{base}/ocsp", script, args.seconds, args.connections, client_cpu)
            else:
                os.sched_setaffinity(0, {client_cpu})
                asyncio.run(_python_client(port, bodies, 3, args.connections))
                result = asyncio.run(_python_client(port, bodies, args.seconds, args.connections))
            junk_lines = (
                _junk_phase(port, server.pid, ca_hashes, bodies[0], args.junk) if args.junk else []
            )
        finally:
            server.terminate()
            server.wait(timeout=10)

    rps = float(result["rps"])
    lines = [
        "## J2 — OCSP responses per second over HTTP",
        "",
        f"Machine: {describe()}.",
        f"Command: `.venv/bin/python -m benchmarks.ocsp_http --seconds {args.seconds:g}"
        f" --connections {args.connections}` (client: {client}).",
        f"Server: `openmyna pki serve` (uvicorn, one process) pinned to CPU {server_cpu}; "
        f"load generator pinned to CPU {client_cpu}; {args.certs} certificates, "
        "keep-alive POSTs of DER requests cycling through them.",
        "",
        "| responses/s | p50 latency | p99 latency | non-2xx | socket errors |",
        "|---|---|---|---|---|",
        f"| {rps:,.0f} | {result['p50']} | {result['p99']} | {result['non2xx']} | "
        f"{result['socket_errors']} |",
        "",
        f"Target >= {TARGET:,.0f}/s: {'met' if rps >= TARGET else 'missed'}.",
    ]
    if junk_lines:
        lines += ["", *junk_lines]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
