"""A test domain with a real, non-idempotent effect (a row per call), an inbox and an outbox.

Shared by the tests and by the child process of the crash test (``crash_consumer.py``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.orm import Session

from openmyna.bus import Event, Handler, idempotent, outbox_table, processed_events_table
from openmyna.config import Settings
from openmyna.store import Store, StoreKind, open_store, register_kind

metadata = MetaData()
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
)
inbox = processed_events_table(metadata)
outbox = outbox_table(metadata)

KIND = register_kind(
    StoreKind(
        name="bustest",
        metadata=metadata,
        migrations=str(Path(__file__).resolve().parent / "effects_migrations"),
    )
)


def open_effects(settings: Settings) -> Store:
    """The consumer's own database (one per test data dir or schema prefix)."""
    return open_store(settings, KIND.name, "effects")


def effect_handler(store: Store, consumer: str) -> Handler:
    """A handler that adds one effect row per event, at most once thanks to the inbox."""

    def apply(session: Session, event: Event) -> None:
        session.execute(effects.insert().values(consumer=consumer, event_id=event.id))

    return idempotent(store.transaction, inbox, consumer, apply)


def effect_counts(store: Store, consumer: str) -> dict[str, int]:
    """How many effect rows each event id has for ``consumer``."""
    with store.transaction() as session:
        rows = session.execute(
            select(effects.c.event_id, func.count())
            .where(effects.c.consumer == consumer)
            .group_by(effects.c.event_id)
        ).all()
    return {event_id: count for event_id, count in rows}
