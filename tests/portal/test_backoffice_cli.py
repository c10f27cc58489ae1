"""``openmyna backoffice staff grant|list|revoke``: the operator token, then the person's card."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from portal_helpers import AUTH_PIN, MAEBASHI, authenticate, holder
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, PinRef, open_transport
from openmyna.cli import build
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.platform import Platform
from openmyna.portal.backoffice.staff import OPERATOR, Role

runner = CliRunner()
TOKEN = "operator-token-0123456789"
GRANT = ["backoffice", "staff", "grant", "--lg-code", MAEBASHI, "--role", "administrator"]


@dataclass(frozen=True)
class Installation:
    settings: Settings
    clock: FixedClock
    card: Path
    account_id: str


@pytest.fixture
def installation(
    settings: Settings, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Installation:
    """A platform with one card holder, closed; the environment names it, with no token."""
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform, "鈴木", "一郎")
        card = tmp_path / "staff.card"
        CardFile.create(card, person.card, settings=settings).close()
        # The account the holder's portal login opens (the CLI must find the same one).
        account_id = platform.portal.accounts.for_login(authenticate(platform, person.card))
    finally:
        platform.close()
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", clock.now().isoformat())
    monkeypatch.setenv("OPENMYNA_SCHEMA_PREFIX", settings.schema_prefix)
    if settings.database_url:
        monkeypatch.setenv("OPENMYNA_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    for name in ("OPENMYNA_BUS_URL", "OPENMYNA_OPERATOR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return Installation(settings, clock, card, account_id.account_id)


def run(*args: str, input: str | None = None) -> str:
    result = runner.invoke(build(list(args)), list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str, input: str | None = None) -> OpenMynaError:
    with pytest.raises(OpenMynaError) as caught:
        run(*args, input=input)
    return caught.value


def _members(at: Installation) -> list[tuple[str, Role, str]]:
    with Builder(at.settings, at.clock) as parts:
        return [(m.account_id, m.role, m.name) for m in parts.backoffice().staff.members(MAEBASHI)]


def _tries_left(at: Installation) -> int:
    with CardClient(open_transport(str(at.card), settings=at.settings)) as chip:
        return chip.tries_left(PinRef.AUTH)


def test_without_a_configured_token_nothing_is_granted(installation: Installation) -> None:
    error = refused(*GRANT, "--reader", str(installation.card), input=f"x\n{AUTH_PIN}\n")
    assert error.code == "NO_OPERATOR_CONFIGURED"
    assert _members(installation) == []


def test_a_wrong_token_is_refused_before_the_card_is_read(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    for wrong in ("operator-token-9876543210", TOKEN.upper()):
        error = refused(*GRANT, "--reader", str(installation.card), input=f"{wrong}\n0000\n")
        assert error.code == "OPERATOR_REQUIRED"
    assert _tries_left(installation) == 3  # the PIN was never asked for
    assert _members(installation) == []
    for args in (
        ["list", "--lg-code", MAEBASHI],
        ["revoke", "--lg-code", MAEBASHI, "--account", "0" * 32],
    ):
        assert refused("backoffice", "staff", *args, input="wrong\n").code == "OPERATOR_REQUIRED"


def test_with_the_token_the_cards_holder_is_granted_listed_and_revoked(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    out = run(*GRANT, "--reader", str(installation.card), input=f"{TOKEN}\n{AUTH_PIN}\n")
    assert TOKEN not in out
    assert AUTH_PIN not in out.replace(installation.account_id, "")
    assert f"staff ID {installation.account_id}" in out
    assert _members(installation) == [(installation.account_id, Role.ADMINISTRATOR, "鈴木 一郎")]
    listed = run("backoffice", "staff", "list", "--lg-code", MAEBASHI, input=f"{TOKEN}\n")
    assert installation.account_id in listed
    assert "1 member(s) of staff at 102016" in listed
    again = ["backoffice", "staff", "grant", "--lg-code", MAEBASHI, "--role", "clerk"]
    run(
        *again, "--reader", str(installation.card), "--name", "鈴木", input=f"{TOKEN}\n{AUTH_PIN}\n"
    )
    assert _members(installation) == [(installation.account_id, Role.CLERK, "鈴木")]
    gone = run(
        "backoffice",
        "staff",
        "revoke",
        "--lg-code",
        MAEBASHI,
        "--account",
        installation.account_id,
        input=f"{TOKEN}\n",
    )
    assert re.search(r"revoked: 102016 clerk", gone)
    assert _members(installation) == []
    with Builder(installation.settings, installation.clock) as parts:
        log = parts.backoffice().staff.entries(MAEBASHI)
    assert [(e.action, e.actor_name, e.outcome) for e in reversed(log)] == [
        ("staff.grant", OPERATOR, "done"),
        ("staff.list", OPERATOR, "done"),
        ("staff.grant", OPERATOR, "done"),
        ("staff.revoke", OPERATOR, "done"),
    ]


def test_a_wrong_pin_grants_nothing(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    error = refused(*GRANT, "--reader", str(installation.card), input=f"{TOKEN}\n9999\n")
    assert error.code == "PIN_WRONG"
    assert _members(installation) == []
    bad_role = refused(
        "backoffice", "staff", "grant", "--lg-code", MAEBASHI, "--role", "mayor",
        "--reader", str(installation.card), input=f"{TOKEN}\n",
    )  # fmt: skip
    assert bad_role.code == "STAFF_ROLE_UNKNOWN"
