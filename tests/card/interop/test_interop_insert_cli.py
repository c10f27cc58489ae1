"""``openmyna card insert FILE``: a card file served through vpcd by its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from interop_support import PCSCD_POLL_SECONDS, issue_jpki

from openmyna.card.cardfile import CardFile, unseal
from openmyna.card.client import CardClient
from openmyna.card.errors import CardFileInvalid, CardInUse, PinWrong
from openmyna.card.layout import EF_AUTH_PIN, JPKI_AID, PinRef
from openmyna.card.personalize import new_card
from openmyna.card.transport.pcsc import PcscTransport, wait_for_card
from openmyna.config import Settings
from openmyna.pki import Jpki

#: pcscd and its vpcd readers are the machine's: one worker runs these (tests/conftest.py).
pytestmark = pytest.mark.pcsc

CARD_CLI = "from openmyna.card.cli import app; app()"


def _auth_tries_on_disk(path: Path, settings: Settings) -> int:
    card, _surface, _key = unseal(path.read_bytes(), settings=settings)
    return card.files.pin(JPKI_AID, EF_AUTH_PIN).tries_left


def test_insert_serves_the_file_and_saves_pin_counters(
    vpcd_slot: tuple[str, int], interop_jpki: Jpki, tmp_path: Path
) -> None:
    reader, port = vpcd_slot
    settings = Settings(data_dir=tmp_path / "holder")
    settings.ensure_data_dir()
    card = new_card()
    certs = issue_jpki(card, interop_jpki, serial=77)
    path = tmp_path / "card.omc"
    CardFile.create(path, card, settings=settings).close()

    env = {**os.environ, "OPENMYNA_DATA_DIR": str(settings.data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-c", CARD_CLI, "insert", str(path), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for_card(reader, timeout=30), "the inserted card does not show in pcscd"
        with pytest.raises(CardInUse):  # one card, one reader: the file is locked
            CardFile.open(path, settings=settings)

        with CardClient(PcscTransport(reader, wait=5)) as client:
            assert client.auth_certificate() == certs.auth_cert
            with pytest.raises(PinWrong) as wrong:
                client.verify(PinRef.AUTH, "0000")
            assert wrong.value.tries_left == 2
        # Saved on the change itself, not only on exit.
        assert _auth_tries_on_disk(path, settings) == 2

        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    text = err.decode()
    assert process.returncode == 0, text
    assert "Ctrl-C" in text
    assert "Card removed" in text
    assert wait_for_card(reader, present=False, timeout=10)
    time.sleep(PCSCD_POLL_SECONDS + 0.1)

    with CardFile.open(path, settings=settings) as reopened:  # the lock is released
        assert reopened.card.files.pin(JPKI_AID, EF_AUTH_PIN).tries_left == 2


def test_insert_refuses_a_foreign_card_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from openmyna.card.cli import app

    path = tmp_path / "card.omc"
    path.write_bytes(b"not a card file at all, just some bytes" * 4)
    result = CliRunner().invoke(
        app, ["insert", str(path)], env={"OPENMYNA_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, CardFileInvalid)
    assert result.exception.code == "CARD_FILE_INVALID"
