"""Submitted applications: delivered to the receiving municipality, followed to a decision.

Two sides use them, each through its own scope:

- the applicant (``Applications.of_account``, ``for_account``, ``history_for_account``):
  their own applications only; another person's id is ``APPLICATION_NOT_FOUND``, as if it
  did not exist;
- the receiving municipality's back office (``BackOffice``): the applications addressed to
  one municipality (``lg_code``): list by status, read one, record its receipt, decide with a
  reason. The back-office pages (a later part) check the staff member's role for that
  municipality before they call it; this layer enforces the municipality's scope and the
  status model (``models``), and records who did each change.

An application is stored once per id (the draft's id, the idempotency key of the
submission): a second submission of the same signed document returns the first, another
document under the same id is refused (``APPLICATION_ALREADY_SUBMITTED``). Every change is a
row of ``application_events``, which the database keeps append-only; on PostgreSQL the table
is locked while a row is added so that event ids commit in increasing order and a reader of
``changes(after=…)`` (the notices) never skips one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.portal.eapply.drafts import aware
from openmyna.portal.eapply.errors import (
    ApplicationNotFound,
    ReasonRequired,
    StatusConflict,
)
from openmyna.portal.eapply.models import (
    TRANSITIONS,
    Application,
    ApplicationStatus,
    Outcome,
    StatusChange,
)
from openmyna.portal.eapply.tables import application_events, applications
from openmyna.store import Store

#: The actor of a submission (the portal delivers what the applicant signed).
PORTAL_ACTOR = "portal"
REASON_MAX = 1000
ACTOR_MAX = 120
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    """A reference the applicant quotes (受付番号): ``XXXX-XXXX``, no 0/O or 1/I."""
    chars = [secrets.choice(_REFERENCE_ALPHABET) for _ in range(8)]
    return "".join(chars[:4]) + "-" + "".join(chars[4:])


def _application(row: RowMapping) -> Application:
    return Application(
        application_id=row["application_id"],
        reference=row["reference"],
        account_id=row["account_id"],
        service_id=row["service_id"],
        form_id=row["form_id"],
        form_version=row["form_version"],
        lg_code=row["lg_code"],
        document=bytes(row["document"]),
        document_sha256=row["document_sha256"],
        cms=bytes(row["cms"]),
        signer_serial=int(row["signer_serial"], 16),
        signer_subject_id=row["signer_subject_id"],
        signed_at=aware(row["signed_at"]),
        submitted_at=aware(row["submitted_at"]),
        status=ApplicationStatus(row["status"]),
        status_at=aware(row["status_at"]),
    )


def _change(row: RowMapping) -> StatusChange:
    return StatusChange(
        event_id=int(row["event_id"]),
        application_id=row["application_id"],
        lg_code=row["lg_code"],
        status=ApplicationStatus(row["status"]),
        recorded_at=aware(row["recorded_at"]),
        actor=row["actor"],
        reason=row["reason"],
    )


def record_change(
    s: Session,
    application_id: str,
    lg_code: str,
    status: ApplicationStatus,
    at: dt.datetime,
    *,
    actor: str,
    reason: str = "",
) -> None:
    """Append one status change (inside ``s``), in id order on PostgreSQL too."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("LOCK TABLE application_events IN EXCLUSIVE MODE"))
    s.execute(
        insert(application_events).values(
            application_id=application_id,
            lg_code=lg_code,
            status=status.value,
            recorded_at=at,
            actor=actor[:ACTOR_MAX],
            reason=reason[:REASON_MAX],
        )
    )


def _filtered(
    query: Select[Any],
    lg_code: str,
    status: ApplicationStatus | Sequence[ApplicationStatus] | None,
    form_id: str | None,
) -> Select[Any]:
    query = query.where(applications.c.lg_code == lg_code)
    if status is not None:
        wanted = [status] if isinstance(status, ApplicationStatus) else list(status)
        query = query.where(applications.c.status.in_([w.value for w in wanted]))
    if form_id is not None:
        query = query.where(applications.c.form_id == form_id)
    return query


class Applications:
    """The applications in the e-applications' store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def row(self, s: Session, application_id: str) -> RowMapping | None:
        """An application's row, if there is one."""
        return (
            s.execute(
                select(applications).where(applications.c.application_id == application_id[:32])
            )
            .mappings()
            .first()
        )

    def of_account(self, account_id: str) -> list[Application]:
        """The account's applications, newest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(applications)
                .where(applications.c.account_id == account_id)
                .order_by(applications.c.submitted_at.desc(), applications.c.application_id)
            ).mappings()
            return [_application(r) for r in rows]

    def for_account(self, account_id: str, application_id: str) -> Application:
        """One of the account's applications (``APPLICATION_NOT_FOUND`` for another's)."""
        with self.store.transaction() as s:
            row = self.row(s, application_id)
        if row is None or row["account_id"] != account_id:
            raise ApplicationNotFound("no such application", application_id=application_id[:32])
        return _application(row)

    def history(self, application_id: str) -> list[StatusChange]:
        """An application's status changes, oldest first."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(application_events)
                .where(application_events.c.application_id == application_id)
                .order_by(application_events.c.event_id)
            ).mappings()
            return [_change(r) for r in rows]

    def history_for_account(self, account_id: str, application_id: str) -> list[StatusChange]:
        """The status changes of one of the account's applications."""
        return self.history(self.for_account(account_id, application_id).application_id)

    def changes(self, *, after: int = 0, limit: int = 100) -> list[StatusChange]:
        """Status changes after event id ``after``, in order (what the notices follow)."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(application_events)
                .where(application_events.c.event_id > after)
                .order_by(application_events.c.event_id)
                .limit(max(1, min(limit, 1000)))
            ).mappings()
            return [_change(r) for r in rows]


class BackOffice:
    """What a municipality's back office does with the applications addressed to it."""

    def __init__(self, applications: Applications) -> None:
        self.applications = applications
        self.store = applications.store
        self.clock = applications.clock

    def inbox(
        self,
        lg_code: str,
        *,
        status: ApplicationStatus | Sequence[ApplicationStatus] | None = None,
        form_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Application]:
        """The applications to ``lg_code`` (of ``status``, of ``form_id``), oldest first."""
        query = _filtered(select(applications), lg_code, status, form_id)
        query = (
            query.order_by(applications.c.submitted_at, applications.c.application_id)
            .limit(max(1, min(limit, 500)))
            .offset(max(0, offset))
        )
        with self.store.transaction() as s:
            return [_application(r) for r in s.execute(query).mappings()]

    def count(
        self,
        lg_code: str,
        *,
        status: ApplicationStatus | Sequence[ApplicationStatus] | None = None,
        form_id: str | None = None,
    ) -> int:
        """How many applications ``inbox`` has with the same filters."""
        query = _filtered(select(func.count()).select_from(applications), lg_code, status, form_id)
        with self.store.transaction() as s:
            return int(s.execute(query).scalar_one())

    def get(self, lg_code: str, application_id: str) -> Application:
        """One application to ``lg_code`` (``APPLICATION_NOT_FOUND`` if addressed elsewhere)."""
        with self.store.transaction() as s:
            row = self.applications.row(s, application_id)
        if row is None or row["lg_code"] != lg_code:
            raise ApplicationNotFound("no such application", application_id=application_id[:32])
        return _application(row)

    def history(self, lg_code: str, application_id: str) -> list[StatusChange]:
        """The status changes of one application to ``lg_code``."""
        return self.applications.history(self.get(lg_code, application_id).application_id)

    def receive(
        self, lg_code: str, application_id: str, *, actor: str, note: str = ""
    ) -> Application:
        """Record the receipt (受付); a repeat returns the application unchanged."""
        return self._move(lg_code, application_id, ApplicationStatus.RECEIVED, actor, note)

    def decide(
        self, lg_code: str, application_id: str, outcome: Outcome, *, actor: str, reason: str
    ) -> Application:
        """Decide a received application; a rejection needs its reason.

        Repeating the same decision returns the application unchanged; another decision on
        a decided application is ``APPLICATION_STATUS_CONFLICT``.
        """
        reason = reason.strip()
        if outcome is Outcome.REJECTED and not reason:
            raise ReasonRequired("a rejection states its reason (行政手続法 第8条)")
        return self._move(lg_code, application_id, outcome.status, actor, reason)

    def _move(
        self,
        lg_code: str,
        application_id: str,
        target: ApplicationStatus,
        actor: str,
        reason: str,
    ) -> Application:
        if not actor.strip():
            raise StatusConflict("a status change names who made it")
        now = self.clock.now()
        with self.store.transaction() as s:
            row = self.applications.row(s, application_id)
            if row is None or row["lg_code"] != lg_code:
                raise ApplicationNotFound("no such application", application_id=application_id[:32])
            current = ApplicationStatus(row["status"])
            if current is target:
                return _application(row)  # a retried call: nothing new to record
            if current not in TRANSITIONS[target]:
                raise StatusConflict(
                    f"a {current.value} application cannot become {target.value}",
                    status=current.value,
                )
            moved = s.execute(
                update(applications)
                .where(
                    applications.c.application_id == row["application_id"],
                    applications.c.status == current.value,
                )
                .values(status=target.value, status_at=now)
            )
            if not getattr(moved, "rowcount", 0):  # another change came first
                raise StatusConflict("the application changed meanwhile: read it again")
            record_change(
                s, row["application_id"], lg_code, target, now, actor=actor, reason=reason
            )
        return self.get(lg_code, application_id)
