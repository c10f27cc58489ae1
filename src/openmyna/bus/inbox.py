"""Idempotent consumers: the inbox pattern, in the consumer's own database.

Delivery is at least once, so a consumer records each event id it has applied, in the same
transaction as the effect. A redelivered event finds its id recorded and is skipped; a crash
before commit loses both the effect and the record, so the redelivery applies it again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.bus.events import Event, Handler, validate_consumer
from openmyna.errors import Conflict

DEFAULT_TABLE = "processed_events"


class AlreadyProcessed(Conflict):
    """``mark_processed`` for an event the consumer has already recorded."""

    code = "BUS_ALREADY_PROCESSED"


def processed_events_columns() -> list[Column[Any]]:
    """Fresh columns of an inbox table, e.g. for ``op.create_table(name, *columns)``."""
    return [
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
    ]


def processed_events_table(metadata: MetaData, name: str = DEFAULT_TABLE) -> Table:
    """The inbox table in a domain's own ``metadata`` (created once, then reused)."""
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(name, metadata, *processed_events_columns())


def already_processed(session: Session, table: Table, consumer: str, event_id: str) -> bool:
    """Whether ``consumer`` has recorded ``event_id`` in this database."""
    query = select(exists().where(table.c.consumer == consumer, table.c.event_id == event_id))
    return bool(session.execute(query).scalar())


def claim_event(session: Session, table: Table, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` for ``consumer`` unless already there; True if this call recorded it.

    Atomic (insert-if-absent), so two deliveries racing on PostgreSQL cannot both win: the
    second waits on the first's row and then sees it.
    """
    validate_consumer(consumer)
    values = {"consumer": consumer, "event_id": event_id}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        # RETURNING, not rowcount: drivers differ on rowcount for ON CONFLICT DO NOTHING.
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            dialect_insert(table)
            .values(values)
            .on_conflict_do_nothing()
            .returning(table.c.event_id)
        )
        return session.execute(stmt).first() is not None
    try:
        with session.begin_nested():
            session.execute(insert(table).values(values))
    except IntegrityError:
        return False
    return True


def mark_processed(session: Session, table: Table, consumer: str, event_id: str) -> None:
    """Record ``event_id`` for ``consumer``; raise ``AlreadyProcessed`` if it was recorded."""
    if not claim_event(session, table, consumer, event_id):
        raise AlreadyProcessed("event already processed", consumer=consumer, event_id=event_id)


def idempotent(
    transaction: Callable[[], AbstractContextManager[Session]],
    table: Table,
    consumer: str,
    effect: Callable[[Session, Event], None],
) -> Handler:
    """A handler that applies ``effect`` at most once per event id, in one transaction.

    ``transaction`` is the consumer's own, e.g. ``store.transaction``; the claim and the
    effect commit or roll back together.
    """
    validate_consumer(consumer)

    def handle(event: Event) -> None:
        with transaction() as session:
            if claim_event(session, table, consumer, event.id):
                effect(session, event)

    return handle
