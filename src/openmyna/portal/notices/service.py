"""お知らせ: notices agencies send to a person, the person's list, and their forwarding.

``Notices`` is the service every entry point goes through:

- agencies post (``post``) with their own agency-specific code for the person; the portal
  translates it to its own code through the hub (``AgencyCodes.translate``), so the number
  is never sent and the sender's code never kept. The agency-facing API (``notices.api``,
  mutual TLS with the network's certificates) and in-process callers (the demo, the
  portal's own parts: ``post_to_account``) use the same call and the same checks;
- a person reads only their own notices: every person-facing call takes the account id of
  the session and finds the portal's code of that account itself; a notice of someone else
  is ``NOTICE_NOT_FOUND``, exactly as one that does not exist;
- a person may have their notices forwarded to a private delivery service
  (``set_delivery``); a notice posted while forwarding is on gets a row in the delivery
  outbox in the same transaction, which ``deliver_due`` (the platform's background loop)
  sends and retries (``notices.delivery``).

A notice posted for a person who has no account yet waits under the portal's code and is
there at their first login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.network.agencies import AgencyDirectory, AgencyKind
from openmyna.network.errors import IdempotencyConflict
from openmyna.portal.accounts import PORTAL_AGENCY, Account
from openmyna.portal.nav import N_, MenuBadge
from openmyna.portal.notices.content import NewNotice, new_notice
from openmyna.portal.notices.delivery import (
    DELIVERED,
    GIVE_UP,
    LEASE,
    UNREACHABLE,
    DeliveryService,
    DeliveryServices,
    HttpSender,
    WebhookSender,
    retry_delay,
    webhook_headers,
)
from openmyna.portal.notices.errors import InvalidNotice, NoticeNotFound, NoticeSenderRefused
from openmyna.portal.notices.tables import deliveries, delivery_settings, notices
from openmyna.store import Store, StoreConflict

PER_PAGE = 20
#: What a screen reader says after the menu's お知らせ when some are unread.
UNREAD_LABEL = N_("（未読%(count)d件）")
#: Deliveries attempted per round of the background loop.
DELIVERY_BATCH = 20


class CodeTranslator(Protocol):
    """The hub's agency-specific codes (``openmyna.network.codes.AgencyCodes``)."""

    def translate(self, from_agency: str, code: str, to_agency: str) -> str:
        """The target agency's code for the person behind ``from_agency``'s ``code``."""
        ...


class AccountLookup(Protocol):
    """The portal's accounts (``openmyna.portal.accounts.Accounts``)."""

    def get(self, account_id: str) -> Account:
        """An account by id."""
        ...


@dataclass(frozen=True)
class Notice:
    """A notice as its recipient sees it."""

    notice_id: str
    sender: str
    sender_name: str
    category: str
    title: str = field(repr=False)
    body: str = field(repr=False)
    link: str | None
    posted_at: dt.datetime
    read_at: dt.datetime | None

    @property
    def unread(self) -> bool:
        """Whether the person has not opened it yet."""
        return self.read_at is None


@dataclass(frozen=True)
class Posted:
    """What a post did: the notice's id, and whether it is new (False: a repeated post)."""

    notice_id: str
    posted_at: dt.datetime
    created: bool


@dataclass(frozen=True)
class NoticePage:
    """One page of a person's notices, newest first."""

    notices: list[Notice]
    page: int
    pages: int
    total: int
    unread: int


@dataclass(frozen=True)
class DeliverySetting:
    """Whether a person's notices are forwarded, to which service, under which id there."""

    enabled: bool
    service: DeliveryService | None
    #: The opaque id the service knows the person by (to link it with their account there).
    recipient_id: str | None


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery outbox."""

    notice_id: str
    service_id: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_outcome: str | None
    delivered_at: dt.datetime | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime:
    aware = _aware(value)
    assert aware is not None
    return aware


def _digest(portal_code: str, notice: NewNotice) -> str:
    content = {
        "to": portal_code,
        "category": notice.category,
        "title": notice.title,
        "body": notice.body,
        "link": notice.link,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Notices:
    """The notices of the portal: posted by agencies, read by people, forwarded on request."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        codes: Callable[[], CodeTranslator],
        accounts: Callable[[], AccountLookup],
        directory: AgencyDirectory,
        services: DeliveryServices,
        sender: WebhookSender | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.directory = directory
        self.services = services
        self._codes = codes
        self._accounts = accounts
        self._sender = sender
        self._own_sender = sender is None

    def _now(self) -> dt.datetime:
        # UTC, as the stores keep it (SQLite keeps a time's digits, not its zone).
        return self.clock.now().astimezone(dt.UTC)

    def close(self) -> None:
        """Release the database connections and the webhook client."""
        if self._own_sender and self._sender is not None:
            self._sender.close()
        self.store.close()

    # --- agencies post ------------------------------------------------------------------

    def sender_agency(self, agency_id: str) -> str:
        """``agency_id`` if that agency may post notices (``NOTICE_SENDER_REFUSED`` if not)."""
        try:
            agency = self.directory.get_agency(agency_id)
        except OpenMynaError:
            raise NoticeSenderRefused("only agencies on the network post notices") from None
        if agency.kind is AgencyKind.PORTAL:
            raise NoticeSenderRefused("the portal does not post notices under its own name")
        return agency.id

    def post(
        self,
        agency_id: str,
        code: str,
        *,
        title: str,
        body: str,
        category: str,
        idempotency_key: str,
        link: str | None = None,
    ) -> Posted:
        """Post a notice from ``agency_id`` to the person it knows by its own ``code``.

        A post repeated with the same idempotency key is the same notice (``created`` False);
        the key used before for another notice is ``IDEMPOTENCY_CONFLICT``. An unknown code
        is ``UNKNOWN_CODE``; a notice that breaks the rules ``INVALID_NOTICE``.
        """
        notice = new_notice(
            title=title, body=body, category=category, link=link, idempotency_key=idempotency_key
        )
        sender = self.sender_agency(agency_id)
        portal_code = self._codes().translate(sender, code, PORTAL_AGENCY)
        return self._keep(sender, portal_code, notice)

    def post_to_account(
        self,
        agency_id: str,
        account_id: str,
        *,
        title: str,
        body: str,
        category: str,
        idempotency_key: str,
        link: str | None = None,
    ) -> Posted:
        """``post`` to a person the portal knows by account (the portal's own parts: the
        back office's decision on an application made here)."""
        notice = new_notice(
            title=title, body=body, category=category, link=link, idempotency_key=idempotency_key
        )
        sender = self.sender_agency(agency_id)
        return self._keep(sender, self._portal_code(account_id), notice)

    def _keep(self, sender: str, portal_code: str, notice: NewNotice) -> Posted:
        digest = _digest(portal_code, notice)
        for _ in range(2):
            with self.store.transaction() as s:
                found = self._by_key(s, sender, notice.idempotency_key)
            if found is not None:
                return self._repeated(found, digest)
            try:
                return self._insert(sender, portal_code, notice, digest)
            except StoreConflict:
                continue  # the same key at the same moment: the other post's notice is it
        raise IdempotencyConflict("the idempotency key is in use; try again")

    @staticmethod
    def _by_key(s: Session, sender: str, key: str) -> RowMapping | None:
        return (
            s.execute(
                select(notices.c.notice_id, notices.c.request_digest, notices.c.posted_at).where(
                    notices.c.sender == sender, notices.c.idempotency_key == key
                )
            )
            .mappings()
            .first()
        )

    @staticmethod
    def _repeated(found: RowMapping, digest: str) -> Posted:
        if found["request_digest"] != digest:
            raise IdempotencyConflict("the idempotency key was used for another notice")
        return Posted(found["notice_id"], _utc(found["posted_at"]), created=False)

    def _insert(self, sender: str, portal_code: str, notice: NewNotice, digest: str) -> Posted:
        now = self._now()
        notice_id = secrets.token_hex(16)
        with self.store.transaction() as s:
            s.execute(
                insert(notices).values(
                    notice_id=notice_id,
                    portal_code=portal_code,
                    sender=sender,
                    idempotency_key=notice.idempotency_key,
                    request_digest=digest,
                    category=notice.category,
                    title=notice.title,
                    body=notice.body,
                    link=notice.link,
                    posted_at=now,
                    read_at=None,
                )
            )
            forward = (
                s.execute(
                    select(delivery_settings.c.service_id, delivery_settings.c.recipient_id).where(
                        delivery_settings.c.portal_code == portal_code,
                        delivery_settings.c.enabled.is_(True),
                    )
                )
                .mappings()
                .first()
            )
            if forward is not None and forward["service_id"] in self.services:
                s.execute(
                    insert(deliveries).values(
                        notice_id=notice_id,
                        service_id=forward["service_id"],
                        recipient_id=forward["recipient_id"],
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        last_outcome=None,
                        created_at=now,
                        delivered_at=None,
                    )
                )
        return Posted(notice_id, now, created=True)

    # --- a person reads -------------------------------------------------------------------

    def _portal_code(self, account_id: str) -> str:
        return self._accounts().get(account_id).portal_code

    def _notice(self, row: RowMapping) -> Notice:
        try:
            sender_name = self.directory.get_agency(row["sender"]).name
        except OpenMynaError:
            sender_name = row["sender"]
        return Notice(
            notice_id=row["notice_id"],
            sender=row["sender"],
            sender_name=sender_name,
            category=row["category"],
            title=row["title"],
            body=row["body"],
            link=row["link"],
            posted_at=_utc(row["posted_at"]),
            read_at=_aware(row["read_at"]),
        )

    def unread_count(self, account_id: str) -> int:
        """How many of the person's notices they have not opened."""
        code = self._portal_code(account_id)
        with self.store.transaction() as s:
            count = s.scalar(
                select(func.count())
                .select_from(notices)
                .where(notices.c.portal_code == code, notices.c.read_at.is_(None))
            )
        return int(count or 0)

    def menu_badge(self, account_id: str) -> MenuBadge | None:
        """The menu's count of unread notices (None when there are none)."""
        unread = self.unread_count(account_id)
        return MenuBadge(unread, UNREAD_LABEL) if unread else None

    def page(self, account_id: str, page: int = 1, per_page: int = PER_PAGE) -> NoticePage:
        """One page of the person's notices, newest first (a page past the last is the last)."""
        code = self._portal_code(account_id)
        mine = notices.c.portal_code == code
        with self.store.transaction() as s:
            total = int(s.scalar(select(func.count()).select_from(notices).where(mine)) or 0)
            unread = int(
                s.scalar(
                    select(func.count())
                    .select_from(notices)
                    .where(mine, notices.c.read_at.is_(None))
                )
                or 0
            )
            pages = max(1, math.ceil(total / per_page))
            page = min(max(page, 1), pages)
            rows = s.execute(
                select(notices)
                .where(mine)
                .order_by(notices.c.posted_at.desc(), notices.c.notice_id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).mappings()
            found = [self._notice(r) for r in rows]
        return NoticePage(found, page, pages, total, unread)

    def open(self, account_id: str, notice_id: str) -> Notice:
        """The person's notice, marked read now if it was not (``NOTICE_NOT_FOUND`` if not
        theirs)."""
        code = self._portal_code(account_id)
        now = self._now()
        mine = and_(notices.c.notice_id == notice_id, notices.c.portal_code == code)
        with self.store.transaction() as s:
            s.execute(update(notices).where(mine, notices.c.read_at.is_(None)).values(read_at=now))
            row = s.execute(select(notices).where(mine)).mappings().first()
        if row is None:
            raise NoticeNotFound("no such notice")
        return self._notice(row)

    # --- forwarding to a private delivery service ----------------------------------------------

    def delivery_setting(self, account_id: str) -> DeliverySetting:
        """The person's forwarding setting (off, with no service, until they choose one)."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(delivery_settings).where(delivery_settings.c.account_id == account_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            return DeliverySetting(enabled=False, service=None, recipient_id=None)
        service = self.services.get(row["service_id"]) if row["service_id"] else None
        return DeliverySetting(
            enabled=bool(row["enabled"]) and service is not None,
            service=service,
            recipient_id=row["recipient_id"] if service is not None else None,
        )

    def set_delivery(
        self, account_id: str, *, enabled: bool, service_id: str | None = None
    ) -> DeliverySetting:
        """Turn forwarding on (to ``service_id``, one of ``services``) or off.

        Choosing another service gives the person a new recipient id there (the services
        cannot link a person across each other); turning off keeps the choice for later.
        """
        service = self.services.get_service(service_id) if service_id is not None else None
        if enabled and service is None:
            raise InvalidNotice("choose a delivery service to forward to", fields="service")
        code = self._portal_code(account_id)
        now = self._now()
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(delivery_settings).where(delivery_settings.c.account_id == account_id)
                )
                .mappings()
                .first()
            )
            chosen = service.service_id if service is not None else None
            if row is None:
                s.execute(
                    insert(delivery_settings).values(
                        account_id=account_id,
                        portal_code=code,
                        enabled=enabled,
                        service_id=chosen,
                        recipient_id=secrets.token_hex(16) if chosen else None,
                        updated_at=now,
                    )
                )
            else:
                values: dict[str, object] = {"enabled": enabled, "updated_at": now}
                if chosen is not None and chosen != row["service_id"]:
                    values.update(service_id=chosen, recipient_id=secrets.token_hex(16))
                s.execute(
                    update(delivery_settings)
                    .where(delivery_settings.c.account_id == account_id)
                    .values(**values)
                )
        return self.delivery_setting(account_id)

    def deliveries(self, account_id: str, notice_ids: Sequence[str]) -> dict[str, Delivery]:
        """The deliveries of the person's notices among ``notice_ids``, by notice id."""
        code = self._portal_code(account_id)
        with self.store.transaction() as s:
            rows = s.execute(
                select(deliveries)
                .join(notices, notices.c.notice_id == deliveries.c.notice_id)
                .where(notices.c.portal_code == code, deliveries.c.notice_id.in_(list(notice_ids)))
            ).mappings()
            return {
                r["notice_id"]: Delivery(
                    notice_id=r["notice_id"],
                    service_id=r["service_id"],
                    status=r["status"],
                    attempts=int(r["attempts"]),
                    next_attempt_at=_utc(r["next_attempt_at"]),
                    last_outcome=r["last_outcome"],
                    delivered_at=_aware(r["delivered_at"]),
                )
                for r in rows
            }

    def deliver_due(self, limit: int = DELIVERY_BATCH) -> int:
        """Attempt the deliveries that are due (the background loop); how many were delivered.

        Each is claimed first (its next attempt moved a lease ahead), so two workers never
        send one delivery at once and one that died mid-attempt is tried again later. A
        receiver that cannot be reached is not tried again in the same round.
        """
        now = self._now()
        with self.store.transaction() as s:
            due = list(
                s.execute(
                    select(
                        *deliveries.c,
                        *(c for c in notices.c if c.name != "notice_id"),
                        delivery_settings.c.account_id,
                    )
                    .join(notices, notices.c.notice_id == deliveries.c.notice_id)
                    .outerjoin(
                        delivery_settings,
                        delivery_settings.c.portal_code == notices.c.portal_code,
                    )
                    .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                    .order_by(deliveries.c.next_attempt_at)
                    .limit(limit)
                ).mappings()
            )
        delivered = 0
        unreachable: set[str] = set()
        for row in due:
            service = self.services.get(row["service_id"])
            if row["service_id"] in unreachable:
                continue
            if not self._claim(row["notice_id"], row["next_attempt_at"], now):
                continue
            if service is None:  # taken off the list since: kept, tried if it comes back
                self._after(row, "unknown_service", now)
                continue
            outcome = self._attempt(service, row, now)
            self._after(row, outcome, now)
            if outcome == DELIVERED:
                delivered += 1
            elif outcome in UNREACHABLE:
                unreachable.add(service.service_id)
        return delivered

    def _claim(self, notice_id: str, seen: dt.datetime, now: dt.datetime) -> bool:
        with self.store.transaction() as s:
            result = s.execute(
                update(deliveries)
                .where(
                    deliveries.c.notice_id == notice_id,
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at == seen,
                )
                .values(next_attempt_at=now + LEASE)
            )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def _attempt(self, service: DeliveryService, row: RowMapping, now: dt.datetime) -> str:
        body = webhook_body(
            self._notice(row), row["recipient_id"], self._language(row["account_id"]), now
        )
        headers = webhook_headers(service, row["notice_id"], now, body)
        if self._sender is None:
            self._sender = HttpSender()
        return self._sender.post(service.url, body, headers)

    def _language(self, account_id: str | None) -> str:
        """The account's language for what is sent when no page is open (``ja`` if unknown)."""
        if account_id is not None:
            try:
                return self._accounts().get(account_id).language
            except OpenMynaError:
                pass
        return "ja"

    def _after(self, row: RowMapping, outcome: str, now: dt.datetime) -> None:
        attempts = int(row["attempts"]) + 1
        values: dict[str, object] = {"attempts": attempts, "last_outcome": outcome}
        if outcome == DELIVERED:
            values.update(status="delivered", delivered_at=now)
        else:
            next_at = now + retry_delay(attempts)
            if next_at - _utc(row["created_at"]) > GIVE_UP:
                values.update(status="expired")
            values.update(next_attempt_at=next_at)
        with self.store.transaction() as s:
            s.execute(
                update(deliveries)
                .where(deliveries.c.notice_id == row["notice_id"])
                .values(**values)
            )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def webhook_body(notice: Notice, recipient_id: str, language: str, at: dt.datetime) -> bytes:
    """The JSON body of a delivery (UTF-8): the notice, for the service's recipient.

    ``language`` is the person's (their account's): for the service's own words around the
    notice, whose text is the sender's.
    """
    payload = {
        "type": "notice.posted",
        "timestamp": _iso(at),
        "data": {
            "notice_id": notice.notice_id,
            "recipient": recipient_id,
            "language": language,
            "sender": {"agency_id": notice.sender, "name": notice.sender_name},
            "category": notice.category,
            "title": notice.title,
            "body": notice.body,
            "link": notice.link,
            "posted_at": _iso(notice.posted_at),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
