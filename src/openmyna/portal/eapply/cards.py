"""One-time card requests: fill the form from the card, and sign the application with it.

The page asks, the holder's app answers. A request is a random token in a one-time URL
(``/services/card/<token>``; the table keeps only the token's SHA-256), valid for
``CARD_REQUEST_TTL`` and answered once:

- **prefill**: only after the person consented on the page. ``GET`` says which card items
  the form takes — the 4 items, and the individual number only if the form asks for it; the
  app reads the 券面事項入力補助AP with its 4-digit PIN and posts those items, nothing
  more (an unrequested number is refused, never stored).
- **sign**: the draft's answers must pass its form. The request freezes the application's
  canonical document (``canonical``); ``GET`` gives it, the app signs it with the signature
  key (6-16 character password) as a detached CMS SignedData (``openmyna.pki.cms``) and
  posts the CMS. The portal accepts it only if the CMS is over exactly that document, its
  signing time falls within the request's life, the ``Verifier`` accepts the certificate
  (chain, validity, policy, revocation status) and the signature, and the signer is the
  person who asked (the issuer names the same holder for the signature certificate and for
  the session's user-authentication certificate). Then the application is stored and
  delivered, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.pki import SignatureResult
from openmyna.pki.cms import parse_detached
from openmyna.portal.eapply import canonical
from openmyna.portal.eapply.applications import (
    PORTAL_ACTOR,
    Applications,
    new_reference,
    record_change,
)
from openmyna.portal.eapply.drafts import Drafts, aware, cancel_pending
from openmyna.portal.eapply.errors import (
    AlreadySubmitted,
    CardAnswerInvalid,
    CardRequestNotFound,
    CardRequestUsed,
    ConsentRequired,
    FormIncomplete,
    SignerNotApplicant,
    SigningTimeInvalid,
)
from openmyna.portal.eapply.forms import check_answers, form_values
from openmyna.portal.eapply.models import (
    Application,
    ApplicationStatus,
    CardRequest,
    CardRequestKind,
    CardRequestStatus,
    CardTask,
    DraftStatus,
    PrefillItems,
)
from openmyna.portal.eapply.tables import applications, card_requests, drafts
from openmyna.store import Store, StoreConflict

#: How long the holder's app has to answer (as long as a login request).
CARD_REQUEST_TTL = dt.timedelta(minutes=5)
#: How far a signing time may lie outside the request's life (clocks differ a little).
SIGNING_SKEW = dt.timedelta(minutes=5)


class SignatureVerifier(Protocol):
    """The relying party's verifier (``openmyna.pki.Verifier``)."""

    def verify_signature(
        self,
        cert: bytes,
        data: bytes,
        signature: bytes,
        *,
        at: dt.datetime | None = None,
    ) -> SignatureResult:
        """A valid signature certificate signed ``data``; raises ``VerificationFailed``."""
        ...


class Holders(Protocol):
    """Who holds a certificate, as the issuer tells (``holders.IssuerHolders``)."""

    def same_holder(self, auth_subject_id: str, sign_serial: int) -> bool:
        """Whether the signature certificate is the logged-in certificate's holder's."""
        ...


def token_hash(token: str) -> str:
    """What the table keeps of a one-time URL's token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def verify_card_signature(
    verifier: SignatureVerifier,
    holders: Holders,
    *,
    document: bytes,
    cms_der: bytes,
    subject_id: str,
    asked_at: dt.datetime,
    now: dt.datetime,
) -> tuple[SignatureResult, dt.datetime]:
    """Check a one-time signing request's answer: the verified signer and the signing time.

    The CMS must be over exactly ``document``, signed between ``asked_at`` and ``now`` (give
    or take ``SIGNING_SKEW``), by a signature certificate the verifier accepts (chain,
    validity, policy, revocation status), held by the session's person (``subject_id``:
    their user-authentication certificate). The portal's other signed steps (the
    latest-4-items consent) answer their requests through this same check.
    """
    signature = parse_detached(cms_der)
    signature.check_content(document)
    if not asked_at - SIGNING_SKEW <= signature.signing_time <= now + SIGNING_SKEW:
        raise SigningTimeInvalid("the signing time is outside the signing request's life")
    result = verifier.verify_signature(
        signature.certificate_der, signature.signed_attributes, signature.signature
    )
    if not holders.same_holder(subject_id, result.serial):
        raise SignerNotApplicant("the document is signed with another person's card")
    return result, signature.signing_time


def _request(row: RowMapping) -> CardRequest:
    return CardRequest(
        request_id=row["request_id"],
        kind=CardRequestKind(row["kind"]),
        draft_id=row["draft_id"],
        account_id=row["account_id"],
        status=CardRequestStatus(row["status"]),
        last_error=row["last_error"],
        created_at=aware(row["created_at"]),
        expires_at=aware(row["expires_at"]),
        answered_at=aware(row["answered_at"]) if row["answered_at"] else None,
    )


class CardRequests:
    """The card requests of the drafts, and the submission they end in."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        drafts: Drafts,
        applications: Applications,
        *,
        verifier: SignatureVerifier,
        holders: Holders,
    ) -> None:
        self.store = store
        self.clock = clock
        self.drafts = drafts
        self.applications = applications
        self.verifier = verifier
        self.holders = holders

    # --- the page's side ---------------------------------------------------------------------

    def _new(
        self,
        s: Session,
        kind: CardRequestKind,
        draft: RowMapping,
        subject_id: str,
        document: bytes | None = None,
    ) -> tuple[CardRequest, str]:
        cancel_pending(s, draft["draft_id"], kind.value)
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        request_id = secrets.token_hex(16)
        s.execute(
            insert(card_requests).values(
                request_id=request_id,
                token_hash=token_hash(token),
                kind=kind.value,
                draft_id=draft["draft_id"],
                account_id=draft["account_id"],
                subject_id=subject_id,
                document=document,
                status=CardRequestStatus.PENDING.value,
                last_error=None,
                created_at=now,
                expires_at=now + CARD_REQUEST_TTL,
                answered_at=None,
            )
        )
        row = (
            s.execute(select(card_requests).where(card_requests.c.request_id == request_id))
            .mappings()
            .one()
        )
        return _request(row), token

    def request_prefill(
        self, account_id: str, subject_id: str, draft_id: str, *, consent: bool
    ) -> tuple[CardRequest, str]:
        """A prefill request, once the person consented (``PREFILL_CONSENT_REQUIRED``)."""
        if not consent:
            raise ConsentRequired("reading the card needs your consent first")
        with self.store.transaction() as s:
            row = self.drafts.editable(s, account_id, draft_id)
            self.drafts.consent(s, row)
            return self._new(s, CardRequestKind.PREFILL, row, subject_id)

    def request_signature(
        self, account_id: str, subject_id: str, draft_id: str
    ) -> tuple[CardRequest, str]:
        """A signing request over the draft's document (``FORM_INCOMPLETE`` if not ready)."""
        with self.store.transaction() as s:
            row = self.drafts.editable(s, account_id, draft_id)
            service = self.drafts.catalogue.service(row["service_id"])
            form = service.form
            answers = json.loads(row["answers"])
            shown = form_values(form, answers)
            checked = check_answers(form, shown, self.clock.today(), kept=answers)
            files = self.drafts.attached(s, row["draft_id"])
            slots = {f.slot for f in files}
            missing = [a.name for a in form.attachments if a.required and a.name not in slots]
            if not checked.ok or missing:
                raise FormIncomplete("the form has answers to complete or correct")
            document = canonical.document(
                application_id=row["draft_id"],
                service=service,
                answers=checked.answers,
                attachments=files,
                prepared_at=self.clock.now(),
            )
            s.execute(
                update(drafts)
                .where(drafts.c.draft_id == row["draft_id"])
                .values(status=DraftStatus.SIGNING.value, updated_at=self.clock.now())
            )
            return self._new(s, CardRequestKind.SIGN, row, subject_id, document)

    def get(self, account_id: str, draft_id: str, request_id: str) -> CardRequest:
        """One of the account's card requests (``CARD_REQUEST_NOT_FOUND`` otherwise)."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(card_requests).where(
                        card_requests.c.request_id == request_id[:32],
                        card_requests.c.draft_id == draft_id[:32],
                        card_requests.c.account_id == account_id,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise CardRequestNotFound("no such card request")
        return _request(row)

    # --- the holder's app's side ---------------------------------------------------------------

    def _by_token(self, s: Session, token: str) -> RowMapping:
        row = (
            s.execute(
                select(card_requests).where(card_requests.c.token_hash == token_hash(token[:64]))
            )
            .mappings()
            .first()
        )
        if row is None:
            raise CardRequestNotFound("no such card request: the link is wrong or old")
        return row

    def _live(self, row: RowMapping) -> None:
        status = CardRequestStatus(row["status"])
        if status is CardRequestStatus.ANSWERED:
            raise CardRequestUsed("the card request was answered already")
        if status is not CardRequestStatus.PENDING or aware(row["expires_at"]) <= (
            self.clock.now()
        ):
            raise CardRequestNotFound("the card request has expired: start again on the page")

    def kind(self, token: str) -> CardRequestKind:
        """What a card request asks for, live or not (``CARD_REQUEST_NOT_FOUND`` if unknown)."""
        with self.store.transaction() as s:
            return CardRequestKind(self._by_token(s, token)["kind"])

    def task(self, token: str) -> CardTask:
        """What the one-time URL asks of the card."""
        with self.store.transaction() as s:
            row = self._by_token(s, token)
            self._live(row)
            draft = s.execute(select(drafts).where(drafts.c.draft_id == row["draft_id"])).first()
        assert draft is not None
        service = self.drafts.catalogue.service(draft._mapping["service_id"])
        kind = CardRequestKind(row["kind"])
        title = {"ja": service.form.title.ja, "en": service.form.title.en}
        expires = aware(row["expires_at"])
        back = f"/services/drafts/{row['draft_id']}/card/{row['request_id']}"
        where = service.municipality.full_name
        if kind is CardRequestKind.PREFILL:
            return CardTask(kind, title, where, expires, service.form.prefill_items, return_to=back)
        return CardTask(
            kind, title, where, expires, document=bytes(row["document"]), return_to=back
        )

    def answer_prefill(self, token: str, items: PrefillItems) -> None:
        """Fill the draft with what the card read (only the items the request named)."""
        with self.store.transaction() as s:
            row = self._by_token(s, token)
            self._live(row)
            if CardRequestKind(row["kind"]) is not CardRequestKind.PREFILL:
                raise CardAnswerInvalid("this card request asks for a signature")
            draft = self.drafts.editable(s, row["account_id"], row["draft_id"])
            if draft["consented_at"] is None:  # pragma: no cover - requests need consent
                raise ConsentRequired("reading the card needs your consent first")
            form = self.drafts.catalogue.service(draft["service_id"]).form
            if not items.given() <= set(form.prefill_items):
                # Never take (nor keep) what the form does not use: the number above all.
                raise CardAnswerInvalid("the card sent items this form does not take")
            self.drafts.fill(s, draft, items)
            self._answered(s, row)

    def _answered(self, s: Session, row: RowMapping) -> None:
        done = s.execute(
            update(card_requests)
            .where(
                card_requests.c.request_id == row["request_id"],
                card_requests.c.status == CardRequestStatus.PENDING.value,
            )
            .values(status=CardRequestStatus.ANSWERED.value, answered_at=self.clock.now())
        )
        if not getattr(done, "rowcount", 0):
            raise CardRequestUsed("the card request was answered already")

    def _refused(self, request_id: str, error: OpenMynaError) -> None:
        with self.store.transaction() as s:
            s.execute(
                update(card_requests)
                .where(card_requests.c.request_id == request_id)
                .values(last_error=error.code[:40])
            )

    def answer_signature(self, token: str, cms_der: bytes) -> Application:
        """Verify the CMS over the request's document and submit the application, once.

        Posting the same signed document again (a retry) returns the application already
        submitted.
        """
        with self.store.transaction() as s:
            row = self._by_token(s, token)
        if CardRequestKind(row["kind"]) is not CardRequestKind.SIGN:
            raise CardAnswerInvalid("this card request asks for the card's items")
        document = bytes(row["document"])
        if CardRequestStatus(row["status"]) is CardRequestStatus.ANSWERED:
            return self._resubmitted(row["draft_id"], document)
        self._live(row)
        try:
            verified = self._verify(row, document, cms_der)
        except OpenMynaError as exc:
            self._refused(row["request_id"], exc)
            raise
        return self._submit(row, document, cms_der, verified)

    def _resubmitted(self, application_id: str, document: bytes) -> Application:
        with self.store.transaction() as s:
            found = self.applications.row(s, application_id)
        if found is None or bytes(found["document"]) != document:
            raise CardRequestUsed("the card request was answered already")
        return self.applications.for_account(found["account_id"], application_id)

    def _verify(
        self, row: RowMapping, document: bytes, cms_der: bytes
    ) -> tuple[SignatureResult, dt.datetime]:
        return verify_card_signature(
            self.verifier,
            self.holders,
            document=document,
            cms_der=cms_der,
            subject_id=row["subject_id"],
            asked_at=aware(row["created_at"]),
            now=self.clock.now(),
        )

    def _submit(
        self,
        row: RowMapping,
        document: bytes,
        cms_der: bytes,
        verified: tuple[SignatureResult, dt.datetime],
    ) -> Application:
        result, signed_at = verified
        now = self.clock.now()
        application_id = row["draft_id"]
        signed = canonical.read_document(document)["service"]
        service = self.drafts.catalogue.service(signed["service_id"])
        try:
            with self.store.transaction() as s:
                self._answered(s, row)
                s.execute(
                    insert(applications).values(
                        application_id=application_id,
                        reference=new_reference(),
                        account_id=row["account_id"],
                        service_id=service.service_id,
                        form_id=service.form.id,
                        form_version=service.form.version,
                        lg_code=service.lg_code,
                        document=document,
                        document_sha256=hashlib.sha256(document).hexdigest(),
                        cms=cms_der,
                        signer_serial=format(result.serial, "x"),
                        signer_subject_id=result.subject_id,
                        signed_at=signed_at,
                        submitted_at=now,
                        status=ApplicationStatus.SUBMITTED.value,
                        status_at=now,
                    )
                )
                record_change(
                    s,
                    application_id,
                    service.lg_code,
                    ApplicationStatus.SUBMITTED,
                    now,
                    actor=PORTAL_ACTOR,
                )
                s.execute(
                    update(drafts)
                    .where(drafts.c.draft_id == application_id)
                    .values(status=DraftStatus.SUBMITTED.value, answers="{}", updated_at=now)
                )
        except (StoreConflict, CardRequestUsed):
            # Another post of the same request won the race, or the id was used before.
            with self.store.transaction() as s:
                found = self.applications.row(s, application_id)
            if found is None or bytes(found["document"]) != document:
                raise AlreadySubmitted("an application with this id was submitted") from None
        return self.applications.for_account(row["account_id"], application_id)
