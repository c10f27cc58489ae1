"""``registry move within`` then ``card update`` through the CLI, with the real JPKI issuer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.cli import build
from openmyna.errors import OpenMynaError
from openmyna.pki import CertStatus

runner = CliRunner()
TOKEN = "counter-token-0123456789"
COUNTER = ("--operator", "suzuki", "--identity-document", "運転免許証")
NEW_ADDRESS = "群馬県前橋市千代田町二丁目12番1号"


@pytest.fixture(autouse=True)
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty installation (SQLite, embedded bus, the real JPKI) with an operator token."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(build(list(args)), list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def _field(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, text
    return found.group(1)


def _sign_status(serial_hex: str) -> CertStatus:
    with Builder.from_environment() as parts:
        return parts.jpki().status(int(serial_hex, 16))


def test_after_a_move_within_the_update_writes_the_new_address_and_revokes_the_old_cert(
    tmp_path: Path,
) -> None:
    card = tmp_path / "me.card"
    issued = run(
        "card", "new", "--out", str(card), "--auth-pin", "1234", "--sign-password", "PASS1234"
    )
    card_id = _field(r"card (\w+): active", issued)
    resident = _field(r"resident (\d{11})", issued)
    old = _field(
        r"serial: ([0-9A-F]+)",
        run("card", "read", "-r", str(card), "--sign-cert", "--pin", "PASS1234"),
    )
    assert _sign_status(old) is CertStatus.GOOD
    assert "STALE" not in run("card", "status", card_id)

    run("registry", "move", "within", resident, "--address", NEW_ADDRESS)
    stale = run("card", "status", card_id)
    assert "card data STALE" in stale
    assert "the address changed in the registry" in stale

    out = run(
        "card", "update", "-r", str(card), *COUNTER, input=f"{TOKEN}\n1234\nNEWPASS9\nNEWPASS9\n"
    )
    assert TOKEN not in out
    assert "items rewritten on the chip and the face: address" in out
    assert f"previous signature certificate {old}: revoked" in out
    new = _field(r"new signature certificate: ([0-9A-F]+)", out)

    items = run("card", "read", "-r", str(card), "--items", "--pin", "1234")
    assert f"address: {NEW_ADDRESS}" in items
    assert "signature: valid" in items
    assert _sign_status(old) is CertStatus.REVOKED
    assert _sign_status(new) is CertStatus.GOOD
    on_card = run("card", "read", "-r", str(card), "--sign-cert", "--pin", "NEWPASS9")
    assert f"serial: {new}" in on_card
    assert "STALE" not in run("card", "status", card_id)


@pytest.mark.pcsc  # it asks pcscd's vpcd reader, which must hold no card
def test_the_update_needs_the_operator_and_a_wrong_holder_pin_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = tmp_path / "me.card"
    issued = run(
        "card", "new", "--out", str(card), "--auth-pin", "1234", "--sign-password", "PASS1234"
    )
    resident = _field(r"resident (\d{11})", issued)
    run("registry", "move", "within", resident, "--address", NEW_ADDRESS)
    with pytest.raises(OpenMynaError) as wrong_token:
        run("card", "update", "-r", str(card), *COUNTER, input="not-the-token-000000\n")
    assert wrong_token.value.code == "OPERATOR_REQUIRED"
    with pytest.raises(OpenMynaError) as wrong_pin:
        run("card", "update", "-r", str(card), *COUNTER, "--no-sign-cert", input=f"{TOKEN}\n9999\n")
    assert wrong_pin.value.code == "PIN_WRONG"
    assert NEW_ADDRESS not in run("card", "read", "-r", str(card), "--items", "--pin", "1234")
    with pytest.raises(OpenMynaError) as pcsc:
        run("card", "update", "-r", "vpcd", *COUNTER, input=f"{TOKEN}\n")
    assert pcsc.value.code == "READER_UNAVAILABLE"
    monkeypatch.delenv("OPENMYNA_OPERATOR_TOKEN")
    with pytest.raises(OpenMynaError) as none:
        run("card", "update", "-r", str(card), *COUNTER)
    assert none.value.code == "NO_OPERATOR_CONFIGURED"
