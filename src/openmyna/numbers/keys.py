"""The issuing body's key file: three random AES-256 keys, owner-only, created on first use.

The file is ``<data_dir>/keys/numbering.key`` (mode 0600, in a 0700 folder), JSON with one
hex key per conversion. Keys are never logged, printed or put in an error message.
"""

from __future__ import annotations

import json
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from openmyna.numbers.errors import NumberingKeyError
from openmyna.store import files

KEY_FORMAT = "openmyna-numbering-key/1"
_NAMES = ("resident_code", "individual_number", "corporate_number")


@dataclass(frozen=True)
class NumberingKeys:
    """The three FF1 keys of the issuing body."""

    resident_code: bytes = field(repr=False)
    individual_number: bytes = field(repr=False)
    corporate_number: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> NumberingKeys:
        """Fresh random AES-256 keys."""
        return cls(*(secrets.token_bytes(32) for _ in _NAMES))

    def to_json(self) -> str:
        """The key file's content."""
        body = {"format": KEY_FORMAT, **{n: getattr(self, n).hex() for n in _NAMES}}
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> NumberingKeys:
        """Parse a key file's content."""
        try:
            body = json.loads(text)
            if body.get("format") != KEY_FORMAT:
                raise NumberingKeyError("numbering key file has an unknown format")
            keys = [bytes.fromhex(body[n]) for n in _NAMES]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NumberingKeyError("numbering key file is malformed") from None
        if any(len(k) != 32 for k in keys):
            raise NumberingKeyError("numbering key file must hold 32-byte keys")
        return cls(*keys)


def key_path(data_dir: Path) -> Path:
    """Where the numbering key file lives under a data directory."""
    return data_dir / "keys" / "numbering.key"


def load_or_create_keys(data_dir: Path) -> NumberingKeys:
    """Read the key file, creating it (atomically, mode 0600) if it does not exist yet."""
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    # Of processes racing here, one creates the file and all read the same key.
    files.write_new(path, NumberingKeys.generate().to_json().encode("ascii"))


def _read(path: Path) -> NumberingKeys:
    for attempt in range(3):
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
            break
        except FileNotFoundError:
            if attempt == 2:
                raise NumberingKeyError("numbering key file disappeared") from None
            time.sleep(0.05)
        except (OSError, UnicodeDecodeError):
            raise NumberingKeyError("numbering key file cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NumberingKeyError(
            "numbering key file is accessible by group or others; it must be mode 0600",
            path=str(path),
        )
    return NumberingKeys.from_json(text)
