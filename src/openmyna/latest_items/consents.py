"""Consent requests and consents: a business asks, the person reviews and signs, or revokes.

1. A business asks (``request``) for a person's consent, naming them by the serial of a
   certificate it verified before (eKYC with the signature certificate: the issuer tells
   whose it is), or by a one-time link it gives the person itself (``/consents/link/<token>``;
   the table keeps only the token's SHA-256). Never by the individual number: the API has no
   field for it, and a serial that is a valid 12-digit number is refused.
2. The person, logged in, sees the request on the portal's 同意 page (only their own: the
   resident-record code of their certificate must be the request's) and reviews what goes
   to whom.
3. Signing is the e-applications' one-time card request, the same wire format and the same
   check (``portal.eapply.cards.verify_card_signature``): ``ask_signature`` freezes the
   consent document, the holder's app (``openmyna card sign-application URL``, or the demo
   wallet) signs it with the signature certificate (6-16 character password) as a detached
   CMS, and ``answer_signature`` accepts it only if the certificate is valid and not revoked
   (OCSP at the time of use), the signer is the session's person, and — when the business
   named a certificate — that certificate's holder too. Then the consent is live.
4. The person may revoke it at any time (``revoke``): its undelivered provisions are
   withdrawn and their items erased, and nothing more is provided (``provision``).

Every grant, revocation and refused signature is a row of the append-only ``consent_log``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.latest_items.businesses import Business, Businesses
from openmyna.latest_items.errors import (
    CertificateUnknown,
    ConsentNotFound,
    ConsentRequestClosed,
    ConsentRequestNotFound,
    InvalidConsentRequest,
    SignerNotPerson,
)
from openmyna.latest_items.tables import consent_log, consent_requests, consents, provisions
from openmyna.numbers.checkdigits import is_valid_individual_number
from openmyna.pki.records import CertRecord
from openmyna.portal.eapply.cards import (
    CARD_REQUEST_TTL,
    Holders,
    SignatureVerifier,
    token_hash,
    verify_card_signature,
)
from openmyna.portal.eapply.models import CardRequestKind, CardTask
from openmyna.store import Store

#: How long a business's consent request waits for the person.
REQUEST_TTL = dt.timedelta(days=30)
#: What the consent provides, in the card's order (基本4情報).
ITEMS = ("name", "address", "date_of_birth", "sex")
#: The registry's changes that are provided.
REASONS = ("moved_in", "moved_within", "name_changed", "died", "moved_abroad")
DOCUMENT_TYPE = "openmyna/latest-items-consent"
_SERIAL = re.compile(r"^[0-9a-fA-F]{1,40}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ID = re.compile(r"^[0-9a-f]{32}$")


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


class Consents:
    """The consent requests and consents, for businesses (by id) and people (by session)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        businesses: Businesses,
        *,
        issuer: Issuer,
        links: Callable[[], CertificateLinks],
        verifier: SignatureVerifier,
        holders: Holders,
    ) -> None:
        self.store = store
        self.clock = clock
        self.businesses = businesses
        self.issuer = issuer
        self._links = links
        self.verifier = verifier
        self.holders = holders

    def _now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)

    # --- who is the person -----------------------------------------------------------------

    def resident_of(self, subject_id: str) -> str | None:
        """The resident-record code of the session's certificate's holder (None if unknown)."""
        serial = self._links().certificate_serial(subject_id)
        if serial is None:
            return None
        try:
            return self.issuer.record(serial).resident_code
        except OpenMynaError:
            return None

    def _mine(self, subject_id: str) -> str:
        code = self.resident_of(subject_id)
        if code is None:
            raise ConsentRequestNotFound("no such consent request")
        return code

    # --- the business asks -----------------------------------------------------------------

    def request(
        self,
        business: Business,
        *,
        certificate_serial: str | None = None,
        link: bool = False,
        reference: str,
    ) -> tuple[ConsentRequest, str | None]:
        """A consent request naming the person by certificate serial, or by one-time link.

        Returns the request and the link's token (None when named by serial).
        """
        if (certificate_serial is None) == (not link):
            raise InvalidConsentRequest("name the person by certificate_serial or ask for a link")
        if not _REFERENCE.match(reference):
            raise InvalidConsentRequest("the reference is 1-64 of A-Z, a-z, 0-9 and ._:-")
        resident_code = None
        serial_hex = None
        if certificate_serial is not None:
            if is_valid_individual_number(certificate_serial):
                raise InvalidConsentRequest("never send the individual number: give the serial")
            if not _SERIAL.match(certificate_serial):
                raise InvalidConsentRequest("the certificate serial is hexadecimal")
            try:
                record = self.issuer.record(int(certificate_serial, 16))
            except OpenMynaError:
                raise CertificateUnknown(
                    "the issuer issued no certificate with that serial"
                ) from None
            resident_code = record.resident_code
            serial_hex = format(record.serial, "x")
        token = secrets.token_urlsafe(32) if link else None
        now = self._now()
        request_id = secrets.token_hex(16)
        with self.store.transaction() as s:
            s.execute(
                insert(consent_requests).values(
                    request_id=request_id,
                    business_id=business.business_id,
                    reference=reference,
                    named_serial=serial_hex,
                    link_hash=token_hash(token) if token else None,
                    resident_code=resident_code,
                    account_id=None,
                    status="pending",
                    created_at=now,
                    expires_at=now + REQUEST_TTL,
                )
            )
            log(s, now, business.business_id, "requested", "business", "", request_id=request_id)
        return self.business_request(business, request_id), token

    def business_request(self, business: Business, request_id: str) -> ConsentRequest:
        """One of the business's consent requests (``CONSENT_REQUEST_NOT_FOUND``)."""
        with self.store.transaction() as s:
            row = self._request_row(s, request_id)
        if row is None or row["business_id"] != business.business_id:
            raise ConsentRequestNotFound("no such consent request")
        return self._request(row, business)

    def business_consent(self, business: Business, consent_id: str) -> Consent:
        """One of the business's consents (``CONSENT_NOT_FOUND``)."""
        with self.store.transaction() as s:
            row = self._consent_row(s, consent_id)
        if row is None or row["business_id"] != business.business_id:
            raise ConsentNotFound("no such consent")
        return self._consent(row, business)

    # --- rows ------------------------------------------------------------------------------

    @staticmethod
    def _request_row(s: Session, request_id: str) -> RowMapping | None:
        if not _ID.match(request_id):
            return None
        return (
            s.execute(select(consent_requests).where(consent_requests.c.request_id == request_id))
            .mappings()
            .first()
        )

    @staticmethod
    def _consent_row(s: Session, consent_id: str) -> RowMapping | None:
        if not _ID.match(consent_id):
            return None
        return (
            s.execute(select(consents).where(consents.c.consent_id == consent_id))
            .mappings()
            .first()
        )

    def _business_of(self, business_id: str) -> Business:
        found = self.businesses.get(business_id)
        if found is None:  # pragma: no cover - businesses are never deleted
            raise ConsentRequestNotFound("the business is no longer registered")
        return found

    def _request(self, row: RowMapping, business: Business | None = None) -> ConsentRequest:
        status = row["status"]
        if status == "pending" and aware(row["expires_at"]) <= self._now():
            status = "expired"
        return ConsentRequest(
            request_id=row["request_id"],
            business=business or self._business_of(row["business_id"]),
            status=status,
            created_at=aware(row["created_at"]),
            expires_at=aware(row["expires_at"]),
            consent_id=row["consent_id"],
            last_error=row["last_error"],
            reference=row["reference"],
        )

    def _consent(self, row: RowMapping, business: Business | None = None) -> Consent:
        return Consent(
            consent_id=row["consent_id"],
            business=business or self._business_of(row["business_id"]),
            status=row["status"],
            granted_at=aware(row["granted_at"]),
            revoked_at=aware(row["revoked_at"]) if row["revoked_at"] else None,
            reference=row["reference"],
        )

    # --- the person: requests --------------------------------------------------------------

    def claim_link(self, account_id: str, subject_id: str, token: str) -> str:
        """Open a one-time link: the request becomes the person's; its id."""
        code = self._mine(subject_id)
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(consent_requests).where(
                        consent_requests.c.link_hash == token_hash(token[:64])
                    )
                )
                .mappings()
                .first()
            )
            if row is None or (row["resident_code"] not in (None, code)):
                raise ConsentRequestNotFound("no such consent request: the link is wrong or old")
            if row["resident_code"] is None:
                if row["status"] != "pending" or aware(row["expires_at"]) <= self._now():
                    raise ConsentRequestClosed("the consent request has expired")
                s.execute(
                    update(consent_requests)
                    .where(
                        consent_requests.c.request_id == row["request_id"],
                        consent_requests.c.resident_code.is_(None),
                    )
                    .values(resident_code=code, account_id=account_id)
                )
        return str(row["request_id"])

    def _my_request(self, s: Session, subject_id: str, request_id: str) -> RowMapping:
        code = self._mine(subject_id)
        row = self._request_row(s, request_id)
        if row is None or row["resident_code"] != code:
            raise ConsentRequestNotFound("no such consent request")
        return row

    def pending(self, subject_id: str) -> list[ConsentRequest]:
        """The person's consent requests still waiting for them, newest first."""
        code = self.resident_of(subject_id)
        if code is None:
            return []
        with self.store.transaction() as s:
            rows = list(
                s.execute(
                    select(consent_requests)
                    .where(
                        consent_requests.c.resident_code == code,
                        consent_requests.c.status == "pending",
                        consent_requests.c.expires_at > self._now(),
                    )
                    .order_by(consent_requests.c.created_at.desc())
                ).mappings()
            )
        return [self._request(r) for r in rows]

    def review(self, subject_id: str, request_id: str) -> ConsentRequest:
        """One of the person's consent requests (``CONSENT_REQUEST_NOT_FOUND`` otherwise)."""
        with self.store.transaction() as s:
            row = self._my_request(s, subject_id, request_id)
        return self._request(row)

    def decline(self, subject_id: str, request_id: str) -> ConsentRequest:
        """The person declines: the request closes, nothing is provided."""
        now = self._now()
        with self.store.transaction() as s:
            row = self._my_request(s, subject_id, request_id)
            self._open(row)
            s.execute(
                update(consent_requests)
                .where(consent_requests.c.request_id == row["request_id"])
                .values(status="declined", sign_hash=None)
            )
            log(s, now, row["business_id"], "declined", "person", "", request_id=request_id)
        return self.review(subject_id, request_id)

    def _open(self, row: RowMapping) -> None:
        if row["status"] != "pending" or aware(row["expires_at"]) <= self._now():
            raise ConsentRequestClosed("the consent request was answered or has expired")

    def ask_signature(
        self, account_id: str, subject_id: str, request_id: str
    ) -> tuple[ConsentRequest, str]:
        """A one-time signing URL's token over the frozen consent document."""
        now = self._now()
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as s:
            row = self._my_request(s, subject_id, request_id)
            self._open(row)
            business = self._business_of(row["business_id"])
            s.execute(
                update(consent_requests)
                .where(consent_requests.c.request_id == row["request_id"])
                .values(
                    account_id=account_id,
                    sign_hash=token_hash(token),
                    sign_subject_id=subject_id,
                    sign_created_at=now,
                    sign_expires_at=now + CARD_REQUEST_TTL,
                    document=consent_document(row["request_id"], business, now),
                    last_error=None,
                )
            )
        return self.review(subject_id, request_id), token

    # --- the holder's app ------------------------------------------------------------------

    def _by_sign_token(self, s: Session, token: str) -> RowMapping:
        row = (
            s.execute(
                select(consent_requests).where(
                    consent_requests.c.sign_hash == token_hash(token[:64])
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise ConsentRequestNotFound("no such signing request: the link is wrong or old")
        return row

    def _live_signing(self, row: RowMapping) -> None:
        if row["status"] == "signed":
            raise ConsentRequestClosed("the consent was signed already")
        self._open(row)
        if aware(row["sign_expires_at"]) <= self._now():
            raise ConsentRequestNotFound("the signing request has expired: start again")

    def card_task(self, token: str) -> CardTask:
        """What the one-time signing URL asks of the card (the e-applications' wire format)."""
        with self.store.transaction() as s:
            row = self._by_sign_token(s, token)
            self._live_signing(row)
        business = self._business_of(row["business_id"])
        title = {"ja": "最新の4情報提供への同意", "en": "Consent to the latest-4-items service"}
        return CardTask(
            CardRequestKind.SIGN,
            title,
            business.name,
            aware(row["sign_expires_at"]),
            document=bytes(row["document"]),
            return_to=f"/consents/requests/{row['request_id']}",
        )

    def answer_signature(self, token: str, cms_der: bytes) -> Consent:
        """Verify the CMS over the consent document; the consent is then live, once."""
        with self.store.transaction() as s:
            row = self._by_sign_token(s, token)
        if row["status"] == "signed" and row["consent_id"]:
            return self._consent_by_id(row["consent_id"])
        self._live_signing(row)
        document = bytes(row["document"])
        try:
            result, signed_at = verify_card_signature(
                self.verifier,
                self.holders,
                document=document,
                cms_der=cms_der,
                subject_id=row["sign_subject_id"],
                asked_at=aware(row["sign_created_at"]),
                now=self._now(),
            )
            signer = self.issuer.record(result.serial)
            if signer.resident_code != row["resident_code"]:
                raise SignerNotPerson("the consent is signed with another person's card")
        except OpenMynaError as exc:
            with self.store.transaction() as s:
                s.execute(
                    update(consent_requests)
                    .where(consent_requests.c.request_id == row["request_id"])
                    .values(last_error=exc.code[:40])
                )
                log(
                    s,
                    self._now(),
                    row["business_id"],
                    "sign_refused",
                    "person",
                    exc.code,
                    request_id=row["request_id"],
                )
            raise
        return self._grant(row, document, cms_der, format(result.serial, "x"), signed_at)

    def _grant(
        self, row: RowMapping, document: bytes, cms: bytes, serial: str, signed_at: dt.datetime
    ) -> Consent:
        now = self._now()
        consent_id = secrets.token_hex(16)
        with self.store.transaction() as s:
            done = s.execute(
                update(consent_requests)
                .where(
                    consent_requests.c.request_id == row["request_id"],
                    consent_requests.c.status == "pending",
                )
                .values(status="signed", consent_id=consent_id, last_error=None)
            )
            if not getattr(done, "rowcount", 0):
                raise ConsentRequestClosed("the consent was signed already")
            s.execute(
                insert(consents).values(
                    consent_id=consent_id,
                    business_id=row["business_id"],
                    request_id=row["request_id"],
                    reference=row["reference"],
                    account_id=row["account_id"],
                    resident_code=row["resident_code"],
                    status="active",
                    document=document,
                    cms=cms,
                    signer_serial=serial,
                    signed_at=signed_at,
                    granted_at=now,
                    revoked_at=None,
                )
            )
            log(
                s,
                now,
                row["business_id"],
                "granted",
                "person",
                "",
                consent_id=consent_id,
                request_id=row["request_id"],
            )
        return self._consent_by_id(consent_id)

    def _consent_by_id(self, consent_id: str) -> Consent:
        with self.store.transaction() as s:
            row = self._consent_row(s, consent_id)
        if row is None:  # pragma: no cover - called with ids just written
            raise ConsentNotFound("no such consent")
        return self._consent(row)

    # --- the person: consents --------------------------------------------------------------

    def of_person(self, subject_id: str) -> list[Consent]:
        """The person's consents, live first, newest first."""
        code = self.resident_of(subject_id)
        if code is None:
            return []
        with self.store.transaction() as s:
            rows = list(
                s.execute(
                    select(consents)
                    .where(consents.c.resident_code == code)
                    .order_by(consents.c.granted_at.desc())
                ).mappings()
            )
        found = [self._consent(r) for r in rows]
        return sorted(found, key=lambda c: not c.active)

    def _my_consent(self, s: Session, subject_id: str, consent_id: str) -> RowMapping:
        code = self.resident_of(subject_id)
        row = self._consent_row(s, consent_id)
        if row is None or code is None or row["resident_code"] != code:
            raise ConsentNotFound("no such consent")
        return row

    def consent(self, subject_id: str, consent_id: str) -> Consent:
        """One of the person's consents (``CONSENT_NOT_FOUND`` otherwise)."""
        with self.store.transaction() as s:
            row = self._my_consent(s, subject_id, consent_id)
        return self._consent(row)

    def history(self, subject_id: str, consent_id: str) -> list[LogEntry]:
        """The log of one of the person's consents, oldest first."""
        with self.store.transaction() as s:
            row = self._my_consent(s, subject_id, consent_id)
            rows = s.execute(
                select(consent_log)
                .where(consent_log.c.consent_id == row["consent_id"])
                .order_by(consent_log.c.id)
            ).mappings()
            return [
                LogEntry(aware(r["recorded_at"]), r["action"], r["actor"], r["detail"])
                for r in rows
            ]

    def revoke(self, subject_id: str, consent_id: str) -> Consent:
        """Revoke the consent: nothing more is provided; undelivered items are erased."""
        now = self._now()
        with self.store.transaction() as s:
            row = self._my_consent(s, subject_id, consent_id)
            if row["status"] == "active":
                s.execute(
                    update(consents)
                    .where(
                        consents.c.consent_id == row["consent_id"], consents.c.status == "active"
                    )
                    .values(status="revoked", revoked_at=now)
                )
                s.execute(
                    update(provisions)
                    .where(
                        provisions.c.consent_id == row["consent_id"],
                        provisions.c.status.in_(("pending", "feed")),
                    )
                    .values(status="withdrawn", items="{}")
                )
                log(s, now, row["business_id"], "revoked", "person", "", consent_id=consent_id)
        return self.consent(subject_id, consent_id)


def document_digest(document: bytes) -> str:
    """The SHA-256 (hex) of a consent document, as the holder's app shows it."""
    return hashlib.sha256(document).hexdigest()
