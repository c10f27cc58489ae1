"""E-applications at the back office: the inbox, one application, 受付, 決定, and the notice.

``ApplicationDesk`` is the staff's side of ``Portal.eapply.office`` (the e-applications' own
status model and municipality scope). Every step here begins with the staff register's check
(``BackOffice.require``) for the municipality in the path, and is a row of the staff log
with who did it and its outcome:

- reading the inbox and an application: clerk or above (``READ_RESIDENTS``);
- 受付 (receipt): clerk or above (``REGISTRY_COUNTER``);
- 決定 (approve, or reject with its reason, 行政手続法 第8条): supervisor or above
  (``DECIDE_APPLICATIONS``). The decision is sent to the applicant as a notice
  (``Portal.notices``) under the municipality's agency with the idempotency key
  ``decision-<application id>``: a retried decision sends no second notice. The notice's
  text is made from the decision as recorded, so a retry is the same notice.

An application addressed to another municipality is ``APPLICATION_NOT_FOUND`` (404), as if
it did not exist. Applications of the moving one-stop (``move-out-notice``) are decided by
the moving one-stop's pages (``/backoffice/moves/<id>``), not here.

Two forms have their own part of the decision: the child-allowance claim (the claimant's
local tax from the municipality of 1 January, over the network: ``child_allowance``) and
the disaster victim certificate (the damage grade: ``disaster``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network.agencies import municipality_agency_id
from openmyna.numbers import mask_individual_number
from openmyna.pki.cms import parse_detached
from openmyna.portal.backoffice import child_allowance, disaster
from openmyna.portal.backoffice.child_allowance import (
    ClaimantNotResident,
    FetchedTax,
    IncomeLimit,
    LevyingHere,
    LocalTaxNotChecked,
    LocalTaxSource,
)
from openmyna.portal.backoffice.disaster import DamageGrade
from openmyna.portal.backoffice.service import BackOffice, municipality_name
from openmyna.portal.backoffice.staff import Permission, StaffMember
from openmyna.portal.backoffice.tables import staff_log
from openmyna.portal.eapply.catalogue import Service
from openmyna.portal.eapply.drafts import Drafts
from openmyna.portal.eapply.forms import masked_numbers
from openmyna.portal.eapply.models import (
    Application,
    ApplicationStatus,
    AttachmentInfo,
    Outcome,
    StatusChange,
)
from openmyna.portal.eapply.service import EApply
from openmyna.portal.i18n import translations
from openmyna.portal.notices import Notices
from openmyna.portal.sessions import PortalSession

PER_PAGE: Final = 20
#: The form the moving one-stop's pages process, and where they are.
MOVE_OUT_FORM: Final = "move-out-notice"
MOVES_PATH: Final = "/backoffice/moves/{application_id}"
NOTE_MAX: Final = 1000
#: The subject kind of the staff log's rows about an application.
SUBJECT: Final = "application"
#: The staff log's action of a local-tax lookup (the decision looks for it).
LOCAL_TAX_ACTION: Final = "application.local_tax"


@dataclass(frozen=True)
class InboxPage:
    """One page of a municipality's applications."""

    applications: tuple[Application, ...]
    total: int
    page: int
    pages: int
    status: ApplicationStatus | None
    form_id: str | None


@dataclass(frozen=True)
class SignatureCheck:
    """The signature on an application, verified again when staff open it."""

    valid: bool
    #: The error's code when it is not valid.
    code: str | None
    serial: str
    signed_at: dt.datetime
    #: Where the certificate's status came from (``ocsp``, ``crl``), when valid.
    status_source: str | None
    #: The document's hash matches what the CMS signed.
    document_matches: bool


@dataclass(frozen=True)
class ApplicationFile:
    """What the application's page shows."""

    application: Application
    service: Service
    answers: dict[str, object]
    masked: dict[str, str]
    history: tuple[StatusChange, ...]
    attachments: tuple[AttachmentInfo, ...]
    signature: SignatureCheck
    #: Decided on the moving one-stop's pages (their path), not here.
    moves_path: str | None
    #: The grade a disaster certificate's decision stated.
    damage_grade: DamageGrade | None
    #: The names of the staff the history names (``staff:<account id>``).
    actors: dict[str, str]

    @property
    def decision(self) -> StatusChange | None:
        """The decision's status change, once decided."""
        return next((c for c in reversed(self.history) if c.status.decided), None)


@dataclass(frozen=True)
class TaxLookup:
    """A child-allowance claimant's local tax, obtained over the network for the decision."""

    fetched: FetchedTax
    from_lg_code: str
    from_name: str
    fiscal_year: int
    limit: IncomeLimit
    assessment: str
    masked_number: str


@dataclass(frozen=True)
class Decided:
    """A decision and its notice."""

    application: Application
    notice_id: str
    #: False when the notice had been sent before (a retried decision).
    notice_created: bool


def _checked_note(text: str) -> str:
    note = (text or "").replace("\r\n", "\n").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"a note or reason is at most {NOTE_MAX} characters")
    return note


class ApplicationDesk:
    """The back office's steps on e-applications, checked against the staff register."""

    def __init__(
        self,
        backoffice: BackOffice,
        eapply: EApply,
        notices: Notices,
        *,
        local_tax: LocalTaxSource | None = None,
    ) -> None:
        self.backoffice = backoffice
        self.eapply = eapply
        self.office = eapply.office
        self.notices = notices
        self.local_tax = local_tax
        self.clock = backoffice.clock

    # --- reading ---------------------------------------------------------------------------

    def inbox(
        self,
        session: PortalSession,
        lg_code: str,
        *,
        status: str | None = None,
        form_id: str | None = None,
        page: int = 1,
    ) -> InboxPage:
        """The municipality's applications (of a status, of a form), oldest first, paged."""
        member = self.backoffice.require(session, lg_code, Permission.READ_RESIDENTS)
        try:
            wanted = ApplicationStatus(status) if status else None
        except ValueError:
            raise InvalidInput("no such status") from None
        form = form_id or None
        if form is not None and form not in self.eapply.catalogue.forms:
            raise InvalidInput("no such form")

        def step() -> InboxPage:
            total = self.office.count(lg_code, status=wanted, form_id=form)
            pages = max(1, math.ceil(total / PER_PAGE))
            at = min(max(1, page), pages)
            found = self.office.inbox(
                lg_code,
                status=wanted,
                form_id=form,
                limit=PER_PAGE,
                offset=(at - 1) * PER_PAGE,
            )
            return InboxPage(tuple(found), total, at, pages, wanted, form)

        return self.backoffice.recorded(
            member,
            "application.inbox",
            step,
            subject_kind=None,
            detail=f"status={status or 'all'} form={form or 'all'}; ",
            described=lambda p: f"{len(p.applications)} of {p.total}",
        )

    def open(self, session: PortalSession, lg_code: str, application_id: str) -> ApplicationFile:
        """One application to the municipality: what was signed, its signature, its history."""
        member = self.backoffice.require(session, lg_code, Permission.READ_RESIDENTS)
        return self.backoffice.recorded(
            member,
            "application.view",
            lambda: self._file(lg_code, application_id),
            subject_kind=SUBJECT,
            subject=application_id[:32],
        )

    def _file(self, lg_code: str, application_id: str) -> ApplicationFile:
        application = self.office.get(lg_code, application_id)
        service = self.eapply.catalogue.service(application.service_id)
        answers = application.answers()
        history = tuple(self.office.history(lg_code, application.application_id))
        decision = next((c for c in reversed(history) if c.status.decided), None)
        return ApplicationFile(
            application=application,
            service=service,
            answers=answers,
            masked=masked_numbers(service.form, answers),
            history=history,
            attachments=tuple(_attachments(self.eapply.drafts, application.application_id)),
            signature=self._signature(application),
            moves_path=(
                MOVES_PATH.format(application_id=application.application_id)
                if application.form_id == MOVE_OUT_FORM
                else None
            ),
            damage_grade=(
                disaster.grade_in(decision.reason)
                if decision is not None and application.form_id == disaster.FORM_ID
                else None
            ),
            actors={m.actor: m.name for m in self.backoffice.staff.members(lg_code)},
        )

    def _signature(self, application: Application) -> SignatureCheck:
        """The CMS verified again over the stored document, at its signing time."""
        serial = format(application.signer_serial, "x")
        try:
            signature = parse_detached(application.cms)
            signature.check_content(application.document)
            result = self.eapply.cards.verifier.verify_signature(
                signature.certificate_der,
                signature.signed_attributes,
                signature.signature,
                at=signature.signing_time,
            )
        except OpenMynaError as exc:
            return SignatureCheck(False, exc.code, serial, application.signed_at, None, False)
        return SignatureCheck(
            valid=result.serial == application.signer_serial,
            code=None if result.serial == application.signer_serial else "SIGNER_CHANGED",
            serial=serial,
            signed_at=signature.signing_time,
            status_source=str(result.status_source) if result.status_source else None,
            document_matches=True,
        )

    # --- receipt and decision --------------------------------------------------------------

    def receive(
        self, session: PortalSession, lg_code: str, application_id: str, *, note: str = ""
    ) -> Application:
        """受付: record the receipt (a repeat changes nothing)."""
        member = self.backoffice.require(session, lg_code, Permission.REGISTRY_COUNTER)
        return self.backoffice.recorded(
            member,
            "application.receive",
            lambda: self.office.receive(
                lg_code, application_id, actor=member.actor, note=_checked_note(note)
            ),
            subject_kind=SUBJECT,
            subject=application_id[:32],
        )

    def decide(
        self,
        session: PortalSession,
        lg_code: str,
        application_id: str,
        *,
        outcome: str,
        reason: str = "",
        damage_grade: str | None = None,
    ) -> Decided:
        """決定: approve or reject (with its reason), and send the applicant the notice.

        A disaster certificate's approval states the damage grade; a child-allowance claim
        is approved only after its claimant's local tax was looked up here.
        """
        member = self.backoffice.require(session, lg_code, Permission.DECIDE_APPLICATIONS)

        def step() -> Decided:
            try:
                decided = Outcome(outcome)
            except ValueError:
                raise InvalidInput("a decision approves or rejects") from None
            application = self.office.get(lg_code, application_id)
            if application.form_id == MOVE_OUT_FORM:
                raise InvalidInput("the moving one-stop's pages process a move-out notice")
            text = _checked_note(reason)
            if decided is Outcome.APPROVED and not application.status.decided:
                text = self._approval_text(member, application, text, damage_grade)
            done = self.office.decide(
                lg_code, application.application_id, decided, actor=member.actor, reason=text
            )
            return self._notify(done)

        return self.backoffice.recorded(
            member,
            "application.decide",
            step,
            subject_kind=SUBJECT,
            subject=application_id[:32],
            detail=f"{outcome[:10]}; ",
            described=lambda d: "notice sent" if d.notice_created else "notice was sent before",
        )

    def _approval_text(
        self,
        member: StaffMember,
        application: Application,
        note: str,
        damage_grade: str | None,
    ) -> str:
        if application.form_id == disaster.FORM_ID:
            grade = disaster.damage_grade(damage_grade)
            line = f"{disaster.GRADE_PREFIX}{grade.name}（{grade.share}）"
            return f"{line}\n{note}".strip()
        if application.form_id == child_allowance.FORM_ID and not self._tax_checked(
            member.lg_code, application.application_id
        ):
            raise LocalTaxNotChecked("look up the claimant's local tax before the approval")
        return note

    def _tax_checked(self, lg_code: str, application_id: str) -> bool:
        """Whether a local-tax lookup for the application is in the staff log (done)."""
        with self.backoffice.store.transaction() as s:
            found = s.execute(
                select(staff_log.c.entry_id)
                .where(
                    staff_log.c.lg_code == lg_code,
                    staff_log.c.action == LOCAL_TAX_ACTION,
                    staff_log.c.subject == application_id[:32],
                    staff_log.c.outcome.in_(("done", LevyingHere.code)),
                )
                .limit(1)
            ).first()
        return found is not None

    def _notify(self, application: Application) -> Decided:
        """The decision's notice, made from the decision as recorded (a retry: the same)."""
        history = self.office.history(application.lg_code, application.application_id)
        decision = next(c for c in reversed(history) if c.status.decided)
        service = self.eapply.catalogue.service(application.service_id)
        title, body = decision_notice(application, service, decision)
        posted = self.notices.post_to_account(
            municipality_agency_id(application.lg_code),
            application.account_id,
            title=title,
            body=body,
            category=_category(application.form_id),
            idempotency_key=f"decision-{application.application_id}",
            link=f"/applications/{application.application_id}",
        )
        return Decided(application, posted.notice_id, posted.created)

    # --- the child allowance: the claimant's local tax over the network --------------------

    def lookup_local_tax(
        self, session: PortalSession, lg_code: str, application_id: str
    ) -> TaxLookup:
        """A child-allowance claimant's local tax from the municipality of 1 January.

        The number on the signed claim finds the claimant in this municipality's registry,
        which says where they moved in from; that municipality's node answers B's node
        through the hub (recorded there). ``LOCAL_TAX_LEVIED_HERE`` if they lived here.
        """
        member = self.backoffice.require(session, lg_code, Permission.DECIDE_APPLICATIONS)
        found: list[str] = []

        def step() -> TaxLookup:
            application = self.office.get(lg_code, application_id)
            if application.form_id != child_allowance.FORM_ID:
                raise InvalidInput("only a child-allowance claim looks up local tax")
            if self.local_tax is None:
                raise InvalidInput("this installation has no network to ask")
            claimant = application.answers().get("claimant")
            number = claimant.get("individual_number") if isinstance(claimant, dict) else None
            if not isinstance(number, str):
                raise InvalidInput("the claim states no individual number")
            from_lg_code = self._levied_at(lg_code, number)
            fetched = self.local_tax.fetch(
                individual_number=number, at_lg_code=lg_code, from_lg_code=from_lg_code
            )
            found.append(fetched.exchange_id)
            today = self.clock.today()
            month = child_allowance.allowance_month(today)
            tax = fetched.local_tax
            limit = child_allowance.income_limit(month, tax.dependants.total if tax else 0)
            return TaxLookup(
                fetched=fetched,
                from_lg_code=from_lg_code,
                from_name=municipality_name(from_lg_code),
                fiscal_year=tax.fiscal_year if tax else child_allowance.fiscal_year_on(today),
                limit=limit,
                assessment=limit.assess(tax.total_income) if tax else "no_data",
                masked_number=mask_individual_number(number),
            )

        return self.backoffice.recorded(
            member,
            LOCAL_TAX_ACTION,
            step,
            subject_kind=SUBJECT,
            subject=application_id[:32],
            described=lambda t: f"exchange {t.fetched.exchange_id} from {t.from_lg_code}",
        )

    def _levied_at(self, lg_code: str, individual_number: str) -> str:
        """The municipality that levied the latest resident tax on the claimant (not here)."""
        registries = self.backoffice.registries()
        try:
            entry = registries.index.by_individual_number(individual_number)
        except OpenMynaError:
            raise ClaimantNotResident("the claimant is not a resident here") from None
        if entry.lg_code != lg_code:
            raise ClaimantNotResident("the claimant is not a resident here")
        record = registries.municipality(lg_code).get(entry.resident_code)
        year = child_allowance.fiscal_year_on(self.clock.today())
        if record.moved_in_from_lg_code and record.resident_since > dt.date(year, 1, 1):
            return record.moved_in_from_lg_code
        raise LevyingHere("the claimant lived here on 1 January: the tax records are here")


def _attachments(drafts: Drafts, application_id: str) -> list[AttachmentInfo]:
    return list(drafts.attachments(application_id))


def _category(form_id: str) -> str:
    return {
        child_allowance.FORM_ID: "childcare",
        disaster.FORM_ID: "disaster",
    }.get(form_id, "application")


def decision_notice(
    application: Application, service: Service, decision: StatusChange
) -> tuple[str, str]:
    """The notice of a decision: its title and body (Japanese, then English)."""
    form = service.form
    title_ja = form.title.of("ja")
    where = f"{service.municipality.full_name} {form.receiver.department.of('ja')}"
    approved = decision.status is ApplicationStatus.APPROVED
    verdict_ja = "決定（承認）" if approved else "却下"
    verdict_en = "approved" if approved else "rejected"
    lines = [
        f"{title_ja}（受付番号 {application.reference}）について、{verdict_ja}しました。"
        if approved
        else f"{title_ja}（受付番号 {application.reference}）は、却下となりました。",
    ]
    grade = disaster.grade_in(decision.reason) if application.form_id == disaster.FORM_ID else None
    if grade is not None:
        lines.append(f"罹災証明書に記載する住家の被害の程度：{grade.name}（{grade.share}）")
    if decision.reason and (grade is None or not approved):
        label = "理由" if not approved else "備考"
        lines.append(f"{label}：{decision.reason}")
    lines.append(f"申請先：{where}")
    lines.append("")
    lines.append(
        f"Your application '{form.title.of('en')}' (reference {application.reference}) "
        f"was {verdict_en}."
    )
    if grade is not None:
        english = translations("en")
        lines.append(
            "The certificate states the damage to the home as: "
            f"{english.gettext(grade.name)} ({english.gettext(grade.share)})."
        )
    title = f"{'決定' if approved else '却下'}のお知らせ：{title_ja}"
    return title[:100], "\n".join(lines)
