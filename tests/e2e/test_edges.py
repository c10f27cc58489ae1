"""The edges of the installed servers, as processes: who may listen where, half-sent requests.

``openmyna serve`` refuses to offer personal data beyond this machine with no operator token;
``openmyna serve``, ``openmyna pki serve`` and ``openmyna network hub`` drop a half-sent
request after ``OPENMYNA_HTTP_HEADER_TIMEOUT`` (docs/security.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from edge_helpers import connect, free_port, problem_of, until_closed

OPENMYNA = shutil.which("openmyna", path=os.path.dirname(sys.executable)) or "openmyna"
TOKEN = "operator-token-for-the-tests"
HALF = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
    env["OPENMYNA_DATA_DIR"] = str(data_dir)
    env["OPENMYNA_HTTP_HEADER_TIMEOUT"] = "1"
    env.update(extra)
    return env


@contextmanager
def _running(
    args: list[str],
    env: dict[str, str],
    ready: str,
    log: Path,
    context: ssl.SSLContext | None = None,
) -> Iterator[None]:
    """``openmyna args`` until the block ends, once ``ready`` (a URL) answers at all."""
    with log.open("w") as out:
        proc = subprocess.Popen([OPENMYNA, *args], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(ready, timeout=2, context=context).close()
                break
            except urllib.error.HTTPError as answered:
                answered.close()
                break  # it answers
            except (OSError, ssl.SSLError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{args[0]} did not start: {log.read_text()}")
                time.sleep(0.3)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{args[0]} did not stop on SIGINT")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.org", ""])
def test_serving_personal_data_beyond_localhost_without_a_token_is_refused(
    tmp_path: Path, host: str
) -> None:
    for args in (["serve", "--host", host], ["demo", "--residents", "10", "--host", host]):
        done = subprocess.run(
            [OPENMYNA, *args, "--port", str(free_port())],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done.stderr  # refused (a domain error), not usage (2)
        assert "EXPOSED_WITHOUT_OPERATOR" in done.stderr
        assert "OPENMYNA_OPERATOR_TOKEN" in done.stderr
        assert "seeded" not in done.stderr  # the demo refuses before seeding


def test_serve_beyond_localhost_with_a_token_guards_and_drops_half_requests(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = _env(tmp_path, OPENMYNA_OPERATOR_TOKEN=TOKEN)
    base = f"http://127.0.0.1:{port}"
    with _running(
        ["serve", "--host", "0.0.0.0", "--port", str(port)],
        env,
        f"{base}/healthz",
        tmp_path / "serve.log",
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/registry/102016/residents", timeout=5)
        refused.value.close()
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
        request = urllib.request.Request(
            f"{base}/api/registry/102016/residents", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with pytest.raises(urllib.error.HTTPError) as past_the_guard:
            urllib.request.urlopen(request, timeout=5)  # nothing is seeded here
        with past_the_guard.value as not_found:
            assert not_found.code == 404
            assert b"MUNICIPALITY_NOT_FOUND" in not_found.read()
        with connect(port) as sock:
            sock.sendall(HALF)
            answer, _ = until_closed(sock, 4)
        assert problem_of(answer)[0] == 408


def test_pki_serve_drops_half_sent_requests(tmp_path: Path) -> None:
    port = free_port()
    with _running(
        ["pki", "serve", "--no-events", "--port", str(port)],
        _env(tmp_path),
        f"http://127.0.0.1:{port}/crl/auth",
        tmp_path / "pki.log",
    ):
        with connect(port) as sock:
            sock.sendall(HALF)
            answer, _ = until_closed(sock, 4)
        assert problem_of(answer)[0] == 408
        with connect(port) as sock:
            sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status, _, body = problem_of(until_closed(sock, 10)[0])
        assert (status, body["title"]) == (404, "NOT_FOUND")


def test_the_network_hub_drops_half_sent_requests(tmp_path: Path) -> None:
    from openmyna.builder import Builder
    from openmyna.clock import SystemClock
    from openmyna.config import Settings
    from openmyna.network import tls

    port = free_port()
    with Builder(Settings(data_dir=tmp_path / "data"), SystemClock()) as parts:
        ca = parts.network_ca()
        context = tls.client_context(ca.node("lg-102016"), ca.ca_certificate(), ca.crl_path)
    with _running(
        ["network", "hub", "--port", str(port)],
        _env(tmp_path / "data"),
        f"https://127.0.0.1:{port}/healthz",
        tmp_path / "hub.log",
        context,
    ):
        with connect(port, context=context) as sock:
            sock.sendall(HALF)
            answer, after = until_closed(sock, 4)
        assert problem_of(answer)[0] == 408
        assert after < 4
