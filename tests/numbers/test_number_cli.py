"""``openmyna number check`` and ``openmyna number issue`` (the sub-app)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from openmyna import number_cli
from openmyna.config import Settings
from openmyna.number_cli import app
from openmyna.numbers import NumberingAuthority, is_valid_individual_number

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point ``Settings()`` (as the CLI reads it) at the test's backend."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENMYNA_SCHEMA_PREFIX", settings.schema_prefix)
    if settings.database_url is None:
        monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("OPENMYNA_DATABASE_URL", settings.database_url)
    return settings


def test_check_individual_number_masks_it() -> None:
    result = runner.invoke(app, ["check", "123456789018"])
    assert result.exit_code == 0
    assert "Individual Number" in result.stdout
    assert "**** **** 9018" in result.stdout
    assert "123456789018" not in result.stdout


def test_check_corporate_number_and_resident_code() -> None:
    result = runner.invoke(app, ["check", "4011001098993"])
    assert result.exit_code == 0
    assert "Corporate Number" in result.stdout
    assert "4011001098993" in result.stdout  # public: shown in full
    result = runner.invoke(app, ["check", "10000000006"])
    assert result.exit_code == 0
    assert "resident-record code" in result.stdout


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("895980423138", "check digit"),
        ("2010001163285", "check digit"),
        ("12345", "12 digits"),
        ("12345678901x", "only the digits"),
        ("10000000007", "check digit"),
    ],
)
def test_check_invalid_exits_1_with_the_reason(number: str, reason: str) -> None:
    result = runner.invoke(app, ["check", number])
    assert result.exit_code == 1
    assert reason in result.stderr
    assert "INVALID_NUMBER" in result.stderr
    assert number not in result.stdout + result.stderr


def test_issue_prints_fresh_valid_numbers(env: Settings) -> None:
    result = runner.invoke(app, ["issue", "--count", "25"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 25
    assert all(is_valid_individual_number(x) for x in lines)
    again = runner.invoke(app, ["issue", "-n", "25"]).stdout.splitlines()
    assert len(set(lines) | set(again)) == 50
    with NumberingAuthority.open(env) as authority:
        assert authority.serials_issued() == 50


def test_issue_with_codes_and_progress(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(number_cli, "PROGRESS_THRESHOLD", 10)
    monkeypatch.setattr(number_cli, "_CHUNK", 7)
    result = runner.invoke(app, ["issue", "--count", "20", "--with-codes"])
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == 20
    with NumberingAuthority.open(env) as authority:
        for code, number in rows:
            assert authority.individual_number_for(code) == number
    assert "issuing" in result.stderr


def test_issue_refuses_a_zero_count(env: Settings) -> None:
    result = runner.invoke(app, ["issue", "--count", "0"])
    assert result.exit_code == 2


def test_sub_app_runs_as_a_program(tmp_path: os.PathLike[str]) -> None:
    env = dict(os.environ, OPENMYNA_DATA_DIR=str(tmp_path))
    env.pop("OPENMYNA_DATABASE_URL", None)
    code = "from openmyna.number_cli import app; app()"
    ok = subprocess.run(
        [sys.executable, "-c", code, "issue", "-n", "3"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.split()) == 3
    bad = subprocess.run(
        [sys.executable, "-c", code, "check", "895980423138"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "check digit" in bad.stderr


@pytest.mark.parametrize("args", [["check"], ["check", "-"]])
def test_check_reads_the_number_from_stdin(args: list[str]) -> None:
    result = runner.invoke(app, args, input="123456789018\n")
    assert result.exit_code == 0, result.stderr
    assert "**** **** 9018: valid Individual Number" in result.stdout
    assert "123456789018" not in result.stdout + result.stderr
    bad = runner.invoke(app, args, input="895980423138\n")
    assert bad.exit_code == 1
    assert "INVALID_NUMBER" in bad.stderr


@pytest.mark.parametrize("piped", ["", "\n\n", "1" * 100])
def test_check_refuses_empty_or_oversized_stdin(piped: str) -> None:
    result = runner.invoke(app, ["check"], input=piped)
    assert result.exit_code == 1
    assert "INVALID_INPUT" in result.stderr


def test_check_at_a_terminal_asks_with_a_hidden_prompt() -> None:
    """On a real terminal (a pty), the typed number is not echoed back."""
    import pty
    import select
    import signal
    import time

    code = "from openmyna.number_cli import app; app(['check'])"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execv(sys.executable, [sys.executable, "-c", code])
    output, sent = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            # click writes "Number:", then getpass turns echo off (flushing what was typed)
            # and writes the last space: type only after it.
            if not sent and b"Number: " in output:
                os.write(fd, b"123456789018\n")
                sent = True
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "**** **** 9018: valid Individual Number" in text
    assert "123456789018" not in text
