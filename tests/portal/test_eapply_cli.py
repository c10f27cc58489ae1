"""The holder's app from the shell: ``openmyna card prefill`` and ``openmyna card
sign-application`` answer the one-time URLs over HTTP with a card file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from eapply_helpers import (
    CHILD_ALLOWANCE_ANSWERS,
    request_prefill,
    request_signature,
    save,
    start,
)
from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, holder, login
from typer.testing import CliRunner

from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.card import eapply_app as holder_app
from openmyna.card.cli import app
from openmyna.platform import Platform
from openmyna.portal.eapply.models import ApplicationStatus

runner = CliRunner()


@pytest.fixture
def cli(client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The CLI talks to the test client, with the installation's data dir and clock."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", platform.clock.now().isoformat())
    monkeypatch.setattr(holder_app, "_http", lambda: contextlib.nullcontext(client))
    return client


def _card_file(platform: Platform, card: object, tmp_path: Path) -> str:
    path = tmp_path / "mine.card"
    CardFile.create(path, card, settings=platform.settings).close()  # type: ignore[arg-type]
    return str(path)


def test_prefill_and_sign_application_from_the_shell(
    cli: TestClient, platform: Platform, tmp_path: Path
) -> None:
    who = holder(platform)
    reader = _card_file(platform, who.card, tmp_path)
    login(platform, cli, who.card)
    draft = start(cli)
    url = f"http://127.0.0.1/services/card/{request_prefill(cli, draft)}"
    filled = runner.invoke(app, ["prefill", url, "--reader", reader, "--pin-stdin"], AUTH_PIN)
    assert filled.exit_code == 0, filled.output
    assert "The form is filled in" in filled.output
    number = CardClient(MemoryTransport(who.card)).read_individual_number(AUTH_PIN)
    assert number not in filled.output  # read and sent, never printed
    assert 'value="山田 花子"' in cli.get(draft).text
    assert save(cli, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303

    sign_url = f"http://127.0.0.1/services/card/{request_signature(cli, draft)}"
    wrong = runner.invoke(app, ["prefill", sign_url, "--reader", reader, "--pin-stdin"], AUTH_PIN)
    assert wrong.exit_code != 0  # a signing URL is not a prefill URL
    signed = runner.invoke(
        app,
        ["sign-application", sign_url, "--reader", reader, "--password-stdin", "--show"],
        SIGN_PASSWORD,
    )
    assert signed.exit_code == 0, signed.output
    assert "Signing: 児童手当 認定請求 to 群馬県前橋市" in signed.output
    assert '"format":"openmyna-eapply/1"' in signed.output
    [application] = platform.portal.eapply.office.inbox("102016")
    assert application.status is ApplicationStatus.SUBMITTED
    assert f"reference {application.reference}" in signed.output


def test_refusals_come_back_with_their_code(
    cli: TestClient, platform: Platform, tmp_path: Path
) -> None:
    who, other = holder(platform), holder(platform, "佐藤", "次郎")
    login(platform, cli, who.card)
    draft = start(cli)
    url = f"http://127.0.0.1/services/card/{request_prefill(cli, draft)}"
    reader = _card_file(platform, who.card, tmp_path)
    runner.invoke(app, ["prefill", url, "--reader", reader, "--pin-stdin"], AUTH_PIN)
    used = runner.invoke(app, ["prefill", url, "--reader", reader, "--pin-stdin"], AUTH_PIN)
    assert used.exit_code != 0
    assert isinstance(used.exception, holder_app.PortalRefused)
    assert used.exception.context["remote_code"] == "CARD_REQUEST_USED"

    assert save(cli, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303
    sign_url = f"http://127.0.0.1/services/card/{request_signature(cli, draft)}"
    (tmp_path / "other").mkdir()
    someone = _card_file(platform, other.card, tmp_path / "other")
    refused = runner.invoke(
        app,
        ["sign-application", sign_url, "--reader", someone, "--password-stdin"],
        SIGN_PASSWORD,
    )
    assert isinstance(refused.exception, holder_app.PortalRefused)
    assert refused.exception.context["remote_code"] == "SIGNER_NOT_APPLICANT"
    bad = runner.invoke(app, ["prefill", "ftp://x/y", "--reader", reader, "--pin-stdin"], "")
    assert bad.exit_code != 0
