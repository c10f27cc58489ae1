"""The installed ``openmyna`` command, run as a user would, in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

OPENMYNA = shutil.which("openmyna", path=os.path.dirname(sys.executable)) or "openmyna"


def run(args: list[str], data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENMYNA_DATA_DIR": str(data_dir)}
    env.pop("OPENMYNA_DATABASE_URL", None)
    env.pop("OPENMYNA_BUS_URL", None)
    return subprocess.run(
        [OPENMYNA, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_number_check_exit_codes(tmp_path: Path) -> None:
    ok = run(["number", "check", "123456789018"], tmp_path)
    assert ok.returncode == 0
    assert "Individual" in ok.stdout
    corp = run(["number", "check", "7123456789012"], tmp_path)
    assert corp.returncode == 0
    assert "Corporate" in corp.stdout
    bad = run(["number", "check", "895980423138"], tmp_path)
    assert bad.returncode == 1
    assert "INVALID_NUMBER" in bad.stderr
    assert "895980423138" not in bad.stderr + bad.stdout
    usage = run(["number", "check", "123456789018", "extra"], tmp_path)
    assert usage.returncode == 2  # Typer's usage error: one number at most
    nothing = run(["number", "check"], tmp_path)  # no number: read from stdin, which is empty
    assert nothing.returncode == 1
    assert "INVALID_INPUT" in nothing.stderr


def test_demo_seed_only_then_reuse_then_reset(tmp_path: Path) -> None:
    first = run(["demo", "--seed-only", "--residents", "300"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "seeded 300 residents" in first.stderr
    count = run(["registry", "list", "--count"], tmp_path)
    assert count.returncode == 0
    assert count.stdout.strip() == "300"
    again = run(["demo", "--seed-only", "--residents", "500"], tmp_path)
    assert again.returncode == 0
    assert "reusing" in again.stderr
    assert run(["registry", "list", "--count"], tmp_path).stdout.strip() == "300"
    reset = run(["demo", "--seed-only", "--reset", "--residents", "120"], tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert run(["registry", "list", "--count"], tmp_path).stdout.strip() == "120"


def test_number_issue_prints_fresh_valid_numbers(tmp_path: Path) -> None:
    one = run(["number", "issue", "--count", "50"], tmp_path)
    two = run(["number", "issue", "--count", "50"], tmp_path)
    assert one.returncode == 0
    assert two.returncode == 0
    numbers = one.stdout.split() + two.stdout.split()
    assert len(numbers) == 100
    assert len(set(numbers)) == 100
    assert all(run(["number", "check", n], tmp_path).returncode == 0 for n in numbers[:3])


def test_serve_answers_http(tmp_path: Path) -> None:
    assert run(["demo", "--seed-only", "--residents", "100"], tmp_path).returncode == 0
    port = free_port()
    env = {**os.environ, "OPENMYNA_DATA_DIR": str(tmp_path)}
    env.pop("OPENMYNA_DATABASE_URL", None)
    env.pop("OPENMYNA_BUS_URL", None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [OPENMYNA, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {log.read_text()}")
                time.sleep(0.3)
        assert health["status"] == "ok"
        assert health["municipalities"] == 5
        url = f"http://127.0.0.1:{port}/api/registry/municipalities"
        with urllib.request.urlopen(url, timeout=5) as r:
            rows = json.loads(r.read())
        assert sum(row["residents"] for row in rows) == 100
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("server did not stop on SIGINT")
    assert proc.returncode in (0, -signal.SIGINT)
