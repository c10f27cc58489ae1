"""``openmyna ekyc business|key|audit|bill`` (the operator token) and ``openmyna ekyc sign``."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from ekyc_helpers import SIGN_PASSWORD, challenge, holder
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.card import CardFile
from openmyna.cli import build
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.platform import Platform

runner = CliRunner()
TOKEN = "operator-token-0123456789"


@dataclass(frozen=True)
class Installation:
    settings: Settings
    clock: FixedClock
    card: Path


@pytest.fixture
def installation(
    settings: Settings, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Installation:
    """A platform with one card holder, closed; the environment names it and the token."""
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        card = tmp_path / "customer.card"
        CardFile.create(card, person.card, settings=settings).close()
    finally:
        platform.close()
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", clock.now().isoformat())
    monkeypatch.setenv("OPENMYNA_SCHEMA_PREFIX", settings.schema_prefix)
    if settings.database_url:
        monkeypatch.setenv("OPENMYNA_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("COLUMNS", "200")
    return Installation(settings, clock, card)


def run(*args: str, input: str | None = TOKEN + "\n") -> str:
    result = runner.invoke(build(list(args)), list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str, input: str | None = TOKEN + "\n") -> OpenMynaError:
    with pytest.raises(OpenMynaError) as caught:
        run(*args, input=input)
    return caught.value


def test_the_operator_registers_a_business_and_bills_it(installation: Installation) -> None:
    added = run("ekyc", "business", "add", "--name", "みどり銀行", "--contact", "kyc@bank.example")
    business_id = re.search(r"registered: (biz_[0-9a-f]{12}) active", added)
    key = re.search(r"API key \(shown once\): (ekyc_\S+)", added)
    assert business_id is not None
    assert key is not None
    assert "20 yen per query" in added
    listed = run("ekyc", "business", "list")
    assert business_id.group(1) in listed
    assert "みどり銀行" in listed
    assert key.group(1) not in listed

    # The customer signs the bank's challenge with the card file; the bank asks the platform.
    data = challenge()
    words = ["ekyc", "sign", "--reader", str(installation.card), "--password-stdin"]
    signed = run(*words, "--challenge", base64.b64encode(data).decode(), input=SIGN_PASSWORD)
    cms = base64.b64decode(signed.strip().splitlines()[-1])
    with Builder(installation.settings, installation.clock) as parts:
        ekyc = parts.ekyc()
        result = ekyc.verify_cms(ekyc.authenticate(key.group(1)), cms, data)
        assert result.items.name == "山田 花子"

    audit = run("ekyc", "audit", business_id.group(1))
    assert "accepted" in audit
    assert "good (ocsp)" in audit
    assert "山田" not in audit
    bill = run("ekyc", "bill", "--month", installation.clock.now().strftime("%Y-%m"))
    assert re.search(rf"{business_id.group(1)}.*みどり銀行.*2026-04 .*1 .*1 .*20", bill)

    second = run("ekyc", "key", "add", business_id.group(1))
    key_id = re.search(r"API key ([0-9a-f]{12}) \(shown once\)", second)
    assert key_id is not None
    assert "revoked" in run("ekyc", "key", "revoke", key_id.group(1))
    assert "suspended:" in run("ekyc", "business", "suspend", business_id.group(1))
    assert refused("ekyc", "business", "suspend", business_id.group(1)).code == "CONFLICT"
    assert "resumed:" in run("ekyc", "business", "resume", business_id.group(1))
    assert refused("ekyc", "bill", "--month", "2026-4").code == "INVALID_INPUT"
    assert refused("ekyc", "audit", "biz_000000000000").code == "EKYC_BUSINESS_NOT_FOUND"


def test_the_operator_commands_need_the_token(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    add = ("ekyc", "business", "add", "--name", "x", "--contact", "y")
    assert refused(*add, input="wrong-token-000000000\n").code == "OPERATOR_REQUIRED"
    monkeypatch.delenv("OPENMYNA_OPERATOR_TOKEN")
    assert refused(*add).code == "NO_OPERATOR_CONFIGURED"
    with Builder(installation.settings, installation.clock) as parts:
        assert parts.ekyc().businesses() == []


def test_sign_needs_one_challenge(installation: Installation) -> None:
    words = ("ekyc", "sign", "--reader", str(installation.card), "--password-stdin")
    assert refused(*words, input=SIGN_PASSWORD).code == "INVALID_INPUT"
    assert refused(*words, "--challenge", "not base64!", input=SIGN_PASSWORD).code == (
        "INVALID_INPUT"
    )
    wrong = refused(*words, "--challenge", "AAAA", input="WRONG1")
    assert wrong.code.startswith("PIN_")
