"""The holder's card file: a virtual card, encrypted and authenticated at rest.

Layout (all integers big-endian)::

    magic "OMYNACRD" | version 1 (1 byte) | key kind (1) | key id (8) | salt (16) | nonce (12)
    | AES-256-GCM ciphertext of the card state, with the 46 header bytes as associated data

Key kinds:

- ``1`` (default) — the installation's card storage key, 32 random bytes in
  ``$OPENMYNA_DATA_DIR/card/file_storage.key`` (owner-only), stretched per file with
  HKDF-SHA-256 and the file's salt. The card opens with nothing else to type, on this
  installation only.
- ``2`` — a holder passphrase, stretched with scrypt (n=2^15, r=8, p=1) and the salt.

The key id (8 bytes of an HMAC under the file key) tells a wrong key (``CARD_FILE_KEY_MISMATCH``)
from a damaged or altered file (``CARD_FILE_TAMPERED``: the GCM tag fails). Each save
writes a new nonce to a temporary file and renames it over the old one, so a crash leaves
either the old or the new card. While a ``CardFile`` is open it holds an exclusive lock
(``<file>.lock`` beside it): one card, one reader.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import struct
from pathlib import Path
from types import TracebackType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from openmyna.card.engine import VirtualCard
from openmyna.card.errors import (
    CardFileInvalid,
    CardFileKeyMismatch,
    CardFileOutdated,
    CardFileTampered,
    CardInUse,
)
from openmyna.card.signer import card_dir
from openmyna.card.state import OutdatedCardState, dump_card, load_card
from openmyna.config import Settings
from openmyna.store import files

MAGIC = b"OMYNACRD"
VERSION = 1
KIND_DATA_DIR = 1
KIND_PASSPHRASE = 2
_HEADER = struct.Struct(">8sBB8s16s12s")
HEADER_SIZE = _HEADER.size
STORAGE_KEY_FILE = "file_storage.key"
_SCRYPT_N = 2**15


def _storage_key(settings: Settings) -> bytes:
    """The installation's card storage key, created on first use."""
    path = card_dir(settings) / STORAGE_KEY_FILE
    files.write_new(path, secrets.token_bytes(32))  # unless it exists: then that one is used
    key = path.read_bytes()
    if len(key) != 32:
        raise CardFileInvalid("the card storage key in the data dir is damaged")
    return key


class _FileKey:
    """The AES key of one card file and its header fields."""

    def __init__(self, kind: int, salt: bytes, key: bytes) -> None:
        self.kind = kind
        self.salt = salt
        self.key = key
        self.key_id = hmac.new(key, b"openmyna card file key id", hashlib.sha256).digest()[:8]

    @classmethod
    def derive(
        cls, kind: int, salt: bytes, settings: Settings | None, passphrase: str | None
    ) -> _FileKey:
        if kind == KIND_PASSPHRASE:
            if passphrase is None:
                raise CardFileKeyMismatch("this card file is sealed with a passphrase")
            kdf = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1)
            return cls(kind, salt, kdf.derive(passphrase.encode("utf-8")))
        if kind == KIND_DATA_DIR:
            if settings is None:  # the key lives in the installation's data dir
                raise CardFileKeyMismatch(
                    "this card file is sealed with an installation's key: give its settings"
                )
            secret = _storage_key(settings)
            hkdf = HKDF(hashes.SHA256(), 32, salt, b"openmyna card file v1")
            return cls(kind, salt, hkdf.derive(secret))
        raise CardFileInvalid("unknown card file key kind")

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        header = _HEADER.pack(MAGIC, VERSION, self.kind, self.key_id, self.salt, nonce)
        return header + AESGCM(self.key).encrypt(nonce, plaintext, header)


def _parse_header(blob: bytes) -> tuple[int, bytes, bytes, bytes]:
    if len(blob) < HEADER_SIZE + 16 or not blob.startswith(MAGIC):
        raise CardFileInvalid("not an openmyna card file")
    _magic, version, kind, key_id, salt, nonce = _HEADER.unpack(blob[:HEADER_SIZE])
    if version != VERSION:
        raise CardFileInvalid("unsupported card file version", version=version)
    return kind, key_id, salt, nonce


def unseal(
    blob: bytes, *, settings: Settings | None = None, passphrase: str | None = None
) -> tuple[VirtualCard, _FileKey]:
    """Decrypt and authenticate a card file's bytes; the card and the file key."""
    kind, key_id, salt, nonce = _parse_header(blob)
    key = _FileKey.derive(kind, salt, settings, passphrase)
    if not hmac.compare_digest(key.key_id, key_id):
        raise CardFileKeyMismatch(
            "the card file was sealed with another key (another data dir or passphrase)"
        )
    try:
        plaintext = AESGCM(key.key).decrypt(nonce, blob[HEADER_SIZE:], blob[:HEADER_SIZE])
    except InvalidTag:
        raise CardFileTampered("the card file fails its integrity check") from None
    try:
        return load_card(plaintext), key
    except OutdatedCardState:
        raise CardFileOutdated(
            "the card file was written by an older openmyna (card state format 1): its"
            " 券面事項入力補助AP is in the old layout: issue a new card (a reissue)"
        ) from None
    except ValueError:
        raise CardFileInvalid("the card file holds no valid card") from None


def seal(
    card: VirtualCard, *, settings: Settings | None = None, passphrase: str | None = None
) -> bytes:
    """A card's state sealed as card file bytes (a fresh salt and nonce)."""
    kind = KIND_PASSPHRASE if passphrase is not None else KIND_DATA_DIR
    key = _FileKey.derive(kind, secrets.token_bytes(16), settings, passphrase)
    return key.seal(dump_card(card))


def _lock(path: Path) -> int:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CardInUse("the card file is open elsewhere (one card, one reader)") from None
    return fd


class CardFile:
    """An open card file: the card inside, saved after every change of its state."""

    def __init__(self, path: Path, card: VirtualCard, key: _FileKey, lock_fd: int) -> None:
        self.path = path
        self.card = card
        self._key = key
        self._lock_fd: int | None = lock_fd
        card.on_change = self.save

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        card: VirtualCard,
        *,
        settings: Settings | None = None,
        passphrase: str | None = None,
        overwrite: bool = False,
    ) -> CardFile:
        """Write ``card`` to a new card file and keep it open."""
        target = Path(path)
        if target.exists() and not overwrite:
            raise CardFileInvalid("the card file exists already")
        lock = _lock(target)
        try:
            kind = KIND_PASSPHRASE if passphrase is not None else KIND_DATA_DIR
            key = _FileKey.derive(kind, secrets.token_bytes(16), settings, passphrase)
            opened = cls(target, card, key, lock)
            opened.save()
        except BaseException:
            os.close(lock)
            raise
        return opened

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        settings: Settings | None = None,
        passphrase: str | None = None,
    ) -> CardFile:
        """Open a card file (locked until ``close``); refused if altered or foreign."""
        target = Path(path)
        lock = _lock(target)
        try:
            try:
                blob = target.read_bytes()
            except FileNotFoundError:
                raise CardFileInvalid("no card file at that path") from None
            card, key = unseal(blob, settings=settings, passphrase=passphrase)
        except BaseException:
            os.close(lock)
            raise
        return cls(target, card, key, lock)

    def save(self) -> None:
        """Seal the card's current state into the file (atomically)."""
        if self._lock_fd is None:
            raise CardInUse("the card file is closed")
        files.replace(self.path, self._key.seal(dump_card(self.card)))

    def close(self) -> None:
        """Release the file (state is already saved)."""
        self.card.on_change = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> CardFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
