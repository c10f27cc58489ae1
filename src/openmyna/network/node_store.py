"""An agency node's own database (store kind ``node``, body = agency id with '-' → '_').

It holds the agency's information items, each under the agency's own agency-specific code
(機関別符号), and the node's own exchange records: who asked or answered, for which affair
and item, when, and how it ended — never the content and never another agency's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    tuple_,
    update,
)

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.network.errors import IdempotencyConflict
from openmyna.network.records import Outcome
from openmyna.network.tables import NAMING
from openmyna.store import Store, StoreKind, open_store, register_kind
from openmyna.store.insert import insert_new

NODE_KIND = "node"

node_metadata = MetaData(naming_convention=NAMING)

# One row per (code, item): the latest validated layout, as JSON.
node_items = Table(
    "node_items",
    node_metadata,
    Column("code", String(26), primary_key=True),
    Column("item", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)

# The node's own exchange records: as requester or as provider, never the content.
node_records = Table(
    "node_records",
    node_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("exchange_id", String(64), nullable=True),
    Column("role", String(16), nullable=False),
    Column("peer", String(40), nullable=False),
    Column("affair", String(64), nullable=False),
    Column("item", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Index(None, "exchange_id", "role", unique=True),  # one record per exchange and role
)

# The requests this node sent, by idempotency key: a retry with the same key continues the
# exchange of the first request (its request id is what the answer is bound to).
node_outgoing = Table(
    "node_outgoing",
    node_metadata,
    Column("idempotency_key", String(64), primary_key=True),
    Column("request_id", String(32), nullable=False),
    Column("code", String(26), nullable=False),
    Column("affair", String(64), nullable=False),
    Column("item", String(64), nullable=False),
    Column("provider_kind", String(64), nullable=True),
    Column("provider_agency", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("request_id"),
)

NODE = register_kind(
    StoreKind(NODE_KIND, node_metadata, migrations="openmyna.network:migrations/node")
)


def node_body(agency_id: str) -> str:
    """The store body id of an agency's node: its agency id with '-' replaced by '_'."""
    return agency_id.replace("-", "_")


@dataclass(frozen=True)
class NodeRecord:
    """One exchange as seen by a node: role ``requester`` or ``provider``, and the peer."""

    recorded_at: dt.datetime
    exchange_id: str | None
    role: str
    peer: str
    affair: str
    item: str
    outcome: Outcome


@dataclass(frozen=True)
class NewNodeRecord:
    """A record to append: the node's role in the exchange, the peer, and the outcome."""

    role: str
    peer: str
    affair: str
    item: str
    outcome: Outcome
    exchange_id: str | None


@dataclass(frozen=True)
class OutgoingRequest:
    """A request this node sent, under its idempotency key (no content, the node's own code)."""

    idempotency_key: str
    request_id: str
    code: str
    affair: str
    item: str
    provider_kind: str | None
    provider_agency: str | None


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes: everything stored here is UTC.
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _outgoing(r: Any) -> OutgoingRequest:
    return OutgoingRequest(
        idempotency_key=r.idempotency_key,
        request_id=r.request_id,
        code=r.code,
        affair=r.affair,
        item=r.item,
        provider_kind=r.provider_kind,
        provider_agency=r.provider_agency,
    )


class NodeStore:
    """An agency node's items (by its own codes) and its exchange records."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self._clock = clock

    @classmethod
    def open(cls, settings: Settings, clock: Clock, agency_id: str) -> NodeStore:
        """Open (creating and migrating if needed) the node database of one agency."""
        return cls(open_store(settings, NODE_KIND, node_body(agency_id)), clock)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    def put_item(self, code: str, item: str, version: int, payload: dict[str, Any]) -> None:
        """Store (or replace) the item held under one of the agency's codes."""
        self.put_items([(code, item, version, payload)])

    def put_items(
        self, rows: Sequence[tuple[str, str, int, dict[str, Any]]], *, chunk: int = 500
    ) -> int:
        """Store (or replace) (code, item, layout version, payload) rows, ``chunk`` per
        transaction; how many were stored. Payloads are kept as compact JSON, sorted keys."""
        now = self._clock.now()
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for code, item, version, payload in rows:  # the last row for a (code, item) wins
            latest[(code, item)] = {
                "code": code,
                "item": item,
                "version": version,
                "payload": json.dumps(
                    payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True
                ),
                "stored_at": now,
            }
        values = list(latest.values())
        for i in range(0, len(values), chunk):
            part = values[i : i + chunk]
            keys = [(r["code"], r["item"]) for r in part]
            with self.store.transaction() as s:
                s.execute(
                    node_items.delete().where(
                        tuple_(node_items.c.code, node_items.c.item).in_(keys)
                    )
                )
                s.execute(node_items.insert(), part)
        return len(values)

    def get_item(self, code: str, item: str) -> tuple[int, dict[str, Any]] | None:
        """The (layout version, payload) held under a code, or None."""
        return self.get_items([(code, item)]).get((code, item))

    def get_items(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
        """The (layout version, payload) held for each (code, item) that has one."""
        if not keys:
            return {}
        with self.store.transaction() as s:
            rows = s.execute(
                select(
                    node_items.c.code, node_items.c.item, node_items.c.version, node_items.c.payload
                ).where(tuple_(node_items.c.code, node_items.c.item).in_(list(set(keys))))
            ).all()
        found: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        for row in rows:
            data = json.loads(row.payload)
            if isinstance(data, dict):
                found[(row.code, row.item)] = (int(row.version), data)
        return found

    def record(
        self,
        *,
        role: str,
        peer: str,
        affair: str,
        item: str,
        outcome: Outcome,
        exchange_id: str | None,
    ) -> bool:
        """Append one exchange record (no content, no code); False if already recorded."""
        entry = NewNodeRecord(role, peer, affair, item, outcome, exchange_id)
        return bool(self.record_many([entry]))

    def record_many(self, entries: Sequence[NewNodeRecord]) -> list[NewNodeRecord]:
        """Append records in one transaction; those already recorded (same exchange and role,
        e.g. after a retry) are skipped. Returns the entries that were new."""
        now = self._clock.now()
        rows = [
            {
                "recorded_at": now,
                "exchange_id": e.exchange_id,
                "role": e.role,
                "peer": e.peer,
                "affair": e.affair,
                "item": e.item,
                "outcome": str(e.outcome),
            }
            for e in entries
        ]
        with self.store.transaction() as s:
            keyed = [r for r in rows if r["exchange_id"] is not None]
            new = insert_new(s, node_records, keyed, ("exchange_id", "role"))
            loose = [r for r in rows if r["exchange_id"] is None]
            if loose:
                s.execute(node_records.insert(), loose)
        return [e for e in entries if e.exchange_id is None or (e.exchange_id, e.role) in new]

    # --- outgoing requests ---------------------------------------------------------------------

    def open_requests(self, requests: Sequence[OutgoingRequest]) -> None:
        """Remember outgoing requests by idempotency key, each as its key's latest attempt.

        A key used before for the same request is a retry: its exchange continues, and the
        result now awaited is the new attempt's. A key used before for another request is
        refused with ``IDEMPOTENCY_CONFLICT`` and nothing is remembered.
        """
        if len({r.idempotency_key for r in requests}) != len(requests):
            raise IdempotencyConflict("an idempotency key appears twice in one batch")
        now = self._clock.now()
        rows = [dataclasses.asdict(r) | {"created_at": now} for r in requests]
        with self.store.transaction() as s:
            new = insert_new(s, node_outgoing, rows, ("idempotency_key",))
            retries = [r for r in requests if (r.idempotency_key,) not in new]
            if not retries:
                return
            keys = [r.idempotency_key for r in retries]
            held = {
                row.idempotency_key: _outgoing(row)
                for row in s.execute(
                    select(node_outgoing).where(node_outgoing.c.idempotency_key.in_(keys))
                )
            }
            for r in retries:
                if dataclasses.replace(held[r.idempotency_key], request_id=r.request_id) != r:
                    raise IdempotencyConflict("this idempotency key was used for another request")
                s.execute(
                    update(node_outgoing)
                    .where(node_outgoing.c.idempotency_key == r.idempotency_key)
                    .values(request_id=r.request_id)
                )

    def outgoing(self, request_ids: Sequence[str]) -> dict[str, OutgoingRequest]:
        """The outgoing requests with these (first) request ids, by request id."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(node_outgoing).where(node_outgoing.c.request_id.in_(list(request_ids)))
            ).all()
        return {r.request_id: _outgoing(r) for r in rows}

    def records(self) -> list[NodeRecord]:
        """Every exchange record of this node, oldest first."""
        with self.store.transaction() as s:
            rows = s.execute(select(node_records).order_by(node_records.c.id)).all()
        return [
            NodeRecord(
                recorded_at=_utc(r.recorded_at),
                exchange_id=r.exchange_id,
                role=r.role,
                peer=r.peer,
                affair=r.affair,
                item=r.item,
                outcome=Outcome(r.outcome),
            )
            for r in rows
        ]
