"""The moving one-stop (引越しワンストップ) as one object: both municipalities and the person.

The flow (issue 10 §3):

1. The person sends the online move-out notice (転出届, 住民基本台帳法 第24条), signed with the
   signature certificate, to the municipality they leave (A) through the e-applications
   (form ``move-out-notice``).
2. A's back office reviews the signed notice and records the planned move-out
   (``record_move_out``): the registry's move pair writes the move-out (``MovePair.move_out``
   with the planned date), which approves the application (``EApply.office``) and sends the
   applicant a notice (``Notices``). A notification needs no decision of its merits: it is
   made when it reaches the office in due form (行政手続法 第37条), so recording it is a
   clerk's registry step, not a supervisor's decision.
3. The registry's ``registry.moved_out`` event, naming the destination (B), reaches B over
   the bus: B now expects the move-in (転入予定, ``MoveBook.apply``).
4. The person books a counter visit at B (来庁予約: ``slots``, ``book``, ``cancel``).
5. At B's counter the back office finishes the move-in (``complete_move_in``) with the
   registry's move pair: a card holder who gave the notice this way needs no move-out
   certificate (転入届の特例, 住民基本台帳法 第24条の2), the card is what they show, and the
   card's update (券面記載事項変更, 番号法 第17条第4項) follows at the card counter.

Every staff step is checked against the staff register (``BackOffice.require``) for the
municipality concerned and is a row of the staff log with its outcome; a move of another
municipality is ``MOVE_NOT_FOUND`` (404), as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from openmyna.bus import Bus, Event, idempotent
from openmyna.card.counter import IdentityDocument
from openmyna.clock import Clock
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network.agencies import municipality_agency_id
from openmyna.portal.accounts import CertificateIssuer
from openmyna.portal.backoffice.errors import StaffRoleRequired
from openmyna.portal.backoffice.handles import HandleKind
from openmyna.portal.backoffice.service import (
    BackOffice,
    ResidentSummary,
    municipality_name,
    summary_of,
)
from openmyna.portal.backoffice.staff import Permission, StaffMember
from openmyna.portal.eapply.errors import ApplicationNotFound
from openmyna.portal.eapply.models import Application, ApplicationStatus, Outcome
from openmyna.portal.moving.book import MoveBook, NoticeRecord, PlannedMoveIn, Slot, Visit
from openmyna.portal.moving.errors import (
    MoveAlreadyCompleted,
    MoveNotFound,
    MoverNotFound,
    NotAMoveOutNotice,
    NoticeDecided,
    NotifierNotResident,
    SpecialMoveInNeedsCard,
)
from openmyna.portal.moving.hours import CounterHours, visit_window
from openmyna.portal.moving.tables import processed_events
from openmyna.portal.sessions import PortalSession
from openmyna.registry import MoveOutCertificate, MunicipalRegistry, Registries, Resident
from openmyna.store import Store

if TYPE_CHECKING:
    from openmyna.portal.eapply.service import EApply
    from openmyna.portal.notices import Notices

T = TypeVar("T")
FORM = "move-out-notice"
CONSUMER = "portal-moving"
SUBJECTS = ("registry.moved_out", "registry.moved_in")
#: Days of slots the booking page lists at most.
DAYS_SHOWN = 31


@dataclass(frozen=True)
class NoticeReview:
    """A move-out notice as A's back office reviews it."""

    application: Application
    member: StaffMember
    planned_on: dt.date
    to_lg_code: str
    to_name: str
    destination: str
    #: The signer's record at A (from the signature certificate's issuer record).
    resident: ResidentSummary | None
    record: NoticeRecord | None
    #: Each person the notice names as moving, and their record in the household (or None).
    movers: tuple[tuple[str, dt.date | None, ResidentSummary | None], ...] = ()


@dataclass(frozen=True)
class Arrival:
    """A planned move-in as B's back office finishes it."""

    move: PlannedMoveIn
    member: StaffMember
    from_name: str
    visit: Visit | None
    #: The origin's move-out certificate data (read through its registry, 住基ネット).
    certificate: MoveOutCertificate | None


@dataclass(frozen=True)
class MyMove:
    """One of the person's move-out notices, with where it stands."""

    application: Application
    record: NoticeRecord | None
    planned: PlannedMoveIn | None
    visit: Visit | None


class MovingOneStop:
    """引越しワンストップ: the notice at A, the planned move-in at B, the visit, the move-in."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        eapply: Callable[[], EApply],
        notices: Callable[[], Notices],
        backoffice: Callable[[], BackOffice],
        registries: Callable[[], Registries],
        issuer: CertificateIssuer,
        hours: CounterHours | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.book = MoveBook(store, clock)
        self.hours = hours or CounterHours.load()
        self._eapply = eapply
        self._notices = notices
        self._backoffice = backoffice
        self._registries = registries
        self._issuer = issuer
        self._apply = idempotent(store.transaction, processed_events, CONSUMER, self.book.apply)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    # --- the bus ---------------------------------------------------------------------------

    def subscribe(self, bus: Bus) -> None:
        """Follow the registries' moves as the durable consumer ``portal-moving``."""
        bus.subscribe(CONSUMER, list(SUBJECTS), self.handle)

    def handle(self, event: Event) -> None:
        """Bus handler: apply one registry event at most once."""
        self._apply(event)

    # --- the staff's check and log -----------------------------------------------------------

    def _grants(self, session: PortalSession) -> list[StaffMember]:
        """The municipalities the person works for; refused if none (not staff at all)."""
        grants = self._backoffice().grants(session)
        if not grants:
            raise StaffRoleRequired("the moving one-stop's pages are for municipality staff")
        return grants

    def _grant(
        self, session: PortalSession, lg_codes: Sequence[str], permission: Permission
    ) -> StaffMember | None:
        """The session's grant at the first of ``lg_codes`` it works for (None if none)."""
        office = self._backoffice()
        held = {g.lg_code for g in self._grants(session)}
        for code in lg_codes:
            if code in held:
                return office.require(session, code, permission)
        return None

    def _logged(
        self,
        member: StaffMember,
        action: str,
        step: Callable[[], T],
        *,
        subject_kind: str | None,
        subject: str | None,
        detail: str = "",
    ) -> T:
        office = self._backoffice()
        try:
            result = step()
        except OpenMynaError as exc:
            office.staff.log(
                member.lg_code,
                member.account_id,
                member.name,
                action,
                subject_kind=subject_kind,
                subject=subject,
                detail=detail,
                outcome=exc.code,
            )
            raise
        office.staff.log(
            member.lg_code,
            member.account_id,
            member.name,
            action,
            subject_kind=subject_kind,
            subject=subject,
            detail=detail,
        )
        return result

    # --- A: the notice -------------------------------------------------------------------------

    def _application(
        self, session: PortalSession, application_id: str
    ) -> tuple[StaffMember, Application]:
        """The notice and the staff member's grant at its municipality (else not found)."""
        eapply = self._eapply()
        office = self._backoffice()
        for grant in self._grants(session):
            try:
                app = eapply.office.get(grant.lg_code, application_id)
            except ApplicationNotFound:
                continue
            if app.form_id != FORM:
                raise NotAMoveOutNotice("that application is not a move-out notice")
            return office.require(session, grant.lg_code, Permission.READ_RESIDENTS), app
        raise MoveNotFound("no such move-out notice at a municipality you work for")

    def _signer(self, app: Application) -> str:
        """The resident-record code of the notice's signer (the issuer's record)."""
        return self._issuer.record(app.signer_serial).resident_code

    @staticmethod
    def _move_of(app: Application) -> tuple[dt.date, str, str]:
        move = app.answers().get("move")
        if not isinstance(move, dict):
            raise NotAMoveOutNotice("the notice has no move section")
        try:
            return (
                dt.date.fromisoformat(str(move["planned_on"])),
                str(move["destination"]),
                str(move["destination_address"]),
            )
        except (KeyError, ValueError):
            raise NotAMoveOutNotice("the notice's move section is incomplete") from None

    def review(self, session: PortalSession, application_id: str) -> NoticeReview:
        """A's view of a signed move-out notice: the answers, the signer's record, its state."""
        member, app = self._application(session, application_id)

        def step() -> NoticeReview:
            planned_on, to, destination = self._move_of(app)
            office = self._backoffice()
            code = self._signer(app)
            resident = None
            registry = self._registries().municipality(member.lg_code)
            try:
                r = registry.get(code)
            except OpenMynaError:
                r = None
            movers: list[tuple[str, dt.date | None, ResidentSummary | None]] = []
            if r is not None:
                handle = office.handles.issue(session.session_id, member.lg_code, code)
                resident = summary_of(handle, r)
                for name, born, found in self._movers(app, registry, r):
                    shown = None
                    if found is not None:
                        h = office.handles.issue(
                            session.session_id, member.lg_code, found.resident_code
                        )
                        shown = summary_of(h, found)
                    movers.append((name, born, shown))
            return NoticeReview(
                application=app,
                member=member,
                planned_on=planned_on,
                to_lg_code=to,
                to_name=municipality_name(to),
                destination=destination,
                resident=resident,
                record=self.book.notice(app.application_id),
                movers=tuple(movers),
            )

        return self._logged(
            member, "moving.notice.view", step, subject_kind="application", subject=app.reference
        )

    def record_move_out(self, session: PortalSession, application_id: str) -> NoticeRecord:
        """Record the notice's planned move-out in A's registry; approve it; tell the person.

        A repeat after success returns the record unchanged (one move-out, one notice); a
        repeat after a crash part-way finishes what is left.
        """
        member, app = self._application(session, application_id)
        member = self._backoffice().require(session, member.lg_code, Permission.REGISTRY_COUNTER)

        def step() -> NoticeRecord:
            found = self.book.notice(app.application_id)
            if found is not None and found.recorded:
                return found
            if app.status is ApplicationStatus.REJECTED or (
                app.status is ApplicationStatus.APPROVED and found is None
            ):
                raise NoticeDecided("the notice was decided without recording a move-out")
            planned_on, to, destination = self._move_of(app)
            if to == member.lg_code:
                raise InvalidInput("a move within the municipality is a 転居, not a 転出")
            code = self._signer(app)
            record = self.book.begin(
                NoticeRecord(
                    application_id=app.application_id,
                    account_id=app.account_id,
                    from_lg_code=member.lg_code,
                    to_lg_code=to,
                    resident_code=code,
                    planned_on=planned_on,
                ),
                member.actor,
            )
            self._write_move_out(member, app, record, destination)
            self._approve(member, app, record)
            return self.book.finish(app.application_id)

        return self._logged(
            member,
            "moving.move_out",
            step,
            subject_kind="application",
            subject=app.reference,
            detail="online move-out notice (住民基本台帳法 第24条)",
        )

    @staticmethod
    def _movers(
        app: Application, registry: MunicipalRegistry, notifier: Resident
    ) -> list[tuple[str, dt.date | None, Resident | None]]:
        """Each person the notice names as moving, matched in the notifier's household.

        A mover is the household member with the same name (spaces ignored) and date of
        birth; the notifier is one of them whether the notice lists them or not.
        """
        listed = app.answers().get("movers")
        household = registry.household(notifier.household_id).members if notifier.is_current else ()
        found: list[tuple[str, dt.date | None, Resident | None]] = []
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict):
                continue
            name = str(item.get("name", ""))
            try:
                born: dt.date | None = dt.date.fromisoformat(str(item.get("date_of_birth")))
            except ValueError:
                born = None
            key = "".join(name.split())
            match = next(
                (
                    m
                    for m in (notifier, *household)
                    if "".join(m.name.split()) == key and m.date_of_birth == born
                ),
                None,
            )
            found.append((name, born, match))
        return found

    def _write_move_out(
        self, member: StaffMember, app: Application, record: NoticeRecord, destination: str
    ) -> None:
        registry = self._registries().municipality(member.lg_code)
        try:
            notifier = registry.get(record.resident_code)
        except OpenMynaError:
            raise NotifierNotResident("the signer is not a resident here") from None
        codes = [record.resident_code]
        if notifier.is_current:
            for _, _, match in self._movers(app, registry, notifier):
                if match is None:
                    raise MoverNotFound("a person named as moving is not in the household")
                if match.resident_code not in codes:
                    codes.append(match.resident_code)
        elif not self._moved_as_noticed(registry, record, record.resident_code):
            raise NotifierNotResident("the signer is not a current resident here")
        for code in codes:
            if registry.get(code).is_current:
                registry.move_out(
                    code,
                    planned_on=record.planned_on,
                    destination=destination,
                    destination_lg_code=record.to_lg_code,
                    actor=member.actor,
                    reason=f"転出届 (online, 引越しワンストップ) {app.reference}",
                )

    @staticmethod
    def _moved_as_noticed(registry: MunicipalRegistry, record: NoticeRecord, code: str) -> bool:
        """Whether ``code`` left as the notice says (a retry after the registry wrote it)."""
        try:
            cert = registry.move_out_certificate(code)
        except OpenMynaError:
            return False
        same_place = cert.destination_lg_code == record.to_lg_code
        return same_place and cert.planned_on == record.planned_on

    def _approve(self, member: StaffMember, app: Application, record: NoticeRecord) -> None:
        office = self._eapply().office
        current = office.get(member.lg_code, app.application_id)
        if current.status is ApplicationStatus.SUBMITTED:
            current = office.receive(member.lg_code, app.application_id, actor=member.actor)
        if current.status is ApplicationStatus.RECEIVED:
            office.decide(
                member.lg_code,
                app.application_id,
                Outcome.APPROVED,
                actor=member.actor,
                reason="転出予定を住民基本台帳に記録しました",
            )
        to_name = municipality_name(record.to_lg_code)
        self._notices().post_to_account(
            municipality_agency_id(member.lg_code),
            app.account_id,
            title=f"転出届を受け付けました（{municipality_name(member.lg_code)}）",
            body=(
                f"受付番号 {app.reference} の転出届により、"
                f"転出予定日 {record.planned_on.isoformat()} の転出を記録しました。"
                f"転入先の{to_name}には転入予定をお知らせしています。\n"
                "マイナポータルの「引越し」から転入先の窓口の来庁予約ができます。"
                "転入の手続は、転出予定日から30日以内、かつ転入した日から14日以内に、"
                "マイナンバーカードを持って転入先の窓口でしてください（転出証明書は不要です）。"
            ),
            category="application",
            idempotency_key=f"moving-out-{app.application_id}",
            link=f"/applications/{app.application_id}",
        )

    # --- B: the planned move-ins and the move-in -------------------------------------------

    def expected(
        self, session: PortalSession
    ) -> list[tuple[StaffMember, list[tuple[PlannedMoveIn, Visit | None]]]]:
        """The planned move-ins each of the person's municipalities was told of, with visits."""
        office = self._backoffice()
        found = []
        for grant in self._grants(session):
            member = office.require(session, grant.lg_code, Permission.READ_RESIDENTS)

            def step(code: str = grant.lg_code) -> list[tuple[PlannedMoveIn, Visit | None]]:
                moves = self.book.expected_at(code)
                booked = self.book.visits_at(code, [m.move_id for m in moves], self.hours.of(code))
                return [(m, booked.get(m.move_id)) for m in moves]

            found.append(
                (
                    member,
                    self._logged(member, "moving.expected", step, subject_kind=None, subject=None),
                )
            )
        return found

    def waiting_notices(
        self, session: PortalSession
    ) -> list[tuple[StaffMember, list[Application]]]:
        """The move-out notices not yet decided at each of the person's municipalities."""
        office = self._backoffice()
        eapply = self._eapply()
        found = []
        for grant in self._grants(session):
            member = office.require(session, grant.lg_code, Permission.READ_RESIDENTS)
            waiting = eapply.office.inbox(
                grant.lg_code, status=[ApplicationStatus.SUBMITTED, ApplicationStatus.RECEIVED]
            )
            found.append((member, [a for a in waiting if a.form_id == FORM]))
        return found

    def _arrival_move(
        self, session: PortalSession, move_id: str, permission: Permission
    ) -> tuple[StaffMember, PlannedMoveIn]:
        self._grants(session)
        move = self.book.planned(move_id)
        member = self._grant(session, [move.to_lg_code] if move else [], permission)
        if move is None or member is None:
            raise MoveNotFound("no such planned move-in at a municipality you work for")
        return member, move

    def arrival(self, session: PortalSession, move_id: str) -> Arrival:
        """B's view of a planned move-in: who, from where, the visit, the certificate data."""
        member, move = self._arrival_move(session, move_id, Permission.READ_RESIDENTS)

        def step() -> Arrival:
            cert = None
            if not move.done:
                origin = self._registries().municipality(move.from_lg_code)
                cert = origin.move_out_certificate(move.resident_code)
            return Arrival(
                move=move,
                member=member,
                from_name=municipality_name(move.from_lg_code),
                visit=self.book.visit_of(move.move_id, self.hours.of(move.to_lg_code)),
                certificate=cert,
            )

        return self._logged(
            member, "moving.arrival.view", step, subject_kind="resident", subject=move.resident_code
        )

    def complete_move_in(
        self,
        session: PortalSession,
        move_id: str,
        *,
        on: dt.date,
        address: str,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Register the move-in at B with the registry's move pair (転入届の特例, 第24条の2).

        The person shows their card: the special move-in is the card holder's, and the card
        is updated at the card counter next.
        """
        member, move = self._arrival_move(session, move_id, Permission.REGISTRY_COUNTER)
        office = self._backoffice()
        if move.done:
            raise MoveAlreadyCompleted("the move-in is registered already")
        shown = set()
        for d in documents:
            try:
                shown.add(IdentityDocument.parse(d))
            except OpenMynaError:
                continue
        if IdentityDocument.MY_NUMBER_CARD not in shown:
            office.staff.log(
                member.lg_code,
                member.account_id,
                member.name,
                "moving.move_in",
                subject_kind="resident",
                subject=move.resident_code,
                outcome="SPECIAL_MOVE_IN_NEEDS_CARD",
            )
            raise SpecialMoveInNeedsCard("the special move-in is made with the card shown")
        handle = office.handles.issue(
            session.session_id,
            member.lg_code,
            move.resident_code,
            HandleKind.MOVE_IN,
            from_lg_code=move.from_lg_code,
        )
        return office.move_in(
            session, member.lg_code, handle, on=on, address=address, documents=documents
        )

    # --- the person -----------------------------------------------------------------------

    def my_moves(self, account_id: str) -> list[MyMove]:
        """The person's move-out notices, newest first, with the move-in and visit of each."""
        records = {r.application_id: r for r in self.book.notices_of(account_id)}
        found = []
        for app in self._eapply().applications.of_account(account_id):
            if app.form_id != FORM:
                continue
            record = records.get(app.application_id)
            planned = self.book.planned_for(record) if record and record.recorded else None
            visit = (
                self.book.visit_of(planned.move_id, self.hours.of(planned.to_lg_code))
                if planned
                else None
            )
            found.append(MyMove(app, record, planned, visit))
        return found

    def my_move(self, account_id: str, move_id: str) -> MyMove:
        """One of the person's planned move-ins (``MOVE_NOT_FOUND`` for another's)."""
        for m in self.my_moves(account_id):
            if m.planned is not None and m.planned.move_id == move_id:
                return m
        raise MoveNotFound("no such move of yours")

    def days(self, move: PlannedMoveIn) -> list[dt.date]:
        """The days the destination's counter is open within the visit window."""
        first, last = visit_window(move.planned_on, self.clock.today())
        hours = self.hours.of(move.to_lg_code)
        shown: list[dt.date] = []
        day = first
        while day <= last and len(shown) < DAYS_SHOWN:
            if hours.open_on(day):
                shown.append(day)
            day += dt.timedelta(days=1)
        return shown

    def slots(self, move: PlannedMoveIn, day: dt.date) -> list[Slot]:
        """A day's slots at the destination's counter (none outside the window)."""
        if day not in self.days(move):
            return []
        return self.book.slots(move.to_lg_code, day, self.hours.of(move.to_lg_code))

    def book_visit(self, account_id: str, move_id: str, starts_at: dt.datetime) -> Visit:
        """Book a visit at the destination's counter for one of the person's move-ins."""
        mine = self.my_move(account_id, move_id)
        assert mine.planned is not None
        return self.book.book(
            mine.planned, account_id, starts_at, self.hours.of(mine.planned.to_lg_code)
        )

    def cancel_visit(self, account_id: str, move_id: str) -> Visit | None:
        """Cancel the person's booked visit (None if none stood: a repeat changes nothing)."""
        mine = self.my_move(account_id, move_id)
        assert mine.planned is not None
        return self.book.cancel(move_id, self.hours.of(mine.planned.to_lg_code))
