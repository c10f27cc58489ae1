"""The issuer's records: issued certificates, their status, and the append-only revocation log.

Every status change is one conditional UPDATE of ``certificates`` plus one row in
``revocation_log``, in the caller's transaction. On PostgreSQL the log is locked in EXCLUSIVE
mode first so that log ids commit in increasing order: an OCSP responder in another process
that reads "ids after N" then never skips a change that committed late.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.orm import Session

from openmyna.pki.errors import CertificateAlreadyRevoked
from openmyna.pki.profiles import CertKind
from openmyna.pki.tables import certificates, revocation_log


class CertStatus(enum.StrEnum):
    """A certificate's status as the issuer records it."""

    GOOD = "good"
    #: 一時停止 (certificateHold): reversible, e.g. while a card is reported lost.
    SUSPENDED = "suspended"
    #: 失効: final.
    REVOKED = "revoked"


class RevocationReason(enum.StrEnum):
    """RFC 5280 CRLReason values (the strings are cryptography's ``ReasonFlags`` values)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    #: The subject's name or other information in the certificate changed (the 4 items).
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    #: The certificate is no longer needed: death, moving abroad, card returned or revoked.
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    def flag(self) -> x509.ReasonFlags:
        """The matching ``cryptography.x509.ReasonFlags``."""
        return x509.ReasonFlags(self.value)


class Action(enum.StrEnum):
    """What a revocation-log row did."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    RESUME = "resume"


def utc(moment: dt.datetime) -> dt.datetime:
    """A datetime as timezone-aware UTC (SQLite returns naive UTC values)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def serial_key(serial: int) -> str:
    """How a serial number is stored: lowercase hex."""
    return f"{serial:x}"


@dataclass(frozen=True)
class CertRecord:
    """What the issuer knows about one certificate it issued."""

    serial: int
    kind: CertKind
    status: CertStatus
    issued_at: dt.datetime
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: RevocationReason | None
    card_id: str | None
    resident_code: str = field(repr=False)


@dataclass(frozen=True)
class LogEntry:
    """One row of the revocation log."""

    id: int
    serial: int
    kind: CertKind
    action: Action
    reason: RevocationReason | None
    at: dt.datetime
    event_id: str | None
    actor: str


def _record(row: sa.Row[tuple[object, ...]]) -> CertRecord:
    m = row._mapping
    return CertRecord(
        serial=int(m["serial"], 16),
        kind=CertKind(m["kind"]),
        status=CertStatus(m["status"]),
        issued_at=utc(m["issued_at"]),
        not_before=utc(m["not_before"]),
        not_after=utc(m["not_after"]),
        revoked_at=utc(m["revoked_at"]) if m["revoked_at"] is not None else None,
        reason=RevocationReason(m["reason"]) if m["reason"] is not None else None,
        card_id=m["card_id"],
        resident_code=m["resident_code"],
    )


_RECORD_COLUMNS = [c for c in certificates.c if c.name != "der"]


def insert_certificate(
    s: Session,
    cert: x509.Certificate,
    kind: CertKind,
    *,
    resident_code: str,
    card_id: str | None,
    issued_at: dt.datetime,
    der: bytes,
) -> None:
    """Record a newly issued certificate as good."""
    s.execute(
        certificates.insert().values(
            serial=serial_key(cert.serial_number),
            kind=kind.value,
            resident_code=resident_code,
            card_id=card_id,
            issued_at=utc(issued_at),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            status=CertStatus.GOOD.value,
            der=der,
        )
    )


def get_record(s: Session, serial: int) -> CertRecord | None:
    """The record of ``serial``, or None."""
    row = s.execute(
        sa.select(*_RECORD_COLUMNS).where(certificates.c.serial == serial_key(serial))
    ).first()
    return _record(row) if row is not None else None


def get_der(s: Session, serial: int) -> bytes | None:
    """The DER of the certificate ``serial``, or None."""
    return s.execute(
        sa.select(certificates.c.der).where(certificates.c.serial == serial_key(serial))
    ).scalar()


def records_of(
    s: Session,
    resident_code: str,
    kinds: Iterable[CertKind] = tuple(CertKind),
    *,
    statuses: Iterable[CertStatus] = tuple(CertStatus),
    issued_up_to: dt.datetime | None = None,
    card_id: str | None = None,
) -> list[CertRecord]:
    """A resident's certificates, filtered (``card_id`` also matches rows without a card id)."""
    q = sa.select(*_RECORD_COLUMNS).where(
        certificates.c.resident_code == resident_code,
        certificates.c.kind.in_([k.value for k in kinds]),
        certificates.c.status.in_([st.value for st in statuses]),
    )
    if issued_up_to is not None:
        q = q.where(certificates.c.issued_at <= utc(issued_up_to))
    if card_id is not None:
        q = q.where(sa.or_(certificates.c.card_id.is_(None), certificates.c.card_id == card_id))
    return [_record(r) for r in s.execute(q.order_by(certificates.c.issued_at))]


_TRANSITIONS: dict[Action, tuple[tuple[CertStatus, ...], CertStatus]] = {
    Action.REVOKE: ((CertStatus.GOOD, CertStatus.SUSPENDED), CertStatus.REVOKED),
    Action.SUSPEND: ((CertStatus.GOOD,), CertStatus.SUSPENDED),
    Action.RESUME: ((CertStatus.SUSPENDED,), CertStatus.GOOD),
}


def change_status(
    s: Session,
    record: CertRecord,
    action: Action,
    *,
    reason: RevocationReason | None,
    at: dt.datetime,
    actor: str,
    event_id: str | None = None,
) -> bool:
    """Apply ``action`` to one certificate; False if it was already in the target state.

    Suspending or resuming a revoked certificate raises ``CertificateAlreadyRevoked``.
    """
    sources, target = _TRANSITIONS[action]
    if s.get_bind().dialect.name == "postgresql":
        s.execute(sa.text("LOCK TABLE revocation_log IN EXCLUSIVE MODE"))
    values: dict[str, object] = {"status": target.value}
    if target is CertStatus.GOOD:
        values.update(revoked_at=None, reason=None)
    else:
        values.update(revoked_at=utc(at), reason=reason.value if reason else None)
    result = s.execute(
        certificates.update()
        .where(
            certificates.c.serial == serial_key(record.serial),
            certificates.c.status.in_([st.value for st in sources]),
        )
        .values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = get_record(s, record.serial)
        if (
            current is not None
            and current.status is CertStatus.REVOKED
            and action is not (Action.REVOKE)
        ):
            raise CertificateAlreadyRevoked(
                "the certificate is revoked for good", serial=f"{record.serial:x}"
            )
        return False
    s.execute(
        revocation_log.insert().values(
            serial=serial_key(record.serial),
            kind=record.kind.value,
            action=action.value,
            reason=reason.value if reason else None,
            at=utc(at),
            event_id=event_id,
            actor=actor,
        )
    )
    return True


def log_entries(
    s: Session, *, after: int = 0, serial: int | None = None, limit: int | None = None
) -> list[LogEntry]:
    """Revocation-log rows with id > ``after`` (optionally of one serial), oldest first."""
    q = sa.select(revocation_log).where(revocation_log.c.id > after)
    if serial is not None:
        q = q.where(revocation_log.c.serial == serial_key(serial))
    q = q.order_by(revocation_log.c.id)
    if limit is not None:
        q = q.limit(limit)
    return [
        LogEntry(
            id=r.id,
            serial=int(r.serial, 16),
            kind=CertKind(r.kind),
            action=Action(r.action),
            reason=RevocationReason(r.reason) if r.reason is not None else None,
            at=utc(r.at),
            event_id=r.event_id,
            actor=r.actor,
        )
        for r in s.execute(q)
    ]


def last_log_id(s: Session) -> int:
    """The highest revocation-log id (0 if empty)."""
    return int(
        s.execute(sa.select(sa.func.coalesce(sa.func.max(revocation_log.c.id), 0))).scalar_one()
    )


def unexpired_revoked(
    s: Session, kind: CertKind, at: dt.datetime
) -> Sequence[tuple[int, dt.datetime, RevocationReason | None]]:
    """(serial, revocation time, reason) of revoked or suspended, unexpired certs of a CA."""
    q = (
        sa.select(certificates.c.serial, certificates.c.revoked_at, certificates.c.reason)
        .where(
            certificates.c.kind == kind.value,
            certificates.c.status.in_([CertStatus.REVOKED.value, CertStatus.SUSPENDED.value]),
            certificates.c.not_after >= utc(at),
        )
        .order_by(certificates.c.serial)
    )
    return [
        (int(serial, 16), utc(when), RevocationReason(reason) if reason else None)
        for serial, when, reason in s.execute(q)
    ]
