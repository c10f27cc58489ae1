"""An agency node's own database (store kind ``node``, body = agency id with '-' → '_').

It holds the agency's information items, each under the agency's own agency-specific code
(機関別符号), and the node's own exchange records: who asked or answered, for which affair
and item, when, and how it ended — never the content and never another agency's code.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.network.records import Outcome
from openmyna.network.tables import NAMING
from openmyna.store import Store, StoreKind, open_store, register_kind

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
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        now = self._clock.now()
        key = (node_items.c.code == code) & (node_items.c.item == item)
        with self.store.transaction() as s:
            held = s.execute(select(node_items.c.code).where(key)).first()
            if held is not None:
                s.execute(
                    update(node_items)
                    .where(key)
                    .values(version=version, payload=text, stored_at=now)
                )
            else:
                s.execute(
                    node_items.insert().values(
                        code=code, item=item, version=version, payload=text, stored_at=now
                    )
                )

    def get_item(self, code: str, item: str) -> tuple[int, dict[str, Any]] | None:
        """The (layout version, payload) held under a code, or None."""
        with self.store.transaction() as s:
            row = s.execute(
                select(node_items.c.version, node_items.c.payload).where(
                    node_items.c.code == code, node_items.c.item == item
                )
            ).first()
        if row is None:
            return None
        data = json.loads(row.payload)
        if not isinstance(data, dict):
            return None
        return int(row.version), data

    def record(
        self,
        *,
        role: str,
        peer: str,
        affair: str,
        item: str,
        outcome: Outcome,
        exchange_id: str | None,
    ) -> None:
        """Append one exchange record (no content, no code)."""
        with self.store.transaction() as s:
            s.execute(
                node_records.insert().values(
                    recorded_at=self._clock.now(),
                    exchange_id=exchange_id,
                    role=role,
                    peer=peer,
                    affair=affair,
                    item=item,
                    outcome=str(outcome),
                )
            )

    def records(self) -> list[NodeRecord]:
        """Every exchange record of this node, oldest first."""
        with self.store.transaction() as s:
            rows = s.execute(select(node_records).order_by(node_records.c.id)).all()
        return [
            NodeRecord(
                recorded_at=r.recorded_at,
                exchange_id=r.exchange_id,
                role=r.role,
                peer=r.peer,
                affair=r.affair,
                item=r.item,
                outcome=Outcome(r.outcome),
            )
            for r in rows
        ]
