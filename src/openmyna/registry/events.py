"""The registry's events: their data, the transactional outbox, and the relay to the bus.

Every change writes its bus message into the ``outbox`` table in the same transaction as the
change itself. The relay publishes unsent rows and then marks them sent; a crash between
commit and publish (or between publish and mark) loses nothing — at worst an event is
published twice, and consumers are idempotent by event id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openmyna.bus import Event
from openmyna.clock import Clock
from openmyna.registry.models import EventType, Resident
from openmyna.registry.tables import audit_log, outbox
from openmyna.store import Store

log = logging.getLogger(__name__)

RELAY_BATCH = 1000


class Publisher(Protocol):
    """The part of the bus the relay needs."""

    def publish(self, events: Sequence[Event]) -> Any:
        """Publish events (at-least-once)."""
        ...


def utc(moment: dt.datetime) -> dt.datetime:
    """A datetime as timezone-aware UTC (SQLite returns naive UTC values)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def source_of(lg_code: str) -> str:
    """The event source of a municipality's registry."""
    return f"registry.{lg_code}"


def new_event_id() -> str:
    """A fresh event id (uuid4 hex, as the bus makes them)."""
    return uuid.uuid4().hex


def person_data(r: Mapping[str, Any]) -> dict[str, Any]:
    """A person's part of event data: code, sequence number, names and the 4 basic items.

    ``r`` is a resident's fields (a ``residents`` row or ``vars(Resident)``). The individual
    number is never put on the bus: the index derives it from the code (J-LIS role).
    """
    return {
        "resident_code": r["resident_code"],
        "seq": r["seq"],
        "family_name": r["family_name"],
        "given_name": r["given_name"],
        "family_name_kana": r["family_name_kana"],
        "given_name_kana": r["given_name_kana"],
        "former_surname": r["former_surname"],
        "date_of_birth": r["date_of_birth"].isoformat(),
        "sex": int(r["sex"]),
        "address": r["address"],
    }


def resident_data(
    r: Mapping[str, Any], lg_code: str, event_date: dt.date, **extra: Any
) -> dict[str, Any]:
    """The data of a one-person event: the person, the municipality and the event date."""
    data: dict[str, Any] = {"lg_code": lg_code, "event_date": event_date.isoformat()}
    data.update(person_data(r))
    data.update(extra)
    return data


def registered_data(
    people: Sequence[Mapping[str, Any]], lg_code: str, event_date: dt.date
) -> dict[str, Any]:
    """The data of a bulk ``registry.registered`` event: many people of one municipality."""
    return {
        "lg_code": lg_code,
        "event_date": event_date.isoformat(),
        "residents": [person_data(p) for p in people],
    }


def dumps(data: Mapping[str, Any]) -> str:
    """Event data as compact JSON text (kept readable for Japanese)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def outbox_row(
    event_type: EventType, lg_code: str, data: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """One outbox row."""
    return {
        "event_id": new_event_id(),
        "type": event_type.value,
        "source": source_of(lg_code),
        "occurred_at": now,
        "data": dumps(data),
        "created_at": now,
        "sent_at": None,
    }


def audit_row(
    *,
    now: dt.datetime,
    event_date: dt.date,
    action: str,
    event_id: str | None,
    resident_code: str | None,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """One audit row: who, when, why and which record — never the content."""
    return {
        "recorded_at": now,
        "event_date": event_date,
        "action": action,
        "event_id": event_id,
        "resident_code": resident_code,
        "actor": actor,
        "reason": reason,
    }


def record_event(
    session: Session,
    event_type: EventType,
    resident: Resident,
    event_date: dt.date,
    *,
    now: dt.datetime,
    actor: str,
    reason: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Write one event's outbox row and audit row in the caller's transaction; its id."""
    data = resident_data(vars(resident), resident.lg_code, event_date, **dict(extra or {}))
    row = outbox_row(event_type, resident.lg_code, data, now)
    session.execute(outbox.insert(), row)
    session.execute(
        audit_log.insert(),
        audit_row(
            now=now,
            event_date=event_date,
            action=event_type.value,
            event_id=row["event_id"],
            resident_code=resident.resident_code,
            actor=actor,
            reason=reason,
        ),
    )
    return str(row["event_id"])


def pending(store: Store) -> int:
    """How many outbox rows are not yet published."""
    with store.transaction() as s:
        n = s.execute(
            select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        ).scalar_one()
    return int(n)


def relay(store: Store, bus: Publisher, clock: Clock, batch: int = RELAY_BATCH) -> int:
    """Publish every unsent outbox row, oldest first, then mark it sent; how many."""
    total = 0
    while True:
        with store.transaction() as s:
            rows = s.execute(
                select(outbox)
                .where(outbox.c.sent_at.is_(None))
                .order_by(outbox.c.outbox_id)
                .limit(batch)
            ).all()
        if not rows:
            return total
        events = [
            Event(
                id=r.event_id,
                type=r.type,
                source=r.source,
                occurred_at=utc(r.occurred_at),
                data=json.loads(r.data),
            )
            for r in rows
        ]
        bus.publish(events)
        ids = [r.outbox_id for r in rows]
        with store.transaction() as s:
            s.execute(update(outbox).where(outbox.c.outbox_id.in_(ids)).values(sent_at=clock.now()))
        total += len(rows)
        log.debug("relayed %d registry events from %s", len(rows), store.body_id)
