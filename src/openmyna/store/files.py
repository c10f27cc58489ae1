"""Owner-only files written atomically: keys, secrets and card files.

A file is written whole under a private temporary name in the same folder (mode 0600),
flushed to disk, and only then put in place, so a reader never sees half a file and a crash
leaves the old file (or none) plus at most a temporary ``.NAME.PID.HEX.tmp`` beside it.
``write_new`` creates a file only if none exists, agreeing with racing processes on one;
``replace`` swaps a file's content; ``remove_stale_temporaries`` removes what killed writers
of a file left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path

#: A temporary whose writer is alive is still left alone until it is this old (seconds): no
#: write of a key or a card takes that long, and a reused process id cannot keep it for ever.
STALE_AFTER = 3600.0


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only if missing; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _temporary_name(path: Path, pid: int) -> str:
    return f".{path.name}.{pid}.{secrets.token_hex(4)}.tmp"


def _temporary(path: Path, data: bytes) -> Path:
    tmp = path.with_name(_temporary_name(path, os.getpid()))
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: Path, *, older_than: float = STALE_AFTER) -> int:
    """Remove ``path``'s temporaries whose writer is gone or that are old; how many.

    Call it where no write of ``path`` can be under way but one's own (e.g. under the lock a
    card file is saved under). A temporary is stale when the process named in it no longer
    exists, or when it is older than ``older_than`` seconds.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp")
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return 0
    # Modification times are the operating system's clock, so the age is measured on it
    # (not on the injected clock, which a sandbox may set years away).
    now = time.time()
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if _alive(int(found.group(1))) and age < older_than:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed
