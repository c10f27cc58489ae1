"""The hub's working state in its own database: exchanges by idempotency key, the replay
guard and the node directory.

The hub keeps nothing a second hub process could not see: two hub processes on one
PostgreSQL database share these tables, so a retry may reach either of them, a message
replayed to the other hub is still refused, and a node registered through one is reachable
through both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.network.errors import UnknownNode
from openmyna.network.tables import hub_exchanges, hub_nodes, seen_messages
from openmyna.store import Store
from openmyna.store.insert import insert_new

#: How often expired message ids are deleted from the replay guard.
PRUNE_EVERY: Final = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class HubExchange:
    """One exchange as the hub keeps it: ``open`` until recorded, then ``done`` or ``refused``."""

    exchange_id: str
    requester: str
    idempotency_key: str
    request_digest: str
    state: str
    error_code: str | None


class HubStore:
    """Exchanges, seen message ids and node addresses, in the hub database."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._next_prune = clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction on the hub database."""
        with self.store.transaction() as s:
            yield s

    # --- the replay guard ------------------------------------------------------------------

    def first_seen(
        self, s: Session, messages: Sequence[tuple[str, str, dt.datetime]]
    ) -> set[tuple[str, str]]:
        """Record (sender, message id, expires at) triples; the pairs not seen before."""
        now = self._clock.now()
        if now >= self._next_prune:
            s.execute(delete(seen_messages).where(seen_messages.c.expires_at < now - PRUNE_EVERY))
            self._next_prune = now + PRUNE_EVERY
        rows = [{"sender": a, "message_id": b, "expires_at": c} for a, b, c in messages]
        return insert_new(s, seen_messages, rows, ("sender", "message_id"))

    # --- exchanges ---------------------------------------------------------------------------

    def open_exchanges(
        self, s: Session, wanted: Sequence[tuple[str, str, str, str]]
    ) -> dict[tuple[str, str], HubExchange]:
        """Open (exchange id, requester, idempotency key, request digest) unless the key was
        used before; every exchange of those keys, new or earlier, by (requester, key)."""
        now = self._clock.now()
        rows = [
            {
                "exchange_id": exchange_id,
                "requester": requester,
                "idempotency_key": key,
                "request_digest": digest,
                "state": "open",
                "opened_at": now,
            }
            for exchange_id, requester, key, digest in wanted
        ]
        insert_new(s, hub_exchanges, rows, ("exchange_id",))
        pairs = list({(w[1], w[2]) for w in wanted})
        if not pairs:
            return {}
        found = s.execute(
            select(hub_exchanges).where(
                tuple_(hub_exchanges.c.requester, hub_exchanges.c.idempotency_key).in_(pairs)
            )
        ).all()
        return {
            (r.requester, r.idempotency_key): HubExchange(
                exchange_id=r.exchange_id,
                requester=r.requester,
                idempotency_key=r.idempotency_key,
                request_digest=r.request_digest,
                state=r.state,
                error_code=r.error_code,
            )
            for r in found
        }

    def close_exchanges(
        self, s: Session, exchange_ids: Sequence[str], state: str, error_code: str | None = None
    ) -> set[str]:
        """Move open exchanges to ``state``; the ids that were still open (record those only)."""
        if not exchange_ids:
            return set()
        result = s.execute(
            update(hub_exchanges)
            .where(hub_exchanges.c.exchange_id.in_(list(exchange_ids)))
            .where(hub_exchanges.c.state == "open")
            .values(state=state, error_code=error_code, closed_at=self._clock.now())
            .returning(hub_exchanges.c.exchange_id)
        )
        return {str(r[0]) for r in result}

    def open_count(self) -> int:
        """How many exchanges are open (forwarded, not yet answered and recorded)."""
        with self.store.transaction() as s:
            return int(
                s.execute(select(func.count()).where(hub_exchanges.c.state == "open")).scalar_one()
            )

    # --- the node directory -----------------------------------------------------------------

    def register_node(self, agency_id: str, url: str) -> None:
        """Remember (or change) where the agency's node listens."""
        now = self._clock.now()
        with self.store.transaction() as s:
            changed = s.execute(
                update(hub_nodes)
                .where(hub_nodes.c.agency_id == agency_id)
                .values(url=url, registered_at=now)
                .returning(hub_nodes.c.agency_id)
            ).first()
            if changed is None:
                insert_new(
                    s,
                    hub_nodes,
                    [{"agency_id": agency_id, "url": url, "registered_at": now}],
                    ("agency_id",),
                )

    def node_url(self, agency_id: str) -> str:
        """Where the agency's node listens; ``UNKNOWN_NODE`` if it never registered."""
        with self.store.transaction() as s:
            url = s.execute(
                select(hub_nodes.c.url).where(hub_nodes.c.agency_id == agency_id)
            ).scalar_one_or_none()
        if url is None:
            raise UnknownNode("no node of that agency has registered", agency=agency_id)
        return str(url)
