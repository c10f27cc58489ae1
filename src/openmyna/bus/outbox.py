"""Publishing together with a domain's own changes: the transactional outbox.

The bus lives in another database (or on NATS), so "commit the move, then publish" can lose
the event if the process dies in between. Instead the domain stages its events in an outbox
table *in its own transaction*; ``relay`` later publishes what is staged, oldest first, and
then deletes it. A crash between publishing and deleting publishes the same event ids again,
which the bus and the consumers' inboxes absorb (at least once).

Published rows are deleted, not kept with a "sent" mark: the outbox is a queue, not a
history. The bus's log is the record of what was published, the domain's own audit log is
its history of changes, and event data is often personal data that should not pile up in a
second copy nobody reads. A queue that stays small also needs no index to find its unsent
rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session

from openmyna.bus.events import Event, check_event, encode_data

DEFAULT_TABLE = "outbox"
RELAY_BATCH = 500

Transaction = Callable[[], AbstractContextManager[Session]]


class Publisher(Protocol):
    """The part of a ``Bus`` the relay needs."""

    def publish(self, events: Sequence[Event]) -> None:
        """Append events to the bus; durable once this returns."""
        ...


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
        # JSON as text: written as is by executemany and COPY, read back with json.loads.
        Column("data", Text(), nullable=False),
    ]


def outbox_table(metadata: MetaData, name: str = DEFAULT_TABLE) -> Table:
    """The outbox table in a domain's own ``metadata`` (created once, then reused)."""
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(name, metadata, *outbox_columns(), sqlite_autoincrement=True)


def outbox_rows(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The outbox rows of ``events`` after checking them, in order (for bulk inserts)."""
    rows = []
    for event in events:
        # Everything but the data here; encoding the data (once) checks it.
        check_event(dataclasses.replace(event, data={}))
        rows.append(
            {
                "event_id": event.id,
                "type": event.type,
                "source": event.source,
                "occurred_at": event.occurred_at.astimezone(dt.UTC),
                "data": encode_data(event),
            }
        )
    return rows


def stage(session: Session, table: Table, events: Sequence[Event]) -> None:
    """Put events in the outbox inside the caller's transaction (published by ``relay``)."""
    rows = outbox_rows(events)
    if rows:
        session.execute(insert(table), rows)


def staged(session: Session, table: Table, *, limit: int | None = None) -> list[Event]:
    """The events waiting in the outbox, oldest first (at most ``limit``)."""
    rows = session.execute(select(table).order_by(table.c.seq).limit(limit)).mappings()
    return [_to_event(row) for row in rows]


def staged_count(session: Session, table: Table) -> int:
    """How many events wait in the outbox."""
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def relay(
    transaction: Transaction, table: Table, bus: Publisher, *, batch: int = RELAY_BATCH
) -> int:
    """Publish everything staged, oldest first, deleting what the bus has stored; return count.

    Reading, publishing and deleting are separate steps, so no database transaction stays
    open while the bus works. Two relays running at once may both publish a batch; the bus
    de-duplicates the repeated ids.
    """
    total = 0
    while True:
        with transaction() as session:
            events = staged(session, table, limit=batch)
        if not events:
            return total
        bus.publish(events)  # durable once it returns; a crash after it only repeats ids
        with transaction() as session:
            session.execute(delete(table).where(table.c.event_id.in_([e.id for e in events])))
        total += len(events)
        if len(events) < batch:
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
        data=json.loads(row["data"]),
    )
