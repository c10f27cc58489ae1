"""eKYC through a PC/SC reader: ``openmyna ekyc sign --reader vpcd:PORT`` talks to the card in
pcscd exactly as ``--reader pcsc`` talks to a real card, and the platform verifies the CMS."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from pathlib import Path

import pytest
from interop_support import card_in_reader
from typer.testing import CliRunner

from openmyna.builder import Builder
from openmyna.cli import build
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.registry import NewPerson, Sex

#: pcscd and its vpcd readers are the machine's: one worker runs these (tests/conftest.py).
pytestmark = pytest.mark.pcsc

SIGN_PASSWORD = "ABC123XYZ"
runner = CliRunner()


def test_a_card_in_a_pc_sc_reader_signs_the_challenge_the_platform_verifies(
    vpcd_slot: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, port = vpcd_slot
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    settings = Settings(data_dir=tmp_path / "platform")
    monkeypatch.setenv("OPENMYNA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENMYNA_CLOCK", clock.now().isoformat())
    platform = Platform(Builder(settings, clock))
    try:
        regs = platform.registries
        regs.add_municipality("102016")
        person = NewPerson("山田", "花子", "ヤマダ", "ハナコ", dt.date(1985, 2, 3), Sex.FEMALE)
        resident = regs.municipality("102016").move_in_from_abroad(
            person, on=clock.today(), address="群馬県前橋市大手町二丁目12番1号"
        )
        platform.sync_once()
        platform.cards.apply(resident.resident_code)
        issued = platform.cards.issue(
            resident.resident_code,
            auth_pin="1234",
            sign_password=SIGN_PASSWORD,
            identity_check="旅券",
        )
        ekyc = platform.builder.ekyc()
        _business, key = ekyc.add_business("みどり銀行", "kyc@bank.example")
        challenge = b"account-opening:" + secrets.token_hex(16).encode("ascii")

        words = ["ekyc", "sign", "--reader", f"vpcd:{port}", "--password-stdin"]
        words += ["--challenge", base64.b64encode(challenge).decode("ascii")]
        with card_in_reader(issued.card, reader, port):
            signed = runner.invoke(build(words), words, input=SIGN_PASSWORD + "\n")
        assert signed.exit_code == 0, signed.output
        cms = base64.b64decode(signed.output.strip().splitlines()[-1])

        result = ekyc.verify_cms(ekyc.authenticate(key.key), cms, challenge)
        assert result.items.name == "山田 花子"
        assert (result.status, result.status_source) == ("good", "ocsp")
    finally:
        platform.close()
