"""The consent is signed by the same holder's app as an application: ``openmyna card
sign-application`` answers the consent's one-time URL over HTTP with a card file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from consent_helpers import ask, bearer, register, signing_token
from fastapi.testclient import TestClient
from portal_helpers import SIGN_PASSWORD, holder, login
from typer.testing import CliRunner

from openmyna.card import CardFile
from openmyna.card import eapply_app as holder_app
from openmyna.card.cli import app
from openmyna.platform import Platform


def test_sign_application_signs_a_consent_from_the_shell(
    client: TestClient, platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", platform.clock.now().isoformat())
    monkeypatch.setattr(holder_app, "_http", lambda: contextlib.nullcontext(client))
    bank = register(platform)
    person = holder(platform)
    reader = tmp_path / "mine.card"
    CardFile.create(reader, person.card, settings=platform.settings).close()
    login(platform, client, person.card)
    request_id = ask(client, bank, person)
    url = f"http://127.0.0.1/consents/card/{signing_token(client, request_id)}"
    signed = CliRunner().invoke(
        app,
        ["sign-application", url, "--reader", str(reader), "--password-stdin", "--show"],
        SIGN_PASSWORD,
    )
    assert signed.exit_code == 0, signed.output
    assert "Signing: 最新の4情報提供への同意 to デモ銀行" in signed.output
    assert '"type":"openmyna/latest-items-consent"' in signed.output
    status = client.get(f"/latest-items/v1/consent-requests/{request_id}", headers=bearer(bank))
    consent_id = status.json()["consent_id"]
    assert status.json()["status"] == "signed"
    assert f"reference {consent_id}" in signed.output
    again = CliRunner().invoke(
        app, ["sign-application", url, "--reader", str(reader), "--password-stdin"], SIGN_PASSWORD
    )
    assert again.exit_code != 0  # answered once: the URL is spent
