"""Provision: the registry's changes reach the businesses a person consented to.

The service follows the registries' events on the bus as the durable consumer
``latest-items`` (each event applied once, through the bus inbox). A move in from another
municipality (転入), a move within one (転居), a change of name, a death or a move abroad
of a person with a live consent writes one row per consent to the ``provisions`` outbox,
in the same transaction: the 4 items as they became, the reason and the date. An event for
a person whose consent was revoked provides nothing and is recorded as refused
(``CONSENT_REVOKED`` in the consent log).

A business receives the rows either way, or both:

- **webhook** (when registered with a URL): ``deliver_due`` (the platform's background
  round) posts each row, signed as the portal's notices are (Standard Webhooks v1,
  ``portal.notices.delivery``: ``webhook-id`` is the provision's id, the same at every
  attempt, so the receiver drops duplicates), retried with the same backoff until a 2xx, for
  three days (at least once);
- **polling** (``feed``): the rows after a cursor, in order.

The move-out event (転出) is not provided: the address it names is the planned one, and the
move-in at the destination brings the address that counts.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.bus import Bus, Event, idempotent
from openmyna.clock import Clock
from openmyna.latest_items.businesses import Business, Businesses
from openmyna.latest_items.records import aware, log
from openmyna.latest_items.tables import consents, processed_events, provisions
from openmyna.portal.notices.delivery import (
    DELIVERED,
    GIVE_UP,
    LEASE,
    UNREACHABLE,
    HttpSender,
    WebhookSender,
    retry_delay,
    signed_headers,
)
from openmyna.store import Store

CONSUMER: Final = "latest-items"
#: The registry's events provided, and the reason each is provided under.
REASON_OF: Final = {
    "registry.moved_in": "moved_in",
    "registry.moved_within": "moved_within",
    "registry.name_changed": "name_changed",
    "registry.died": "died",
    "registry.moved_abroad": "moved_abroad",
}
SUBJECTS: Final = tuple(REASON_OF)
DELIVERY_BATCH: Final = 20
FEED_LIMIT: Final = 100


@dataclass(frozen=True)
class Provided:
    """One change provided to a business (a row of its feed)."""

    seq: int
    provision_id: str
    consent_id: str
    reference: str
    reason: str
    changed_on: str
    items: Mapping[str, Any]
    status: str
    created_at: dt.datetime


def items_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The 4 items of a registry event's person (name as the registry writes it)."""
    return {
        "name": f"{data['family_name']} {data['given_name']}",
        "name_kana": f"{data['family_name_kana']} {data['given_name_kana']}",
        "address": data["address"],
        "date_of_birth": data["date_of_birth"],
        "sex": int(data["sex"]),
    }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def webhook_body(p: Provided, at: dt.datetime) -> bytes:
    """The JSON body of one delivery (UTF-8)."""
    payload = {
        "type": "latest_items.changed",
        "timestamp": _iso(at),
        "data": {
            "provision_id": p.provision_id,
            "consent_id": p.consent_id,
            "reference": p.reference,
            "reason": p.reason,
            "changed_on": p.changed_on,
            "items": dict(p.items),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Provision:
    """The provisions outbox: filled from the bus, delivered by webhook, read by polling."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        businesses: Businesses,
        *,
        sender: WebhookSender | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.businesses = businesses
        self._sender = sender
        self._own_sender = sender is None
        self._apply = idempotent(store.transaction, processed_events, CONSUMER, self.apply)

    def _now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)

    def close(self) -> None:
        """Release the webhook client."""
        if self._own_sender and self._sender is not None:
            self._sender.close()

    # --- the bus ---------------------------------------------------------------------------

    def subscribe(self, bus: Bus) -> None:
        """Follow the registries' changes as the durable consumer ``latest-items``."""
        bus.subscribe(CONSUMER, list(SUBJECTS), self.handle)

    def handle(self, event: Event) -> None:
        """Bus handler: apply one registry event at most once."""
        self._apply(event)

    def apply(self, s: Session, event: Event) -> None:
        """Write the event's provisions (inside the inbox's transaction)."""
        reason = REASON_OF.get(event.type)
        data = event.data
        code = data.get("resident_code")
        if reason is None or not isinstance(code, str):
            return
        now = self._now()
        rows = list(
            s.execute(
                select(consents.c.consent_id, consents.c.business_id, consents.c.status).where(
                    consents.c.resident_code == code
                )
            ).mappings()
        )
        if not rows:
            return
        items = json.dumps(items_of(data), ensure_ascii=False, sort_keys=True)
        for row in rows:
            if row["status"] != "active":
                log(
                    s,
                    now,
                    row["business_id"],
                    "refused",
                    "registry",
                    "CONSENT_REVOKED",
                    consent_id=row["consent_id"],
                    event_id=event.id,
                )
                continue
            business = self.businesses.get(row["business_id"])
            webhook = business is not None and business.webhook_url is not None
            provision_id = secrets.token_hex(16)
            s.execute(
                insert(provisions).values(
                    provision_id=provision_id,
                    consent_id=row["consent_id"],
                    business_id=row["business_id"],
                    event_id=event.id,
                    reason=reason,
                    changed_on=str(data.get("event_date", ""))[:10],
                    items=items,
                    status="pending" if webhook else "feed",
                    attempts=0,
                    next_attempt_at=now,
                    last_outcome=None,
                    created_at=now,
                    delivered_at=None,
                )
            )
            log(
                s,
                now,
                row["business_id"],
                "provided",
                "registry",
                event.type,
                consent_id=row["consent_id"],
                event_id=event.id,
            )

    # --- polling ---------------------------------------------------------------------------

    def _provided(self, row: RowMapping) -> Provided:
        return Provided(
            seq=int(row["seq"]),
            provision_id=row["provision_id"],
            consent_id=row["consent_id"],
            reference=row["reference"],
            reason=row["reason"],
            changed_on=row["changed_on"],
            items=json.loads(row["items"]),
            status=row["status"],
            created_at=aware(row["created_at"]),
        )

    def _select(self) -> Any:
        return select(*provisions.c, consents.c.reference).join(
            consents, consents.c.consent_id == provisions.c.consent_id
        )

    def feed(self, business: Business, after: int = 0, limit: int = FEED_LIMIT) -> list[Provided]:
        """The business's changes after the cursor ``after``, oldest first (live consents)."""
        with self.store.transaction() as s:
            rows = s.execute(
                self._select()
                .where(
                    provisions.c.business_id == business.business_id,
                    provisions.c.seq > after,
                    provisions.c.status != "withdrawn",
                    consents.c.status == "active",
                )
                .order_by(provisions.c.seq)
                .limit(max(1, min(limit, FEED_LIMIT)))
            ).mappings()
            return [self._provided(r) for r in rows]

    def of_consent(self, consent_id: str) -> list[Provided]:
        """A consent's provisions, oldest first (what the person sees was provided)."""
        with self.store.transaction() as s:
            rows = s.execute(
                self._select()
                .where(provisions.c.consent_id == consent_id)
                .order_by(provisions.c.seq)
            ).mappings()
            return [self._provided(r) for r in rows]

    # --- webhooks --------------------------------------------------------------------------

    def deliver_due(self, limit: int = DELIVERY_BATCH) -> int:
        """Attempt the webhook deliveries that are due; how many were delivered.

        Each is claimed first (its next attempt moved a lease ahead), as the notices' are, so
        two workers never send one at once; a receiver that cannot be reached is not tried
        again in the same round.
        """
        now = self._now()
        with self.store.transaction() as s:
            due = list(
                s.execute(
                    self._select()
                    .where(provisions.c.status == "pending", provisions.c.next_attempt_at <= now)
                    .order_by(provisions.c.next_attempt_at)
                    .limit(limit)
                ).mappings()
            )
        delivered = 0
        unreachable: set[str] = set()
        for row in due:
            if row["business_id"] in unreachable or not self._claim(row, now):
                continue
            business = self.businesses.get(row["business_id"])
            if business is None or business.webhook_url is None:
                self._after(row, "no_webhook", now)
                continue
            outcome = self._attempt(business, self._provided(row), now)
            self._after(row, outcome, now)
            if outcome == DELIVERED:
                delivered += 1
            elif outcome in UNREACHABLE:
                unreachable.add(business.business_id)
        return delivered

    def _claim(self, row: RowMapping, now: dt.datetime) -> bool:
        with self.store.transaction() as s:
            result = s.execute(
                update(provisions)
                .where(
                    provisions.c.seq == row["seq"],
                    provisions.c.status == "pending",
                    provisions.c.next_attempt_at == row["next_attempt_at"],
                )
                .values(next_attempt_at=now + LEASE)
            )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def _attempt(self, business: Business, p: Provided, now: dt.datetime) -> str:
        assert business.webhook_url is not None
        body = webhook_body(p, now)
        secret = self.businesses.webhook_secret(business.business_id)
        headers = signed_headers(secret, p.provision_id, now, body)
        if self._sender is None:
            self._sender = HttpSender()
        return self._sender.post(business.webhook_url, body, headers)

    def _after(self, row: RowMapping, outcome: str, now: dt.datetime) -> None:
        attempts = int(row["attempts"]) + 1
        values: dict[str, object] = {"attempts": attempts, "last_outcome": outcome}
        if outcome == DELIVERED:
            values.update(status="delivered", delivered_at=now)
        else:
            next_at = now + retry_delay(attempts)
            if next_at - aware(row["created_at"]) > GIVE_UP:
                values.update(status="expired")
            values.update(next_attempt_at=next_at)
        with self.store.transaction() as s:
            # Only a row still pending: a revocation meanwhile withdrew it for good.
            s.execute(
                update(provisions)
                .where(provisions.c.seq == row["seq"], provisions.c.status == "pending")
                .values(**values)
            )
