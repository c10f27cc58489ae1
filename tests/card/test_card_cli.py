"""``openmyna card …`` through Typer's test runner, on a temporary data dir."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from card_helpers import StubJpki
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.card import cli as card_cli
from openmyna.card.cli import app
from openmyna.errors import OpenMynaError

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty installation (SQLite, embedded bus) with a stub JPKI issuer."""
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENMYNA_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENMYNA_BUS_URL", raising=False)
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


def _new(path: Path) -> str:
    out = run("new", "--out", str(path), "--auth-pin", "1234", "--sign-password", "PASS1234")
    found = re.search(r"card (\w+): active", out)
    assert found is not None, out
    return found.group(1)


def test_new_read_pin_sign(tmp_path: Path) -> None:
    path = tmp_path / "me.card"
    card_id = _new(path)
    assert path.exists()
    out = run("read", "--reader", str(path))
    assert "JPKIAPICCTOKEN2" in out
    assert "user authentication" in out
    pem = run("read", "--reader", str(path), "--auth-cert", "--pem")
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert "user authentication" in cert.issuer.rfc4514_string()
    out = run("read", "-r", str(path), "--sign-cert", "--pin", "PASS1234")
    assert "digital signature" in out
    out = run("read", "-r", str(path), "--items", "--pin", "1234")
    assert re.search(r"individual number: \*\*\*\* \*\*\*\* \d{4}", out), out
    assert "address: 群馬県前橋市" in out
    assert "signature: valid" in out
    status = run("pin", "-r", str(path), "--status")
    assert re.search(r"auth PIN.*3", status)
    assert re.search(r"signature password.*5", status)
    data = tmp_path / "doc.txt"
    data.write_bytes(b"a document")
    signature = bytes.fromhex(run("sign", "-r", str(path), "--data", str(data), "--pin", "1234"))
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"a document", padding.PKCS1v15(), hashes.SHA256())
    digest = hashlib.sha256(b"a document").hexdigest()
    again = run("sign", "-r", str(path), "--digest", digest, "--pin", "1234")
    assert bytes.fromhex(again) == signature  # PKCS#1 v1.5 is deterministic
    assert card_id in run("status", card_id)


def test_pins_are_asked_for_when_not_given(tmp_path: Path) -> None:
    path = tmp_path / "me.card"
    out = run("new", "--out", str(path), input="1234\n1234\nPASS1234\nPASS1234\n")
    assert "card file:" in out
    assert "1234" not in out.split("card file:")[0].replace("(4 digits)", "")
    out = run("sign", "-r", str(path), "--digest", "00" * 32, input="1234\n")
    assert len(out.strip().splitlines()[-1]) == 512
    run("pin", "-r", str(path), "--change", "auth", input="1234\n5678\n5678\n")
    run("sign", "-r", str(path), "--digest", "00" * 32, "--pin", "5678")


def test_a_wrong_pin_is_a_domain_error(tmp_path: Path) -> None:
    path = tmp_path / "me.card"
    _new(path)
    with pytest.raises(OpenMynaError) as caught:
        run("sign", "-r", str(path), "--digest", "00" * 32, "--pin", "0000")
    assert caught.value.code == "PIN_WRONG"
    status = run("pin", "-r", str(path), "--status")
    assert re.search(r"auth PIN.*2", status)


OPERATOR_TOKEN = "counter-token-0123456789"
AT_THE_COUNTER = ("--operator", "suzuki", "--identity-document", "passport")


def test_loss_and_the_register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", OPERATOR_TOKEN)
    token = f"{OPERATOR_TOKEN}\n"
    path = tmp_path / "me.card"
    card_id = _new(path)
    assert "suspended (lost)" in run("lost", card_id)
    assert "active" in run("found", card_id, *AT_THE_COUNTER, input=token)
    assert "0 card(s) changed" in run("check")
    out = run("unlock", "-r", str(path), "--pin", "auth", *AT_THE_COUNTER, input=token)
    assert "PIN reset" in out
    assert "returned" in run("return", card_id, *AT_THE_COUNTER, input=token)
    with pytest.raises(OpenMynaError) as caught:
        run("lost", card_id)
    assert caught.value.code == "CARD_TRANSITION_REFUSED"


def test_refusals(tmp_path: Path) -> None:
    path = tmp_path / "me.card"
    _new(path)
    with pytest.raises(OpenMynaError) as caught:
        _new(path)
    assert caught.value.code == "INVALID_INPUT"
    with pytest.raises(OpenMynaError):
        run("sign", "-r", str(path), "--pin", "1234")
    with pytest.raises(OpenMynaError):
        run("sign", "-r", str(path), "--digest", "abcd", "--pin", "1234")
    with pytest.raises(OpenMynaError) as caught:
        run("read", "-r", str(tmp_path / "missing.card"))
    assert caught.value.code == "CARD_FILE_INVALID"
    tampered = path.read_bytes()
    path.write_bytes(tampered[:-1] + bytes([tampered[-1] ^ 1]))
    with pytest.raises(OpenMynaError) as caught:
        run("read", "-r", str(path))
    assert caught.value.code == "CARD_FILE_TAMPERED"
