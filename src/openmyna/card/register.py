"""The card register's rows: reading them, changing a card's status, staging its events.

Every function here runs inside the caller's transaction (``Session``): a status change,
its audit row and its bus event (staged in the outbox) commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from openmyna.bus import new_event, stage
from openmyna.card.errors import (
    CardApplicationNotFound,
    CardNotFound,
    CardTransitionRefused,
    IdentityCheckMissing,
)
from openmyna.card.models import (
    ApplicationChannel,
    ApplicationStatus,
    CardApplication,
    CardEventType,
    CardRecord,
    CardStatus,
    StatusReason,
)
from openmyna.card.tables import applications, audit_log, cards, outbox
from openmyna.clock import Clock
from openmyna.errors import InvalidInput

EVENT_SOURCE = "card.jlis"

#: A database row (SQLAlchemy ``RowMapping``) or a plain dict of the same columns.
Row = Mapping[Any, Any]


def record_of(row: Row) -> CardRecord:
    """A ``cards`` row as a ``CardRecord``."""
    updated: dt.datetime = row["updated_at"]
    return CardRecord(
        card_id=row["card_id"],
        resident_code=row["resident_code"],
        lg_code=row["lg_code"],
        application_id=row["application_id"],
        status=CardStatus(row["status"]),
        status_reason=None if row["status_reason"] is None else StatusReason(row["status_reason"]),
        issued_on=row["issued_on"],
        expires_on=row["expires_on"],
        auth_cert_serial=row["auth_cert_serial"],
        sign_cert_serial=row["sign_cert_serial"],
        updated_at=updated if updated.tzinfo else updated.replace(tzinfo=dt.UTC),
        data_stale_since=row["data_stale_since"],
        data_stale_items=tuple(i for i in (row["data_stale_items"] or "").split(",") if i),
    )


def application_of(row: Row) -> CardApplication:
    """An ``applications`` row as a ``CardApplication``."""
    return CardApplication(
        application_id=row["application_id"],
        resident_code=row["resident_code"],
        lg_code=row["lg_code"],
        channel=ApplicationChannel(row["channel"]),
        applied_on=row["applied_on"],
        status=ApplicationStatus(row["status"]),
        card_id=row["card_id"],
    )


def serial_hex(cert: x509.Certificate | None) -> str | None:
    """A certificate's serial number in hex, as the register keeps it."""
    return None if cert is None else format(cert.serial_number, "X")


def who(actor: str, reason: str) -> tuple[str, str]:
    """Checked audit fields: who does it (1-64 characters) and why (1-200)."""
    actor, reason = actor.strip(), reason.strip()
    if not actor or len(actor) > 64:
        raise InvalidInput("actor must be 1-64 characters")
    if not reason or len(reason) > 200:
        raise InvalidInput("reason must be 1-200 characters")
    return actor, reason


def checked(identity_check: str) -> str:
    """A recorded identity verification (本人確認), required for issuance and PIN resets."""
    text = identity_check.strip()
    if not text:
        raise IdentityCheckMissing("record how the holder's identity was verified (本人確認)")
    return text[:80]


class Register:
    """Row-level steps of the card register, timed by ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def stage(self, s: Session, kind: CardEventType, row: Row, reason: str | None) -> str:
        """Stage a card event about ``row`` in the outbox; its id."""
        data: dict[str, Any] = {
            "resident_code": row["resident_code"],
            "card_id": row["card_id"],
            "lg_code": row["lg_code"],
            "auth_cert_serial": row["auth_cert_serial"],
            "sign_cert_serial": row["sign_cert_serial"],
        }
        if reason is not None:
            data["reason"] = reason
        event = new_event(kind.value, EVENT_SOURCE, self.clock.now(), data)
        stage(s, outbox, [event])
        return event.id

    def audit(
        self,
        s: Session,
        action: str,
        *,
        actor: str,
        reason: str,
        card_id: str | None = None,
        resident_code: str | None = None,
        event_id: str | None = None,
    ) -> None:
        """Append an audit row: who, when, why and which card (never the content)."""
        s.execute(
            insert(audit_log).values(
                recorded_at=self.clock.now(),
                action=action,
                card_id=card_id,
                resident_code=resident_code,
                event_id=event_id,
                actor=actor,
                reason=reason[:200],
            )
        )

    def valid_row(self, s: Session, resident_code: str) -> Row | None:
        """The person's card that is active or suspended, if any."""
        query = select(cards).where(
            cards.c.resident_code == resident_code,
            cards.c.status.in_([CardStatus.ACTIVE.value, CardStatus.SUSPENDED.value]),
        )
        return s.execute(query).mappings().first()

    def card_row(self, s: Session, card_id: str) -> Row:
        """A card's row (``CardNotFound`` if none)."""
        row = s.execute(select(cards).where(cards.c.card_id == card_id)).mappings().first()
        if row is None:
            raise CardNotFound("no card with that id")
        return row

    def insert_application(
        self, s: Session, code: str, lg_code: str, channel: ApplicationChannel, on: dt.date
    ) -> str:
        """Record a pending application; its id."""
        app_id = secrets.token_hex(8)
        s.execute(
            insert(applications).values(
                application_id=app_id,
                resident_code=code,
                lg_code=lg_code,
                channel=channel.value,
                applied_on=on,
                status=ApplicationStatus.PENDING.value,
                card_id=None,
                updated_at=self.clock.now(),
            )
        )
        return app_id

    def pending_application(
        self, s: Session, resident_code: str, application_id: str | None
    ) -> Row:
        """The pending application (the given one, else the oldest); refused if none."""
        query = select(applications).where(
            applications.c.resident_code == resident_code,
            applications.c.status == ApplicationStatus.PENDING.value,
        )
        if application_id is not None:
            query = query.where(applications.c.application_id == application_id)
        row = s.execute(query.order_by(applications.c.applied_on)).mappings().first()
        if row is None:
            raise CardApplicationNotFound("no pending card application for that resident")
        return row

    def transition(
        self,
        s: Session,
        row: Row,
        status: CardStatus,
        why: StatusReason | None,
        event: CardEventType,
        *,
        actor: str,
        reason: str,
        cause_event_id: str | None = None,
    ) -> None:
        """Move a card to ``status``, with its audit row and bus event."""
        s.execute(
            update(cards)
            .where(cards.c.card_id == row["card_id"])
            .values(
                status=status.value,
                status_reason=None if why is None else why.value,
                updated_at=self.clock.now(),
            )
        )
        event_id = self.stage(s, event, row, None if why is None else why.value)
        self.audit(
            s,
            event.value,
            actor=actor,
            reason=reason,
            card_id=row["card_id"],
            resident_code=row["resident_code"],
            event_id=cause_event_id or event_id,
        )

    def revoke(
        self,
        s: Session,
        row: Row,
        why: StatusReason,
        *,
        actor: str,
        reason: str,
        cause_event_id: str | None = None,
    ) -> None:
        """End a valid card (失効) for ``why``."""
        self.transition(
            s,
            row,
            CardStatus.REVOKED,
            why,
            CardEventType.REVOKED,
            actor=actor,
            reason=reason,
            cause_event_id=cause_event_id,
        )

    def change_status(
        self,
        s: Session,
        card_id: str,
        allowed: tuple[CardStatus, ...],
        status: CardStatus,
        why: StatusReason | None,
        event: CardEventType,
        *,
        actor: str,
        reason: str,
        only_reason: StatusReason | None = None,
    ) -> Row:
        """Move a card from one of the ``allowed`` states to ``status``; its new row.

        With ``only_reason`` the card must also be in its state for that reason (a found card
        is lifted only from a suspension for loss).
        """
        row = self.card_row(s, card_id)
        current = CardStatus(row["status"])
        if current not in allowed or (
            only_reason is not None and row["status_reason"] != only_reason.value
        ):
            raise CardTransitionRefused(
                f"a {current.value} card cannot go to {status.value}", card_id=card_id
            )
        self.transition(s, row, status, why, event, actor=actor, reason=reason)
        return self.card_row(s, card_id)

    def record_issued(
        self,
        s: Session,
        card_id: str,
        resident_code: str,
        *,
        lg_code: str,
        application_id: str | None,
        replace: bool,
        issued_on: dt.date,
        expires_on: dt.date,
        auth_cert: x509.Certificate,
        sign_cert: x509.Certificate | None,
        actor: str,
        reason: str,
    ) -> Row:
        """Record an issued card on the pending application, with its event; its row.

        A valid card of the same person is revoked with ``replace`` (reissue) and refused
        without it.
        """
        application = self.pending_application(s, resident_code, application_id)
        previous = self.valid_row(s, resident_code)
        if previous is not None:
            if not replace:
                raise CardTransitionRefused("the person already holds a valid card")
            self.transition(
                s,
                previous,
                CardStatus.REVOKED,
                StatusReason.REISSUED,
                CardEventType.REVOKED,
                actor=actor,
                reason="reissued",
            )
        values = {
            "card_id": card_id,
            "resident_code": resident_code,
            "lg_code": lg_code,
            "application_id": application["application_id"],
            "status": CardStatus.ACTIVE.value,
            "status_reason": None,
            "issued_on": issued_on,
            "expires_on": expires_on,
            "auth_cert_serial": serial_hex(auth_cert),
            "sign_cert_serial": serial_hex(sign_cert),
            "updated_at": self.clock.now(),
        }
        s.execute(insert(cards).values(values))
        s.execute(
            update(applications)
            .where(applications.c.application_id == application["application_id"])
            .values(
                status=ApplicationStatus.ISSUED.value,
                card_id=card_id,
                updated_at=self.clock.now(),
            )
        )
        event_id = self.stage(s, CardEventType.ISSUED, values, None)
        self.audit(
            s,
            CardEventType.ISSUED.value,
            actor=actor,
            reason=reason,
            card_id=card_id,
            resident_code=resident_code,
            event_id=event_id,
        )
        return self.card_row(s, card_id)

    def record_update(
        self,
        s: Session,
        card_id: str,
        *,
        lg_code: str,
        sign_cert_serial: str | None,
        actor: str,
        reason: str,
    ) -> Row:
        """Record the counter's update of a card's data: fresh again, the certificate on it."""
        s.execute(
            update(cards)
            .where(cards.c.card_id == card_id)
            .values(
                lg_code=lg_code,
                sign_cert_serial=sign_cert_serial,
                data_stale_since=None,
                data_stale_items=None,
                updated_at=self.clock.now(),
            )
        )
        row = self.card_row(s, card_id)
        event_id = self.stage(s, CardEventType.UPDATED, row, None)
        self.audit(
            s,
            CardEventType.UPDATED.value,
            actor=actor,
            reason=reason,
            card_id=card_id,
            resident_code=row["resident_code"],
            event_id=event_id,
        )
        return row
