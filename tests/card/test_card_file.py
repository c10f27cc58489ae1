"""The holder's card file: round trip, tamper refusal, foreign keys, locking, persistence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from card_helpers import AUTH_PIN, SIGN_PASSWORD, fresh_card

from openmyna.card import (
    CardClient,
    CardFile,
    CardFileInvalid,
    CardFileKeyMismatch,
    CardFileTampered,
    CardInUse,
    KeyRef,
    PinRef,
    PinWrong,
    ReaderUnavailable,
    open_transport,
)
from openmyna.card.cardfile import HEADER_SIZE, MAGIC, seal, unseal
from openmyna.card.state import dump_card, load_card
from openmyna.config import Settings
from openmyna.errors import Unavailable


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir of its own (the card storage key lives there)."""
    return Settings(data_dir=tmp_path / "data")


def _saved(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "holder.card"
    CardFile.create(path, fresh_card(), settings=settings).close()
    return path


def test_round_trip_keeps_keys_certificates_and_counters(
    tmp_path: Path, settings: Settings
) -> None:
    card = fresh_card()
    path = tmp_path / "holder.card"
    with CardFile.create(path, card, settings=settings):
        pass
    assert path.stat().st_mode & 0o777 == 0o600
    with CardFile.open(path, settings=settings) as opened:
        again = opened.card
        assert again.card_id == card.card_id
        assert dump_card(again) == dump_card(card)
        client = CardClient(open_transport("memory", card=again))
        assert (
            client.auth_certificate()
            == CardClient(open_transport("memory", card=card)).auth_certificate()
        )
        client.sign(KeyRef.AUTH, AUTH_PIN, data=b"same key")


def test_the_file_is_encrypted(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    blob = path.read_bytes()
    assert blob.startswith(MAGIC)
    for secret in (b"123456789018", "山田".encode(), b"PRIVATE KEY", b"JPKIAPICCTOKEN2"):
        assert secret not in blob


@pytest.mark.parametrize("where", [0, 8, 9, 10, 20, 40, HEADER_SIZE + 5, -1])
def test_a_tampered_file_is_refused(tmp_path: Path, settings: Settings, where: int) -> None:
    path = _saved(tmp_path, settings)
    blob = bytearray(path.read_bytes())
    blob[where] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises((CardFileTampered, CardFileInvalid, CardFileKeyMismatch)) as caught:
        CardFile.open(path, settings=settings)
    # Magic, version, key kind, key id, salt (header), then the body: all of it is tampering.
    assert caught.value.code == "CARD_FILE_TAMPERED"


def test_truncated_and_foreign_files(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    blob = path.read_bytes()
    path.write_bytes(blob[:-20])
    with pytest.raises(CardFileTampered):
        CardFile.open(path, settings=settings)
    path.write_bytes(b"not a card at all")
    with pytest.raises(CardFileInvalid):
        CardFile.open(path, settings=settings)
    with pytest.raises(CardFileInvalid):
        CardFile.open(tmp_path / "missing.card", settings=settings)


def test_another_installation_cannot_open_it(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    with pytest.raises(CardFileKeyMismatch) as caught:
        CardFile.open(path, settings=Settings(data_dir=tmp_path / "elsewhere"))
    assert caught.value.code == "CARD_FILE_KEY_MISMATCH"


def test_a_passphrase_sealed_card(tmp_path: Path, settings: Settings) -> None:
    card = fresh_card()
    blob = seal(card, passphrase="correct horse")
    again, _, _ = unseal(blob, passphrase="correct horse")
    assert dump_card(again) == dump_card(card)
    with pytest.raises(CardFileKeyMismatch):
        unseal(blob, passphrase="wrong horse")
    with pytest.raises(CardFileKeyMismatch):
        unseal(blob, settings=settings)  # no passphrase given


def test_one_card_one_reader(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    first = CardFile.open(path, settings=settings)
    with pytest.raises(CardInUse):
        CardFile.open(path, settings=settings)
    first.close()
    CardFile.open(path, settings=settings).close()


def test_a_wrong_pin_is_saved_before_the_answer(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    transport = open_transport(str(path), settings=settings)
    client = CardClient(transport)
    with pytest.raises(PinWrong):
        client.verify(PinRef.AUTH, "0000")
    # Without closing (as if the process were killed now), the file already holds the try.
    on_disk, _, _ = unseal(path.read_bytes(), settings=settings)
    assert on_disk.files.pin(PinRef.AUTH.aid, PinRef.AUTH.fid).tries_left == 2
    client.verify(PinRef.AUTH, AUTH_PIN)
    client.change_pin(PinRef.SIGN, SIGN_PASSWORD, "NEWPASS1")
    client.close()
    with CardFile.open(path, settings=settings) as f:
        # the right PIN refilled it
        assert f.card.files.pin(PinRef.AUTH.aid, PinRef.AUTH.fid).tries_left == 3
        reopened = CardClient(open_transport("memory", card=f.card))
        reopened.verify(PinRef.SIGN, "NEWPASS1")


def test_saving_is_atomic(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    with CardFile.open(path, settings=settings) as f:
        f.save()
        f.save()
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert leftovers == []
    with pytest.raises(CardInUse):
        f.save()  # closed


def test_create_refuses_to_overwrite(tmp_path: Path, settings: Settings) -> None:
    path = _saved(tmp_path, settings)
    with pytest.raises(CardFileInvalid):
        CardFile.create(path, fresh_card(), settings=settings)
    CardFile.create(path, fresh_card(), settings=settings, overwrite=True).close()


@pytest.mark.pcsc  # it asks pcscd
def test_open_transport_readers(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(CardFileInvalid):
        open_transport("memory")
    with pytest.raises(CardFileInvalid):
        open_transport(str(tmp_path / "nothing-here"))
    try:
        open_transport("pcsc", wait=0.0).close()
    except ReaderUnavailable:
        pass  # no transport module or no pyscard here
    except Unavailable as exc:  # the PC/SC layer's own: no pcscd, no reader, no card
        code = exc.code
        assert code.endswith(("UNAVAILABLE", "NOT_FOUND", "ABSENT")), code


def test_state_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="state"):
        load_card(b'{"format": 1}')
    with pytest.raises(ValueError, match="format"):
        load_card(b'{"format": 99}')
    with pytest.raises(ValueError, match="state"):
        load_card(b"\xff\xfe")
