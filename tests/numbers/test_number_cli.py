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
