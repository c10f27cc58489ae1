"""Opaque per-session handles for residents, so no resident-record code goes in a URL.

A search result, a pending card application or a move-out certificate being moved in gets
a random handle (16 bytes, hex) that the pages use in their links and forms. A handle is
bound to the portal session that got it and to the municipality: another session, another
municipality or an ended session finds nothing (``RESIDENT_HANDLE_NOT_FOUND``). The same
session asking for the same resident again gets the same handle. A handle lasts no longer
than a session can (``max_age``, the sessions' absolute limit); older ones are deleted when
new ones are made.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, insert, select

from openmyna.clock import Clock
from openmyna.portal.backoffice.errors import HandleNotFound
from openmyna.portal.backoffice.tables import resident_handles
from openmyna.store import Store

_HANDLE = re.compile(r"^[0-9a-f]{32}$")


class HandleKind(StrEnum):
    """What a handle stands for."""

    #: A record (current or removed) of the municipality's registry.
    RESIDENT = "resident"
    #: A move-out certificate of another municipality, to be moved in here (転入).
    MOVE_IN = "move_in"


@dataclass(frozen=True)
class Handle:
    """What a handle resolves to."""

    handle: str
    kind: HandleKind
    lg_code: str
    resident_code: str
    from_lg_code: str | None

    def __repr__(self) -> str:
        return f"Handle(kind={self.kind.value!r}, lg_code={self.lg_code!r})"


class Handles:
    """The handles of the back office's pages, in its store."""

    def __init__(self, store: Store, clock: Clock, *, max_age: dt.timedelta) -> None:
        self.store = store
        self.clock = clock
        self.max_age = max_age

    def issue(
        self,
        session_id: str,
        lg_code: str,
        resident_code: str,
        kind: HandleKind = HandleKind.RESIDENT,
        *,
        from_lg_code: str | None = None,
    ) -> str:
        """The session's handle for a resident at ``lg_code`` (the same one if asked again)."""
        with self.store.transaction() as s:
            found = s.execute(
                select(resident_handles.c.handle).where(
                    resident_handles.c.session_id == session_id,
                    resident_handles.c.lg_code == lg_code,
                    resident_handles.c.kind == kind.value,
                    resident_handles.c.resident_code == resident_code,
                    resident_handles.c.from_lg_code.is_(None)
                    if from_lg_code is None
                    else resident_handles.c.from_lg_code == from_lg_code,
                )
            ).first()
            if found is not None:
                return str(found[0])
            now = self.clock.now()
            s.execute(
                delete(resident_handles).where(resident_handles.c.created_at < now - self.max_age)
            )
            handle = secrets.token_hex(16)
            s.execute(
                insert(resident_handles).values(
                    handle=handle,
                    session_id=session_id,
                    lg_code=lg_code,
                    kind=kind.value,
                    resident_code=resident_code,
                    from_lg_code=from_lg_code,
                    created_at=now,
                )
            )
        return handle

    def resolve(self, session_id: str, lg_code: str, handle: str, kind: HandleKind) -> Handle:
        """What the session's ``handle`` stands for at ``lg_code``; refused otherwise."""
        if not _HANDLE.match(handle or ""):
            raise HandleNotFound("no such resident for this session")
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(resident_handles).where(
                        resident_handles.c.handle == handle,
                        resident_handles.c.session_id == session_id,
                        resident_handles.c.lg_code == lg_code,
                        resident_handles.c.kind == kind.value,
                        resident_handles.c.created_at >= self.clock.now() - self.max_age,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise HandleNotFound("no such resident for this session")
        return Handle(
            handle=row["handle"],
            kind=HandleKind(row["kind"]),
            lg_code=row["lg_code"],
            resident_code=row["resident_code"],
            from_lg_code=row["from_lg_code"],
        )
