"""Owner-only files written atomically: keys, secrets and card files.

A file is written whole under a private temporary name in the same folder (mode 0600),
flushed to disk, and only then put in place, so a reader never sees half a file and a crash
leaves the old file (or none) plus at most a temporary ``.NAME.PID.HEX.tmp`` beside it.
``write_new`` creates a file only if none exists, agreeing with racing processes on one;
``replace`` swaps a file's content.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only if missing; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _temporary(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` (0600) holding ``data`` unless it exists; whether this call created it.

    ``link`` fails when the name exists, so of processes racing to create a key, exactly one
    wins and the others read the winner's file.
    """
    tmp = _temporary(path, data)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
            _sync_dir(path.parent)
            return True
        return False
    finally:
        tmp.unlink(missing_ok=True)


def replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600), replacing any previous content atomically."""
    tmp = _temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)
