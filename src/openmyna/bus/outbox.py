"""Publishing together with a domain's own changes: the transactional outbox.

The bus lives in another database (or on NATS), so "commit the move, then publish" can lose
the event if the process dies in between. Instead the domain stages its events in an outbox
table *in its own transaction*; ``relay`` later publishes what is staged, in order, and
deletes it. A crash between publishing and deleting publishes the same event ids again,
which the bus and the consumers' inboxes absorb.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Session

from openmyna.bus.events import Bus, Event, check_event

DEFAULT_TABLE = "outbox"


def outbox_columns() -> list[Column[Any]]:
    """Fresh columns of an outbox table, e.g. for ``op.create_table(name, *columns)``."""
    return [
        Column(
            "seq",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("data", JSON(), nullable=False),
    ]


def outbox_table(metadata: MetaData, name: str = DEFAULT_TABLE) -> Table:
    """The outbox table in a domain's own ``metadata`` (created once, then reused)."""
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(name, metadata, *outbox_columns(), sqlite_autoincrement=True)


def stage(session: Session, table: Table, events: Sequence[Event]) -> None:
    """Put events in the outbox inside the caller's transaction (published by ``relay``)."""
    rows = []
    for event in events:
        check_event(event)
        rows.append(
            {
                "event_id": event.id,
                "type": event.type,
                "source": event.source,
                "occurred_at": event.occurred_at.astimezone(dt.UTC),
                "data": dict(event.data),
            }
        )
    if rows:
        session.execute(insert(table), rows)


def relay(
    transaction: Callable[[], AbstractContextManager[Session]],
    table: Table,
    bus: Bus,
    *,
    batch: int = 500,
) -> int:
    """Publish everything staged, oldest first, deleting what the bus has stored; return count."""
    total = 0
    while True:
        with transaction() as session:
            rows = session.execute(select(table).order_by(table.c.seq).limit(batch)).all()
            if not rows:
                return total
            events = [_to_event(row._mapping) for row in rows]
            bus.publish(events)  # durable once it returns; a crash after it only repeats ids
            session.execute(delete(table).where(table.c.seq.in_([row.seq for row in rows])))
        total += len(rows)
        if len(rows) < batch:
            return total


def _to_event(row: Any) -> Event:
    occurred_at: dt.datetime = row["occurred_at"]
    if occurred_at.tzinfo is None:  # SQLite keeps no offset; the outbox stores UTC
        occurred_at = occurred_at.replace(tzinfo=dt.UTC)
    return Event(
        id=row["event_id"],
        type=row["type"],
        source=row["source"],
        occurred_at=occurred_at,
        data=row["data"],
    )
