"""The whole flow over real HTTP: a live server, the customer's ``openmyna ekyc sign`` with a
card file, the business's example client (examples/ekyc_business.py), a revocation between."""

from __future__ import annotations

import base64
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import uvicorn
from cryptography import x509
from ekyc_helpers import ADDRESS, SIGN_PASSWORD, Registered, holder
from typer.testing import CliRunner

from openmyna.card import CardFile
from openmyna.cli import build
from openmyna.platform import Platform
from openmyna.web import create_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ekyc_business.py"
runner = CliRunner()


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ekyc_business", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ekyc_business"] = module
    spec.loader.exec_module(module)
    return module


class Live:
    """The one web app of a platform, served by uvicorn on a free port in a thread."""

    def __init__(self, platform: Platform) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(platform), log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(platform: Platform) -> Iterator[Live]:
    served = Live(platform)
    try:
        yield served
    finally:
        served.stop()


def _sign_from_the_shell(platform: Platform, card_path: Path, data: bytes, out: Path) -> bytes:
    words = [
        "ekyc",
        "sign",
        "--reader",
        str(card_path),
        "--challenge",
        base64.b64encode(data).decode("ascii"),
        "--out",
        str(out),
        "--password-stdin",
    ]
    done = runner.invoke(build(words), words, input=SIGN_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert base64.b64decode(done.output.strip().splitlines()[-1]) == out.read_bytes()
    return out.read_bytes()


def test_a_customer_signs_with_the_card_and_the_business_verifies_over_http(
    platform: Platform,
    live: Live,
    business: Registered,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", platform.clock.now().isoformat())
    who = holder(platform)
    card_path = tmp_path / "customer.card"
    CardFile.create(card_path, who.card, settings=platform.settings).close()
    example = _example()

    data = example.new_challenge()
    cms = _sign_from_the_shell(platform, card_path, data, tmp_path / "sig.der")
    with example.EkycClient(live.url, business.key.key) as bank:
        result = bank.verify_cms(cms, data)
        assert result["result"] == "accepted"
        assert result["items"]["name"] == "山田 花子"
        assert result["items"]["address"] == ADDRESS
        assert result["status"] == {
            "state": "good",
            "source": "ocsp",
            "checked_at": platform.clock.now().isoformat(),
        }

        # The card is reported lost: the JPKI issuer suspends, then revokes, the certificate.
        serial = x509.load_der_x509_certificate(
            base64.b64decode(result["certificate"]["der"])
        ).serial_number
        platform.jpki.revoke(serial)
        again = example.new_challenge()
        cms = _sign_from_the_shell(platform, card_path, again, tmp_path / "sig2.der")
        with pytest.raises(example.EkycRefused) as refused:
            bank.verify_cms(cms, again)
        assert (refused.value.status, refused.value.code) == (422, "CERT_REVOKED")
        month = platform.clock.now().strftime("%Y-%m")
        assert bank.usage(month) == {"month": month, "queries": 2, "billed": 2, "amount_yen": 40}

    with example.EkycClient(live.url, "ekyc_nope") as stranger:
        with pytest.raises(example.EkycRefused) as refused:
            stranger.verify_cms(cms, again)
        assert (refused.value.status, refused.value.code) == (401, "EKYC_BAD_API_KEY")


def test_the_example_runs_as_a_script(
    platform: Platform,
    live: Live,
    business: Registered,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(platform.settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", platform.clock.now().isoformat())
    who = holder(platform)
    card_path = tmp_path / "customer.card"
    CardFile.create(card_path, who.card, settings=platform.settings).close()
    example = _example()
    data = example.new_challenge()
    (tmp_path / "challenge.bin").write_bytes(data)
    _sign_from_the_shell(platform, card_path, data, tmp_path / "sig.der")
    monkeypatch.setenv("EKYC_API_KEY", business.key.key)
    args = ["--url", live.url, "--data", str(tmp_path / "challenge.bin")]
    assert example.main([*args, "--cms", str(tmp_path / "sig.der")]) == 0
    printed = capsys.readouterr().out
    assert '"name": "山田 花子"' in printed
    (tmp_path / "other.bin").write_bytes(b"not what was signed")
    assert (
        example.main(
            [
                "--url",
                live.url,
                "--data",
                str(tmp_path / "other.bin"),
                "--cms",
                str(tmp_path / "sig.der"),
            ]
        )
        == 1
    )
    assert "CMS_DIGEST_MISMATCH" in capsys.readouterr().err
