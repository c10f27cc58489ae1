"""What a card file leaves beside it (locks, temporaries of a killed save) and header tampering."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from card_helpers import fresh_card
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openmyna.card import CardFile, CardFileInvalid, CardFileKeyMismatch, CardFileTampered
from openmyna.card.cardfile import HEADER_SIZE, MAGIC, STORAGE_KEY_FILE, VERSION, unseal
from openmyna.card.signer import card_dir
from openmyna.card.state import dump_card
from openmyna.config import Settings
from openmyna.store import files


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir of its own (the card storage key lives there)."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def saved(tmp_path: Path, settings: Settings) -> Path:
    """A card file, closed."""
    path = tmp_path / "holder.card"
    CardFile.create(path, fresh_card(), settings=settings).close()
    return path


def _beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# --- the lock file ----------------------------------------------------------------------------


def test_the_lock_file_is_removed_on_close(saved: Path, settings: Settings) -> None:
    assert _beside(saved) == ["data"]
    with CardFile.open(saved, settings=settings):
        assert "holder.card.lock" in _beside(saved)
    assert _beside(saved) == ["data"]


def test_no_lock_file_for_what_is_not_a_card_file(tmp_path: Path, settings: Settings) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a card at all, but long enough to hold a header " * 3)
    with pytest.raises(CardFileInvalid):
        CardFile.open(other, settings=settings)
    with pytest.raises(CardFileInvalid):
        CardFile.open(tmp_path / "missing.card", settings=settings)
    with pytest.raises(CardFileInvalid):
        CardFile.open(tmp_path, settings=settings)  # a directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_refused_card_file_leaves_no_lock(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(CardFileKeyMismatch):
        CardFile.open(saved, settings=Settings(data_dir=tmp_path / "elsewhere"))
    assert "holder.card.lock" not in _beside(saved)


def test_a_stale_lock_file_is_taken_over_and_removed(saved: Path, settings: Settings) -> None:
    """A lock file left by a killed holder (no process holds it) does not block."""
    (saved.parent / "holder.card.lock").write_bytes(b"")
    with CardFile.open(saved, settings=settings):
        pass
    assert "holder.card.lock" not in _beside(saved)


# --- temporaries of a killed save ---------------------------------------------------------------

_SAVER = """
import sys
from pathlib import Path
from openmyna.card.cardfile import CardFile
from openmyna.config import Settings
opened = CardFile.open(sys.argv[1], settings=Settings(data_dir=Path(sys.argv[2])))
print("saving", flush=True)
while True:
    opened.save()
"""


def _temporaries(path: Path) -> list[str]:
    return [n for n in _beside(path) if n.startswith(f".{path.name}.") and n.endswith(".tmp")]


def test_a_save_killed_with_sigkill_leaves_nothing_once_reopened(
    saved: Path, settings: Settings
) -> None:
    """A child saves in a loop and is killed mid-save; opening the file cleans up after it."""
    with CardFile.open(saved, settings=settings) as first:
        before = dump_card(first.card)
    kills = 40
    for _ in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(saved), str(settings.data_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "saving"
        time.sleep(0.05 + secrets.randbelow(100) / 1000)
        child.send_signal(signal.SIGKILL)
        child.wait()  # reaped: its process id is gone
        child.stdout.close()
        if _temporaries(saved):
            break
    else:
        pytest.fail(f"no save was caught half-way in {kills} kills")
    assert "holder.card.lock" in _beside(saved)  # the killed holder could not remove it
    with CardFile.open(saved, settings=settings) as reopened:
        assert dump_card(reopened.card) == before  # the old or the new card: the same state
        assert _temporaries(saved) == []
    assert _beside(saved) == ["data"]


def test_only_stale_temporaries_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "holder.card"
    path.write_bytes(b"card")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = tmp_path / f".holder.card.{os.getpid()}.0123abcd.tmp"
    gone = tmp_path / f".holder.card.{dead.pid}.0123abcd.tmp"
    old = tmp_path / f".holder.card.{os.getpid()}.89abcdef.tmp"
    other = tmp_path / f".other.card.{dead.pid}.0123abcd.tmp"
    for p in (live, gone, old, other):
        p.write_bytes(b"half")
    os.utime(old, (time.time() - 2 * files.STALE_AFTER,) * 2)
    assert files.remove_stale_temporaries(path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["holder.card", live.name, other.name]
    )


# --- the header --------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_header_byte_flipped_is_tampering(saved: Path, settings: Settings, mask: int) -> None:
    blob = saved.read_bytes()
    for where in range(HEADER_SIZE):
        altered = bytearray(blob)
        altered[where] ^= mask
        with pytest.raises(CardFileTampered):
            unseal(bytes(altered), settings=settings)
    altered = bytearray(blob)
    altered[len(MAGIC) + 2] ^= mask  # the key id, through the file as the CLI opens it
    saved.write_bytes(bytes(altered))
    with pytest.raises(CardFileTampered) as caught:
        CardFile.open(saved, settings=settings)
    assert caught.value.code == "CARD_FILE_TAMPERED"
    assert "holder.card.lock" not in _beside(saved)


def test_another_key_is_still_another_key(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(CardFileKeyMismatch):
        unseal(saved.read_bytes(), settings=Settings(data_dir=tmp_path / "elsewhere"))
    with pytest.raises(CardFileKeyMismatch):
        unseal(saved.read_bytes(), passphrase="a passphrase")  # not the key kind it names


def _version_1(card_state: bytes, settings: Settings) -> bytes:
    """A card file as version 1 wrote it (the 46-byte header, no header check)."""
    secret = (card_dir(settings) / STORAGE_KEY_FILE).read_bytes()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    key = HKDF(hashes.SHA256(), 32, salt, b"openmyna card file v1").derive(secret)
    key_id = hmac.new(key, b"openmyna card file key id", hashlib.sha256).digest()[:8]
    header = struct.pack(">8sBB8s16s12s", MAGIC, 1, 1, key_id, salt, nonce)
    return header + AESGCM(key).encrypt(nonce, card_state, header)


def test_a_version_1_file_opens_and_is_saved_as_version_2(saved: Path, settings: Settings) -> None:
    card = fresh_card()
    saved.write_bytes(_version_1(dump_card(card), settings))
    with CardFile.open(saved, settings=settings) as opened:
        assert dump_card(opened.card) == dump_card(card)
        opened.save()
    assert saved.read_bytes()[len(MAGIC)] == VERSION == 2
    again, _, _ = unseal(saved.read_bytes(), settings=settings)
    assert dump_card(again) == dump_card(card)
