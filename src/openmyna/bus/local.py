"""The embedded bus: a durable event log in the bus's own database (SQLite or PostgreSQL).

Each event gets a sequence number; each durable consumer has a cursor (the last sequence it
has finished with). ``pump`` reads past the cursor in sequence order, calls the handler and
only then moves the cursor, one event at a time, so a crash repeats at most the event that
was in the handler.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
    UniqueConstraint,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from openmyna.bus.events import (
    BusClosed,
    ConsumerConflict,
    DeliveryFailure,
    Event,
    Handler,
    HandlerError,
    InvalidSubject,
    check_event,
    matches_any,
    validate_consumer,
    validate_subject,
)
from openmyna.config import Settings
from openmyna.store import Store, StoreKind, open_store, register_kind

log = logging.getLogger("openmyna.bus")

KIND = "bus"
BODY = "local"

metadata = MetaData()

_SEQ = BigInteger().with_variant(Integer(), "sqlite")

events_table = Table(
    "events",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("type", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", JSON(), nullable=False),
    UniqueConstraint("event_id", name="uq_events_event_id"),
    sqlite_autoincrement=True,
)

cursors_table = Table(
    "consumer_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("subjects", JSON(), nullable=False),
    Column("position", BigInteger(), nullable=False),
)

register_kind(StoreKind(name=KIND, metadata=metadata, migrations="openmyna.bus:migrations"))


@dataclass
class _Subscription:
    name: str
    subjects: tuple[str, ...]
    handler: Handler


def _subject_filter(subjects: Sequence[str]) -> ColumnElement[bool] | None:
    """A SQL pre-filter on ``type`` (exact or prefix); ``None`` when all rows must be read.

    It may let through rows the patterns do not match (``*`` tokens); ``matches_any`` decides.
    """
    clauses: list[ColumnElement[bool]] = []
    for pattern in subjects:
        tokens = pattern.split(".")
        literal: list[str] = []
        for token in tokens:
            if token in ("*", ">"):
                break
            literal.append(token)
        if len(literal) == len(tokens):
            clauses.append(events_table.c.type == pattern)
        elif not literal:
            return None
        else:
            clauses.append(events_table.c.type.startswith(".".join(literal) + ".", autoescape=True))
    return or_(*clauses)


class LocalBus:
    """The embedded, durable bus (``settings.bus_url`` is ``None``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        batch: int = 200,
        poll_interval: float = 0.05,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._store: Store = open_store(settings, KIND, BODY)
        self._batch = batch
        self._poll_interval = poll_interval
        self._subs: dict[str, _Subscription] = {}
        self._pump_lock = threading.Lock()
        self._closed = False

    @property
    def store(self) -> Store:
        """The database holding the log (for inspection and tests)."""
        return self._store

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")

    # -- publishing -------------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """Append events in one transaction; an id already in the log is not stored again."""
        self._check_open()
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for event in events:
            check_event(event)
            if event.id in seen:
                continue
            seen.add(event.id)
            rows.append(
                {
                    "event_id": event.id,
                    "type": event.type,
                    "source": event.source,
                    "occurred_at": event.occurred_at.astimezone(dt.UTC),
                    "data": dict(event.data),
                }
            )
        if not rows:
            return
        with self._store.connection() as conn:
            if self._store.dialect == "postgresql":
                # Sequence numbers must become visible in order: a reader that has seen seq N
                # must never later find a smaller one. Serialising writers makes commit order
                # equal sequence order (SQLite serialises writers by itself). Readers are not
                # blocked by this lock mode.
                conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
                pg_stmt = postgresql.insert(events_table).on_conflict_do_nothing(
                    index_elements=["event_id"]
                )
                conn.execute(pg_stmt, rows)
            else:
                lite_stmt = sqlite.insert(events_table).on_conflict_do_nothing(
                    index_elements=["event_id"]
                )
                conn.execute(lite_stmt, rows)

    # -- subscribing ------------------------------------------------------------------

    def subscribe(self, consumer: str, subjects: Sequence[str], handler: Handler) -> None:
        """Attach ``handler`` to the durable consumer ``consumer`` (created at the log's start)."""
        self._check_open()
        validate_consumer(consumer)
        if isinstance(subjects, str) or not subjects:
            raise InvalidSubject("subjects must be a non-empty list of subject patterns")
        wanted = tuple(validate_subject(s) for s in subjects)
        if consumer in self._subs:
            raise ConsumerConflict("consumer already subscribed on this bus", consumer=consumer)
        dialect_insert = postgresql.insert if self._store.dialect == "postgresql" else sqlite.insert
        with self._store.transaction() as session:
            # A new consumer starts before the first event; racing creators agree on that.
            session.execute(
                dialect_insert(cursors_table)
                .values(name=consumer, subjects=list(wanted), position=0)
                .on_conflict_do_nothing()
            )
            stored = session.execute(
                select(cursors_table.c.subjects).where(cursors_table.c.name == consumer)
            ).scalar_one()
            if list(stored) != list(wanted):
                # The cursor stays: events past it are now filtered by the new subjects.
                log.info("bus consumer %s changes its subjects", consumer)
                session.execute(
                    update(cursors_table)
                    .where(cursors_table.c.name == consumer)
                    .values(subjects=list(wanted))
                )
        self._subs[consumer] = _Subscription(consumer, wanted, handler)

    # -- delivering -------------------------------------------------------------------

    def pump(self, *, timeout: float = 0.0) -> int:
        """Deliver pending events to every consumer; wait up to ``timeout`` s if none are.

        A handler that raises stops its consumer at that event (delivered again next time);
        the other consumers still get theirs, then ``HandlerError`` is raised.
        """
        self._check_open()
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._pump_lock:
            while True:
                handled, failures = self._deliver_all()
                if failures:
                    raise HandlerError(failures, handled) from failures[0].error
                remaining = deadline - time.monotonic()
                if handled or remaining <= 0:
                    return handled
                time.sleep(min(self._poll_interval, remaining))

    def _deliver_all(self) -> tuple[int, list[DeliveryFailure]]:
        handled = 0
        failures: list[DeliveryFailure] = []
        for sub in list(self._subs.values()):
            count, failure = self._drain(sub)
            handled += count
            if failure is not None:
                failures.append(failure)
        return handled, failures

    def _drain(self, sub: _Subscription) -> tuple[int, DeliveryFailure | None]:
        with self._store.engine.connect() as conn:
            postgres = self._store.dialect == "postgresql"
            if postgres:
                # A cursor move lost in a server crash only means a redelivery, which the
                # at-least-once contract allows: no need to wait for the WAL flush on every
                # event. Session-wide for this drain only, reset before the connection
                # goes back to the pool (publish must keep synchronous commits).
                with conn.begin():
                    conn.execute(text("SET synchronous_commit TO OFF"))
            try:
                return self._drain_on(conn, sub)
            finally:
                if postgres and not conn.invalidated:
                    conn.rollback()
                    with conn.begin():
                        conn.execute(text("RESET synchronous_commit"))

    def _drain_on(self, conn: Connection, sub: _Subscription) -> tuple[int, DeliveryFailure | None]:
        handled = 0
        prefilter = _subject_filter(sub.subjects)
        with conn.begin():
            position = conn.execute(
                select(cursors_table.c.position).where(cursors_table.c.name == sub.name)
            ).scalar_one()
        while True:
            with conn.begin():
                head = conn.execute(select(func.max(events_table.c.seq))).scalar() or 0
                query = (
                    select(events_table)
                    .where(events_table.c.seq > position, events_table.c.seq <= head)
                    .order_by(events_table.c.seq)
                    .limit(self._batch)
                )
                if prefilter is not None:
                    query = query.where(prefilter)
                rows = conn.execute(query).mappings().all()
            if not rows:
                # Nothing of interest up to head: skip the cursor past what was scanned.
                if head > position:
                    _advance(conn, sub.name, head)
                return handled, None
            for row in rows:
                if matches_any(sub.subjects, row["type"]):
                    event = _to_event(row)
                    try:
                        sub.handler(event)
                    except Exception as exc:  # noqa: BLE001 - reported by pump as HandlerError
                        log.warning(
                            "bus consumer %s failed at event %s (%s): %s",
                            sub.name,
                            event.id,
                            event.type,
                            type(exc).__name__,
                        )
                        return handled, DeliveryFailure(sub.name, event, exc)
                    handled += 1
                    _advance(conn, sub.name, row["seq"])
                position = row["seq"]

    def drop(self) -> None:
        """Delete the whole log with its cursors (tests and ``demo --reset``), then close."""
        self._check_open()
        self._closed = True
        self._subs.clear()
        self._store.drop()

    def close(self) -> None:
        """Release the database; later calls raise ``BusClosed``."""
        if not self._closed:
            self._closed = True
            self._subs.clear()
            self._store.close()


def _advance(conn: Connection, consumer: str, seq: int) -> None:
    """Move a consumer's cursor forward to ``seq`` (never back), in its own transaction."""
    with conn.begin():
        conn.execute(
            update(cursors_table)
            .where(cursors_table.c.name == consumer, cursors_table.c.position < seq)
            .values(position=seq)
        )


def _to_event(row: Any) -> Event:
    occurred_at: dt.datetime = row["occurred_at"]
    if occurred_at.tzinfo is None:  # SQLite keeps no offset; the log stores UTC
        occurred_at = occurred_at.replace(tzinfo=dt.UTC)
    return Event(
        id=row["event_id"],
        type=row["type"],
        source=row["source"],
        occurred_at=occurred_at,
        data=row["data"],
    )
