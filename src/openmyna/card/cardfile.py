"""The holder's card file: a virtual card, encrypted and authenticated at rest.

Layout (all integers big-endian)::

    magic "OMYNACRD" | version 2 (1 byte) | key kind (1) | key id (8) | salt (16) | nonce (12)
    | header check (8) | AES-256-GCM ciphertext of the card state, with the 54 header bytes
    as associated data

Key kinds:

- ``1`` (default) — the installation's card storage key, 32 random bytes in
  ``$OPENMYNA_DATA_DIR/card/file_storage.key`` (owner-only), stretched per file with
  HKDF-SHA-256 and the file's salt. The card opens with nothing else to type, on this
  installation only.
- ``2`` — a holder passphrase, stretched with scrypt (n=2^15, r=8, p=1) and the salt.

Every header byte is authenticated (GCM's associated data), but the key is derived from the
salt and checked against the key id before GCM runs, so a changed header alone would look
like a foreign key. The header check (the first 8 bytes of SHA-256 over the 46 bytes before
it) comes first: a header that fails it, or that passes it only with the magic or version
put back, was altered (``CARD_FILE_TAMPERED``); a header that passes it and names another key
is a wrong key (``CARD_FILE_KEY_MISMATCH``); a body that fails the GCM tag is altered
(``CARD_FILE_TAMPERED``). The check is not a MAC: whoever rewrites it can make a file that
names another key, which is refused all the same. Version 1 files (no header check) still
open; the next save writes version 2.

Each save writes a new nonce to a temporary file and renames it over the old one, so a crash
leaves either the old or the new card; temporaries a killed save left behind are removed
when the file is next opened. While a ``CardFile`` is open it holds an exclusive lock
(``<file>.lock`` beside it, removed on close): one card, one reader. Nothing is created
beside a file that is not a card file.
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
from openmyna.card.state import OutdatedCardState, dump_card, load_state
from openmyna.card.surface import CardSurface
from openmyna.config import Settings
from openmyna.store import files

MAGIC = b"OMYNACRD"
VERSION = 2
#: The first format: the same header without the header check (read, never written).
VERSION_1 = 1
KIND_DATA_DIR = 1
KIND_PASSPHRASE = 2
_FIELDS = struct.Struct(">8sBB8s16s12s")
_CHECK_SIZE = 8
HEADER_SIZE = _FIELDS.size + _CHECK_SIZE
HEADER_SIZE_V1 = _FIELDS.size
_TAG_SIZE = 16
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
        fields = _FIELDS.pack(MAGIC, VERSION, self.kind, self.key_id, self.salt, nonce)
        header = fields + _header_check(fields)
        return header + AESGCM(self.key).encrypt(nonce, plaintext, header)


def _header_check(fields: bytes) -> bytes:
    return hashlib.sha256(b"openmyna card file header\0" + fields).digest()[:_CHECK_SIZE]


class _Header:
    """A card file's parsed header: its fields and how many bytes it takes."""

    def __init__(self, fields: bytes, size: int) -> None:
        _magic, _version, self.kind, self.key_id, self.salt, self.nonce = _FIELDS.unpack(fields)
        self.size = size


def _parse_header(blob: bytes) -> _Header:
    """The header of a card file, or why the bytes are not one (or were altered)."""
    head = blob[:HEADER_SIZE]
    if len(head) == HEADER_SIZE:
        fields, check = head[: _FIELDS.size], head[_FIELDS.size :]
        # The header as it was written, if only the magic or the version were changed.
        restored = MAGIC + bytes([VERSION]) + fields[len(MAGIC) + 1 :]
        if hmac.compare_digest(check, _header_check(restored)):
            if fields != restored:
                raise CardFileTampered("the card file's header was altered")
            if len(blob) < HEADER_SIZE + _TAG_SIZE:
                raise CardFileTampered("the card file is cut short")
            return _Header(fields, HEADER_SIZE)
    if not blob.startswith(MAGIC) or len(blob) < HEADER_SIZE_V1 + _TAG_SIZE:
        raise CardFileInvalid("not an openmyna card file")
    version = blob[len(MAGIC)]
    if version == VERSION:
        raise CardFileTampered("the card file's header was altered")
    if version != VERSION_1:
        raise CardFileInvalid("unsupported card file version", version=version)
    return _Header(blob[:HEADER_SIZE_V1], HEADER_SIZE_V1)


def unseal(
    blob: bytes, *, settings: Settings | None = None, passphrase: str | None = None
) -> tuple[VirtualCard, CardSurface, _FileKey]:
    """Decrypt and authenticate a card file's bytes; the card, its face and the file key."""
    header = _parse_header(blob)
    key = _FileKey.derive(header.kind, header.salt, settings, passphrase)
    if not hmac.compare_digest(key.key_id, header.key_id):
        raise CardFileKeyMismatch(
            "the card file was sealed with another key (another data dir or passphrase)"
        )
    try:
        plaintext = AESGCM(key.key).decrypt(header.nonce, blob[header.size :], blob[: header.size])
    except InvalidTag:
        raise CardFileTampered("the card file fails its integrity check") from None
    try:
        card, surface = load_state(plaintext)
    except OutdatedCardState:
        raise CardFileOutdated(
            "the card file was written by an older openmyna (card state format 1): its"
            " 券面事項入力補助AP is in the old layout: issue a new card (a reissue)"
        ) from None
    except ValueError:
        raise CardFileInvalid("the card file holds no valid card") from None
    return card, surface, key


def seal(
    card: VirtualCard, *, settings: Settings | None = None, passphrase: str | None = None
) -> bytes:
    """A card's state sealed as card file bytes (a fresh salt and nonce)."""
    kind = KIND_PASSPHRASE if passphrase is not None else KIND_DATA_DIR
    key = _FileKey.derive(kind, secrets.token_bytes(16), settings, passphrase)
    return key.seal(dump_card(card))


def _lock_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.lock")


def _lock(path: Path) -> int:
    """Hold ``<file>.lock`` exclusively; ``CARD_IN_USE`` if another holder has it."""
    lock_path = _lock_path(path)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CardInUse("the card file is open elsewhere (one card, one reader)") from None
        # The holder before us removes the lock file before it lets go: if the name no
        # longer points at the file we locked, that lock is over and a new one is taken.
        try:
            named = os.stat(lock_path)
        except FileNotFoundError:
            named = None
        mine = os.fstat(fd)
        if named is not None and (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)


def _unlock(path: Path, fd: int) -> None:
    """Remove the lock file (while still holding it), then let go."""
    try:
        _lock_path(path).unlink(missing_ok=True)
    finally:
        os.close(fd)


def _looks_like_a_card_file(path: Path) -> None:
    """Refuse what is not a card file before anything is created beside it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_SIZE + _TAG_SIZE)
    except FileNotFoundError:
        raise CardFileInvalid("no card file at that path") from None
    except IsADirectoryError:
        raise CardFileInvalid("not an openmyna card file") from None
    _parse_header(head)


class CardFile:
    """An open card file: the card inside, saved after every change of its state."""

    def __init__(
        self,
        path: Path,
        card: VirtualCard,
        key: _FileKey,
        lock_fd: int,
        surface: CardSurface | None = None,
    ) -> None:
        self.path = path
        self.card = card
        #: The printed face (the 追記欄); saved with the chip's state.
        self.surface = surface or CardSurface()
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
            files.remove_stale_temporaries(target)
            kind = KIND_PASSPHRASE if passphrase is not None else KIND_DATA_DIR
            key = _FileKey.derive(kind, secrets.token_bytes(16), settings, passphrase)
            opened = cls(target, card, key, lock)
            opened.save()
        except BaseException:
            _unlock(target, lock)
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
        _looks_like_a_card_file(target)
        lock = _lock(target)
        try:
            # Saves happen under the lock, so what a killed save left is found here.
            files.remove_stale_temporaries(target)
            try:
                blob = target.read_bytes()
            except FileNotFoundError:
                raise CardFileInvalid("no card file at that path") from None
            card, surface, key = unseal(blob, settings=settings, passphrase=passphrase)
        except BaseException:
            _unlock(target, lock)
            raise
        return cls(target, card, key, lock, surface)

    def save(self) -> None:
        """Seal the card's current state into the file (atomically)."""
        if self._lock_fd is None:
            raise CardInUse("the card file is closed")
        files.replace(self.path, self._key.seal(dump_card(self.card, self.surface)))

    def close(self) -> None:
        """Release the file (state is already saved)."""
        self.card.on_change = None
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            _unlock(self.path, fd)

    def __enter__(self) -> CardFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
