"""Counter operations need the operator token; the operator and the documents are recorded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from card_helpers import StubJpki
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.card import cli as card_cli
from openmyna.card.cli import app
from openmyna.card.counter import CounterCheck, IdentityDocument
from openmyna.errors import OpenMynaError

runner = CliRunner()
TOKEN = "counter-token-0123456789"
AT_THE_COUNTER = ("--operator", "suzuki", "--identity-document", "旅券")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty installation (SQLite, embedded bus) with a stub JPKI issuer and no token."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_OPERATOR_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    jpki = StubJpki()

    def parts() -> Builder:
        built = Builder.from_environment()
        built.provide("jpki", jpki)
        return built

    monkeypatch.setattr(card_cli, "_parts", parts)
    return tmp_path


def run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str, input: str | None = None) -> OpenMynaError:
    with pytest.raises(OpenMynaError) as caught:
        run(*args, input=input)
    return caught.value


def _new(path: Path) -> str:
    out = run("new", "--out", str(path), "--auth-pin", "1234", "--sign-password", "PASS1234")
    found = re.search(r"card (\w+): active", out)
    assert found is not None, out
    return found.group(1)


def _pin_resets() -> list[tuple[str, str]]:
    with Builder.from_environment() as parts:
        entries = parts.cards().audit_entries()
    return [(e.actor, e.reason) for e in entries if e.action == "card.pin_reset"]


def _lock_the_auth_pin(path: Path) -> str:
    for _ in range(3):
        refused("sign", "-r", str(path), "--digest", "00" * 32, "--pin", "0000")
    return run("pin", "-r", str(path), "--status")


def test_unlock_is_refused_without_a_configured_token_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "me.card"
    _new(path)
    locked = _lock_the_auth_pin(path)
    error = refused("unlock", "-r", str(path), "--pin", "auth", *AT_THE_COUNTER, input="x\n")
    assert error.code == "NO_OPERATOR_CONFIGURED"
    assert run("pin", "-r", str(path), "--status") == locked
    assert _pin_resets() == []


def test_unlock_is_refused_with_a_wrong_token_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "me.card"
    _new(path)
    locked = _lock_the_auth_pin(path)
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    for wrong in ("", "counter-token-9876543210", TOKEN.upper()):
        result = runner.invoke(
            app, ["unlock", "-r", str(path), "--pin", "auth", *AT_THE_COUNTER], input=f"{wrong}\n"
        )
        assert isinstance(result.exception, OpenMynaError | SystemExit), result.output
        if isinstance(result.exception, OpenMynaError):
            assert result.exception.code == "OPERATOR_REQUIRED"
    assert run("pin", "-r", str(path), "--status") == locked
    assert _pin_resets() == []


def test_unlock_with_the_token_records_the_operator_and_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "me.card"
    _new(path)
    _lock_the_auth_pin(path)
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    out = run("unlock", "-r", str(path), "--pin", "auth", *AT_THE_COUNTER, input=f"{TOKEN}\n")
    assert "PIN reset" in out
    assert TOKEN not in out  # the prompt hides it
    assert re.search(r"auth PIN.*3", run("pin", "-r", str(path), "--status"))
    [(actor, reason)] = _pin_resets()
    assert actor == "suzuki"
    assert "旅券" in reason


def test_the_documents_follow_the_counter_rule_before_anything_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    path = tmp_path / "me.card"
    _new(path)
    base = ("unlock", "-r", str(path), "--pin", "auth", "--operator", "suzuki")
    assert refused(*base, "--identity-document", "a library card").code == "INVALID_INPUT"
    one_b = refused(*base, "--identity-document", "student_id")
    assert one_b.code == "IDENTITY_CHECK_REQUIRED"
    two_b = ("--identity-document", "student_id", "--identity-document", "年金手帳")
    assert "PIN reset" in run(*base, *two_b, input=f"{TOKEN}\n")
    assert "PIN reset" in run(*base, "--identity-document", "residence-card", input=f"{TOKEN}\n")


def test_the_document_list() -> None:
    assert IdentityDocument.parse("driving_licence") is IdentityDocument.DRIVING_LICENCE
    assert IdentityDocument.parse("在留カード").photo_id
    assert not IdentityDocument.HEALTH_INSURANCE_CERTIFICATE.photo_id
    check = CounterCheck.of(" tanaka ", ["passport", "旅券"])
    assert check.operator == "tanaka"
    assert check.documents == (IdentityDocument.PASSPORT,)


def test_found_return_and_continue_are_counter_operations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_id = _new(tmp_path / "me.card")
    assert "suspended (lost)" in run("lost", card_id)  # anyone may report a loss
    for command in ("found", "continue", "return"):
        assert refused(command, card_id, *AT_THE_COUNTER).code == "NO_OPERATOR_CONFIGURED"
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    assert refused("found", card_id, *AT_THE_COUNTER, input="wrong\n").code == ("OPERATOR_REQUIRED")
    assert "suspended (lost)" in run("status", card_id)
    assert "active" in run("found", card_id, *AT_THE_COUNTER, input=f"{TOKEN}\n")
    assert "returned" in run("return", card_id, *AT_THE_COUNTER, input=f"{TOKEN}\n")
    with Builder.from_environment() as parts:
        entries = parts.cards().audit_entries(card_id)
    counter = [e for e in entries if e.actor == "suzuki"]
    assert len(counter) == 2
    assert all("旅券" in e.reason for e in counter)


def test_issuing_to_a_registered_resident_is_a_counter_operation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first.card"
    card_id = _new(first)
    code = re.search(r"resident (\d+)", run("status", card_id))
    assert code is not None
    again = ("new", "--out", str(tmp_path / "again.card"), "--resident", code.group(1))
    secrets = ("--auth-pin", "1234", "--sign-password", "PASS1234")
    assert refused(*again, *secrets).code == "INVALID_INPUT"  # no --operator
    assert refused(*again, *secrets, *AT_THE_COUNTER).code == "NO_OPERATOR_CONFIGURED"
    assert not (tmp_path / "again.card").exists()
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    assert refused(*again, *secrets, *AT_THE_COUNTER, input="no\n").code == "OPERATOR_REQUIRED"
    assert not (tmp_path / "again.card").exists()
    run("return", card_id, *AT_THE_COUNTER, input=f"{TOKEN}\n")
    out = run(*again, *secrets, *AT_THE_COUNTER, input=f"{TOKEN}\n")
    assert "issued: card" in out
    with Builder.from_environment() as parts:
        issued = [e for e in parts.cards().audit_entries() if e.action == "card.issued"]
    assert issued[-1].actor == "suzuki"
    assert "旅券" in issued[-1].reason


def test_refusals_exit_with_the_domain_codes(tmp_path: Path) -> None:
    """Through the installed entry point: no token configured, or a wrong one, exits 1."""
    env = dict(os.environ, OPENMYNA_DATA_DIR=str(tmp_path / "data"))
    env.pop("OPENMYNA_DATABASE_URL", None)
    env.pop("OPENMYNA_OPERATOR_TOKEN", None)
    command = [
        sys.executable,
        "-c",
        "from openmyna.cli import main; main()",
        "card",
        "unlock",
        "-r",
        str(tmp_path / "me.card"),
        "--pin",
        "auth",
        *AT_THE_COUNTER,
    ]
    none = subprocess.run(command, env=env, input="", capture_output=True, text=True, check=False)
    assert none.returncode == 1, none.stderr
    assert "NO_OPERATOR_CONFIGURED" in none.stderr
    env["OPENMYNA_OPERATOR_TOKEN"] = TOKEN
    wrong = subprocess.run(
        command, env=env, input="not the token\n", capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 1, wrong.stderr
    assert "OPERATOR_REQUIRED" in wrong.stderr
    assert TOKEN not in wrong.stdout + wrong.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing opened or created


def test_reading_a_file_that_is_not_a_card_leaves_nothing_beside_it(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("just some notes, not a card file at all; " * 4)
    assert refused("read", "--reader", str(other)).code == "CARD_FILE_INVALID"
    assert not (tmp_path / "notes.txt.lock").exists()
    card = tmp_path / "me.card"
    _new(card)
    assert "JPKIAPICCTOKEN2" in run("read", "--reader", str(card))
    assert not (tmp_path / "me.card.lock").exists()
