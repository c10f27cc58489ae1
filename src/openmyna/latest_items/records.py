"""The records of consent requests and consents as the service's parts see them, and the log."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.orm import Session

from openmyna.latest_items.businesses import Business
from openmyna.latest_items.tables import consent_log
from openmyna.pki.records import CertRecord

#: What the consent provides, in the card's order (基本4情報).
ITEMS = ("name", "address", "date_of_birth", "sex")
#: The registry's changes that are provided.
REASONS = ("moved_in", "moved_within", "name_changed", "died", "moved_abroad")
DOCUMENT_TYPE = "openmyna/latest-items-consent"


class Issuer(Protocol):
    """The JPKI issuer's records (``openmyna.pki.Jpki``)."""

    def record(self, serial: int) -> CertRecord:
        """What the issuer recorded about a certificate (``CERTIFICATE_NOT_FOUND``)."""
        ...


class CertificateLinks(Protocol):
    """Which certificate a portal session logged in with (``portal.accounts.Accounts``)."""

    def certificate_serial(self, subject_id: str) -> int | None:
        """The serial of a linked user-authentication certificate."""
        ...


@dataclass(frozen=True)
class ConsentRequest:
    """A business's request for a person's consent."""

    request_id: str
    business: Business
    status: str
    created_at: dt.datetime
    expires_at: dt.datetime
    consent_id: str | None
    last_error: str | None
    #: The business's own reference for its customer (for the business only).
    reference: str


@dataclass(frozen=True)
class Consent:
    """A person's consent to one business."""

    consent_id: str
    business: Business
    status: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
    reference: str

    @property
    def active(self) -> bool:
        """Whether the business is still provided with changes."""
        return self.status == "active"


@dataclass(frozen=True)
class LogEntry:
    """One row of the consent log, as the person or the business sees it."""

    recorded_at: dt.datetime
    action: str
    actor: str
    detail: str


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite keeps the digits, not the zone)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def log(
    s: Session,
    now: dt.datetime,
    business_id: str,
    action: str,
    actor: str,
    detail: str,
    *,
    consent_id: str | None = None,
    request_id: str | None = None,
    event_id: str | None = None,
) -> None:
    """Append one row to the consent log."""
    s.execute(
        insert(consent_log).values(
            recorded_at=now,
            consent_id=consent_id,
            request_id=request_id,
            business_id=business_id,
            action=action,
            actor=actor,
            detail=detail[:64],
            event_id=event_id,
        )
    )


def consent_document(request_id: str, business: Business, prepared_at: dt.datetime) -> bytes:
    """The bytes the person signs: what goes to whom, and when it is provided (UTF-8 JSON)."""
    content = {
        "type": DOCUMENT_TYPE,
        "version": 1,
        "request_id": request_id,
        "business": {"id": business.business_id, "name": business.name},
        "items": list(ITEMS),
        "provided_on": list(REASONS),
        "prepared_at": prepared_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
