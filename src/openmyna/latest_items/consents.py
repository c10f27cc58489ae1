"""Consent requests and consents: a business asks, the person reviews and signs, or revokes.

1. A business asks (``request``) for a person's consent, naming them by the serial of a
   certificate it verified before (eKYC with the signature certificate: the issuer tells
   whose it is), or by a one-time link it gives the person itself (``/consents/link/<token>``;
   the table keeps only the token's SHA-256). Never by the individual number: the API has no
   field for it, and a serial that is a valid 12-digit number is refused.
2. The person, logged in, sees the request on the portal's 同意 page (only their own: the
   resident-record code of their certificate must be the request's) and reviews what goes
   to whom.
3. The person signs it with the signature certificate (``signing``: the e-applications'
   one-time card request and check, reused). Then the consent is live.
4. The person may revoke it at any time (``revoke``): its undelivered provisions are
   withdrawn and their items erased, and nothing more is provided (``provision``).

Every grant, revocation and refused signature is a row of the append-only ``consent_log``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable

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
)
from openmyna.latest_items.records import (
    CertificateLinks,
    Consent,
    ConsentRequest,
    Issuer,
    LogEntry,
    aware,
    log,
)
from openmyna.latest_items.tables import consent_log, consent_requests, consents, provisions
from openmyna.numbers.checkdigits import is_valid_individual_number
from openmyna.portal.eapply.cards import token_hash
from openmyna.store import Store

#: How long a business's consent request waits for the person.
REQUEST_TTL = dt.timedelta(days=30)
_SERIAL = re.compile(r"^[0-9a-fA-F]{1,40}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ID = re.compile(r"^[0-9a-f]{32}$")


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
    ) -> None:
        self.store = store
        self.clock = clock
        self.businesses = businesses
        self.issuer = issuer
        self._links = links

    def now(self) -> dt.datetime:
        """The service's clock, in UTC (as the stores keep times)."""
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
        now = self.now()
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

    def business_of(self, business_id: str) -> Business:
        found = self.businesses.get(business_id)
        if found is None:  # pragma: no cover - businesses are never deleted
            raise ConsentRequestNotFound("the business is no longer registered")
        return found

    def _request(self, row: RowMapping, business: Business | None = None) -> ConsentRequest:
        status = row["status"]
        if status == "pending" and aware(row["expires_at"]) <= self.now():
            status = "expired"
        return ConsentRequest(
            request_id=row["request_id"],
            business=business or self.business_of(row["business_id"]),
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
            business=business or self.business_of(row["business_id"]),
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
                if row["status"] != "pending" or aware(row["expires_at"]) <= self.now():
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

    def my_request(self, s: Session, subject_id: str, request_id: str) -> RowMapping:
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
                        consent_requests.c.expires_at > self.now(),
                    )
                    .order_by(consent_requests.c.created_at.desc())
                ).mappings()
            )
        return [self._request(r) for r in rows]

    def review(self, subject_id: str, request_id: str) -> ConsentRequest:
        """One of the person's consent requests (``CONSENT_REQUEST_NOT_FOUND`` otherwise)."""
        with self.store.transaction() as s:
            row = self.my_request(s, subject_id, request_id)
        return self._request(row)

    def decline(self, subject_id: str, request_id: str) -> ConsentRequest:
        """The person declines: the request closes, nothing is provided."""
        now = self.now()
        with self.store.transaction() as s:
            row = self.my_request(s, subject_id, request_id)
            self.check_open(row)
            s.execute(
                update(consent_requests)
                .where(consent_requests.c.request_id == row["request_id"])
                .values(status="declined", sign_hash=None)
            )
            log(s, now, row["business_id"], "declined", "person", "", request_id=request_id)
        return self.review(subject_id, request_id)

    def check_open(self, row: RowMapping) -> None:
        if row["status"] != "pending" or aware(row["expires_at"]) <= self.now():
            raise ConsentRequestClosed("the consent request was answered or has expired")

    def by_id(self, consent_id: str) -> Consent:
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
        now = self.now()
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
