"""``openmyna registry …`` through Typer's test runner, on a temporary data dir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmyna.errors import OpenMynaError
from openmyna.registry.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty installation (SQLite, embedded bus)."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for the tables
    return tmp_path


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def _code(output: str) -> str:
    found = re.search(r"\b(\d{11})\b", output)
    assert found is not None, output
    return found.group(1)


PERSON = [
    "--family-name", "山田", "--given-name", "太郎", "--family-kana", "ヤマダ",
    "--given-kana", "タロウ", "--born", "1980-05-17", "--sex", "male",
]  # fmt: skip


def test_a_resident_from_arrival_to_removed_record() -> None:
    out = run("add", "--lg-code", "102016", *PERSON, "--address", "群馬県前橋市大手町1番")
    code = _code(out)
    household = re.search(r"household: (\w+)", out)
    assert household is not None

    baby = [
        "--family-name", "山田", "--given-name", "花", "--family-kana", "ヤマダ",
        "--given-kana", "ハナ", "--born", "2020-01-02", "--sex", "女",
    ]  # fmt: skip
    out = run("add", "-m", "102016", *baby, "--birth", "--household", household.group(1))
    baby_code = _code(out)

    shown = json.loads(run("show", code, "--json"))
    assert shown["family_name"] == "山田"
    assert shown["lg_code"] == "102016"
    assert shown["individual_number"].startswith("****")
    revealed = json.loads(run("show", code, "--json", "--reveal"))
    assert re.fullmatch(r"\d{12}", revealed["individual_number"])

    listing = run("list", "--lg-code", "102016")
    assert "山田 太郎" in listing
    assert revealed["individual_number"] not in listing
    assert run("list", "--count").strip() == "2"

    run("rename", code, "--given-name", "一郎", "--given-kana", "イチロウ")
    run("move", "within", code, "--address", "群馬県前橋市千代田町2番", "--whole-household")
    assert json.loads(run("show", baby_code, "--json"))["address"] == "群馬県前橋市千代田町2番"

    run("move", "out", code, "--destination", "兵庫県神戸市中央区1番", "--to-lg-code", "281000")
    run("move", "in", code, "--lg-code", "281000", "--from-lg-code", "102016",
        "--address", "兵庫県神戸市中央区1番")  # fmt: skip
    moved = json.loads(run("show", code, "--json"))
    assert moved["lg_code"] == "281000"
    assert moved["given_name"] == "一郎"
    assert json.loads(run("show", code, "--json", "-m", "102016"))["status"] == "removed"
    assert "removed" not in run("index", code)

    run("death", code)
    assert "died" in run("index", code)
    assert "除票" in run("list", "--removed", "-m", "281000")
    assert run("list", "--count", "--removed").strip() == "2"  # 前橋市's and 神戸市's
    run("abroad", baby_code, "--country", "USA")
    assert run("list", "--count").strip() == "0"

    table = run("municipalities")
    assert "群馬県前橋市" in table
    assert "兵庫県神戸市" in table


def test_domain_errors_propagate_with_their_code() -> None:
    with pytest.raises(OpenMynaError) as info:
        run("add", "--lg-code", "102015", *PERSON, "--address", "x")
    assert info.value.code == "INVALID_LG_CODE"
    with pytest.raises(OpenMynaError) as info:
        run("add", "--lg-code", "102016", *PERSON[:-2], "--sex", "x", "--address", "x")
    assert info.value.code == "INVALID_RESIDENT_DATA"
    with pytest.raises(OpenMynaError) as info:
        run("add", "--lg-code", "102016", *PERSON, "--address", "x", "--on", "2026-13-01")
    assert info.value.code == "INVALID_DATE"
    out = run("add", "--lg-code", "102016", *PERSON, "--address", "x")
    with pytest.raises(OpenMynaError) as info:
        run("move", "in", _code(out), "-m", "281000", "--from-lg-code", "102016",
            "--address", "y")  # fmt: skip
    assert info.value.code == "NO_MOVE_OUT"


def test_a_foreign_residents_period_of_stay_from_the_command_line() -> None:
    out = run(
        "add", "--lg-code", "102016", *PERSON, "--address", "群馬県前橋市大手町1番",
        "--from-country", "ベトナム", "--stay-expires-on", "2027-09-30",
    )  # fmt: skip
    shown = json.loads(run("show", _code(out), "--json"))
    assert shown["stay_expires_on"] == "2027-09-30"
    out = run("add", "-m", "102016", *PERSON, "--address", "群馬県前橋市大手町2番")
    assert json.loads(run("show", _code(out), "--json"))["stay_expires_on"] is None
