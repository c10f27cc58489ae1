"""``openmyna oidc client …``: the operator registers, lists and removes clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.cli import build
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.identity.oidc.clients import secret_hash

runner = CliRunner()
TOKEN = "operator-token-0123456789"


@pytest.fixture
def env(settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Settings:
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
    return settings


def run(*args: str, token: str = TOKEN) -> str:
    result = runner.invoke(build(list(args)), list(args), input=token + "\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_remove(env: Settings, clock: FixedClock, tmp_path: Path) -> None:
    out = run(
        "oidc",
        "client",
        "add",
        "--name",
        "デモ銀行",
        "--redirect-uri",
        "https://bank.example/cb",
        "--scope",
        "name",
        "--auth",
        "client_secret_basic",
    )
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    client_id, secret = lines["client_id"], lines["client_secret"]
    key = RSAKey.generate_key(2048)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    out = run(
        "oidc",
        "client",
        "add",
        "--name",
        "証券会社",
        "--redirect-uri",
        "https://sec.example/cb",
        "--jwks",
        str(jwks),
    )
    assert "client_secret" not in out
    listed = run("oidc", "client", "list")
    assert client_id in listed
    assert "証券会社" in listed
    with Builder(env, clock) as parts:
        found = parts.oidc().clients.get(client_id)
        # Only the secret's hash is kept.
        assert found.secret_sha256 == secret_hash(secret)
        assert found.scopes == ("openid", "name")
    run("oidc", "client", "remove", client_id)
    assert client_id not in run("oidc", "client", "list")


def test_a_wrong_token_registers_nothing(env: Settings, clock: FixedClock) -> None:
    with pytest.raises(OpenMynaError) as caught:
        run(
            "oidc",
            "client",
            "add",
            "--name",
            "x",
            "--redirect-uri",
            "https://x.example/cb",
            "--auth",
            "client_secret_basic",
            token="wrong-token-000000000000",
        )
    assert caught.value.code == "OPERATOR_REQUIRED"
    with Builder(env, clock) as parts:
        assert parts.oidc().clients.list() == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--redirect-uri", "http://bank.example/cb"], "OIDC_CLIENT_INVALID"),
        (["--redirect-uri", "https://bank.example/cb#x"], "OIDC_CLIENT_INVALID"),
        (["--redirect-uri", "https://bank.example/cb", "--scope", "email"], "OIDC_CLIENT_INVALID"),
        (["--redirect-uri", "https://bank.example/cb"], "OIDC_CLIENT_INVALID"),  # no --jwks
    ],
)
def test_bad_registrations_are_refused(env: Settings, args: list[str], code: str) -> None:
    with pytest.raises(OpenMynaError) as caught:
        run("oidc", "client", "add", "--name", "x", *args)
    assert caught.value.code == code
