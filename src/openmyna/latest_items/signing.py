"""Signing a consent with the card: the e-applications' one-time card request, reused.

``ask_signature`` freezes the consent document (``records.consent_document``) and gives a
one-time URL's token (``/consents/card/<token>``; the table keeps its SHA-256), valid for
the e-applications' ``CARD_REQUEST_TTL``. The holder's app answers it in the same wire
format (``openmyna card sign-application``, or the demo wallet), and ``answer_signature``
checks the CMS with the same function as an application's (``verify_card_signature``): the
document, the signing time, the certificate's chain and revocation status now (OCSP), and
that the signer is the logged-in person — and, when the business named a certificate, that
certificate's holder. A refused signature is recorded (``sign_refused``) with its code.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.errors import OpenMynaError
from openmyna.latest_items.consents import Consents
from openmyna.latest_items.errors import (
    ConsentRequestClosed,
    ConsentRequestNotFound,
    SignerNotPerson,
)
from openmyna.latest_items.records import (
    Consent,
    ConsentRequest,
    aware,
    consent_document,
    log,
)
from openmyna.latest_items.tables import consent_requests, consents
from openmyna.portal.eapply.cards import (
    CARD_REQUEST_TTL,
    Holders,
    SignatureVerifier,
    token_hash,
    verify_card_signature,
)
from openmyna.portal.eapply.models import CardRequestKind, CardTask


class ConsentSigning:
    """The card step of a consent: the one-time URL, and the signature it brings back."""

    def __init__(
        self, consents: Consents, *, verifier: SignatureVerifier, holders: Holders
    ) -> None:
        self.consents = consents
        self.store = consents.store
        self.verifier = verifier
        self.holders = holders

    def now(self) -> dt.datetime:
        """The service's clock, in UTC."""
        return self.consents.now()

    def ask_signature(
        self, account_id: str, subject_id: str, request_id: str
    ) -> tuple[ConsentRequest, str]:
        """A one-time signing URL's token over the frozen consent document."""
        now = self.now()
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as s:
            row = self.consents.my_request(s, subject_id, request_id)
            self.consents.check_open(row)
            business = self.consents.business_of(row["business_id"])
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
        return self.consents.review(subject_id, request_id), token

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
        self.consents.check_open(row)
        if aware(row["sign_expires_at"]) <= self.now():
            raise ConsentRequestNotFound("the signing request has expired: start again")

    def card_task(self, token: str) -> CardTask:
        """What the one-time signing URL asks of the card (the e-applications' wire format)."""
        with self.store.transaction() as s:
            row = self._by_sign_token(s, token)
            self._live_signing(row)
        business = self.consents.business_of(row["business_id"])
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
            return self.consents.by_id(row["consent_id"])
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
                now=self.now(),
            )
            signer = self.consents.issuer.record(result.serial)
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
                    self.now(),
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
        now = self.now()
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
        return self.consents.by_id(consent_id)
