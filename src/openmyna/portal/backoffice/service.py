"""The back office as one object: every step a member of staff takes, checked and recorded.

``Builder.backoffice()`` makes it. Each step takes the portal session of the person asking
and the municipality (``lg_code``) they act for, and begins with the staff register's check
(``StaffRegister.require``): the check is here, in the service, not only in the pages, so
every caller — the pages, the registry's API, a script — meets it. Each step is then a row
of the staff log with its outcome (``done`` or the refusal's code).

Residents are named by opaque per-session handles (``handles``); the registry's and the
card register's audit logs name the member by ``staff:<account id>`` (their name stays in
the staff register), and the identity documents seen are recorded with every counter step
(``openmyna.card.counter.CounterCheck``: one 区分A document or two 区分B). The registry's
notifications ask for them too: 住民基本台帳法 第27条第2項 has the municipality ask whoever
makes a notification for documents showing who they are (municipalities apply it to 転入,
転居 and 転出, e.g. 琴平町 「住民基本台帳法に基づく届出等に係る本人確認事項取扱要綱」); the
card counter's rule stands in for each municipality's own list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, TypeVar

from openmyna.card import CardLifecycle, PinRef
from openmyna.card.counter import CounterCheck, IdentityDocument
from openmyna.card.models import (
    ApplicationChannel,
    ApplicationStatus,
    CardApplication,
    CardRecord,
    CardUpdate,
)
from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.law import may_hold_sign_cert
from openmyna.numbers import mask_individual_number
from openmyna.portal.accounts import Account
from openmyna.portal.backoffice.cards import CounterCard, CounterCards
from openmyna.portal.backoffice.errors import NotResidentHere, NoValidCard
from openmyna.portal.backoffice.handles import Handle, HandleKind, Handles
from openmyna.portal.backoffice.staff import (
    LogEntry,
    Permission,
    Role,
    StaffMember,
    StaffRegister,
    checked_account_id,
)
from openmyna.portal.sessions import PortalSession
from openmyna.registry import (
    MoveOutCertificate,
    MunicipalRegistry,
    Registries,
    RemovalReason,
    Resident,
    Status,
    find_municipality,
    validate_lg_code,
)
from openmyna.store import Store

T = TypeVar("T")
#: Search results shown at most.
SEARCH_LIMIT = 50


class AccountDirectory(Protocol):
    """The portal's accounts, as the back office asks about them."""

    def get(self, account_id: str) -> Account:
        """An account by id (``PORTAL_ACCOUNT_NOT_FOUND`` if none)."""
        ...


@dataclass(frozen=True)
class ResidentSummary:
    """What the back office's pages show of a record: never the full individual number."""

    handle: str
    name: str
    kana: str
    former_surname: str | None
    date_of_birth: dt.date
    sex: str
    address: str
    relationship: str
    current: bool
    masked_number: str
    resident_since: dt.date
    address_since: dt.date
    removed_on: dt.date | None
    removal_reason: str | None
    destination: str | None
    #: A removed record of a move-out from here (its certificate can be handed out).
    moved_out: bool

    def __repr__(self) -> str:
        return "ResidentSummary(…)"


def summary_of(handle: str, r: Resident) -> ResidentSummary:
    """The page's view of a resident record."""
    return ResidentSummary(
        handle=handle,
        name=r.name,
        kana=r.name_kana,
        former_surname=r.former_surname,
        date_of_birth=r.date_of_birth,
        sex=r.sex.ja,
        address=r.address,
        relationship=r.relationship.value,
        current=r.is_current,
        masked_number=mask_individual_number(r.individual_number),
        resident_since=r.resident_since,
        address_since=r.address_since,
        removed_on=r.removed_on,
        removal_reason=r.removal_reason.ja if r.removal_reason else None,
        destination=r.destination,
        moved_out=r.removal_reason is RemovalReason.MOVED_OUT,
    )


@dataclass(frozen=True)
class ResidentFile:
    """A resident's page: the record, their card and applications, the card at the counter."""

    resident: ResidentSummary
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    card: CardRecord | None
    pending: tuple[CardApplication, ...]
    #: The resident's card file, if one of the counter's folders holds it.
    card_file: CounterCard | None
    #: Whether the holder may hold a signature certificate (15 or older today).
    may_sign: bool


@dataclass(frozen=True)
class MoveInFile:
    """A move-out certificate (転出証明書) of another municipality, to be moved in here."""

    handle: str
    from_lg_code: str
    from_name: str
    name: str
    kana: str
    date_of_birth: dt.date
    sex: str
    address: str
    planned_on: dt.date
    destination: str | None
    masked_number: str
    #: Where the person moved in already, if the move is complete.
    moved_in_at: str | None


@dataclass(frozen=True)
class HandedOver:
    """A card issued at the counter and written to the counter's folder."""

    record: CardRecord
    card_file: CounterCard


@dataclass(frozen=True)
class MoveOutSlip:
    """A removed record's move-out certificate (転出証明書), as the counter hands it out."""

    certificate: MoveInFile
    #: The resident-record code: the certificate carries it to the destination's counter.
    resident_code: str

    def __repr__(self) -> str:
        return "MoveOutSlip(…)"


def municipality_name(lg_code: str) -> str:
    """``群馬県前橋市`` for ``102016``."""
    return find_municipality(lg_code).full_name


class BackOffice:
    """The back office's state and steps (staff register, log, handles, counter cards)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        *,
        registries: Callable[[], Registries],
        cards: Callable[[], CardLifecycle],
        accounts: AccountDirectory,
        counter_cards: CounterCards | None = None,
    ) -> None:
        """``registries`` and ``cards`` are factories (the CLI's staff commands need neither)."""
        self.store = store
        self.clock = clock
        self.settings = settings
        self.staff = StaffRegister(store, clock)
        self.handles = Handles(store, clock, max_age=settings.portal.session_absolute)
        self.accounts = accounts
        self.counter_cards = counter_cards or CounterCards(settings)
        self._registries = registries
        self._cards = cards

    def close(self) -> None:
        """Release the back office's database connections."""
        self.store.close()

    def __enter__(self) -> BackOffice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the check and the record around every step ----------------------------------------

    def require(self, session: PortalSession, lg_code: str, permission: Permission) -> StaffMember:
        """The session's grant at ``lg_code`` if it allows ``permission`` (else refused, logged).

        The one check every step makes; later parts (the e-applications' decisions) call it
        with ``Permission.DECIDE_APPLICATIONS``.
        """
        validate_lg_code(lg_code)
        return self.staff.require(session.account_id, lg_code, permission)

    def _done(
        self,
        member: StaffMember,
        action: str,
        step: Callable[[], T],
        *,
        subject_kind: str | None = "resident",
        subject: str | None = None,
        detail: str = "",
        described: Callable[[T], str] | None = None,
    ) -> T:
        """Run ``step`` and log it with its outcome, refused or done.

        ``described`` adds what the result was to the detail (how many were found).
        """
        try:
            result = step()
        except OpenMynaError as exc:
            self.staff.log(
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
        self.staff.log(
            member.lg_code,
            member.account_id,
            member.name,
            action,
            subject_kind=subject_kind,
            subject=subject,
            detail=f"{detail}{described(result)}" if described is not None else detail,
        )
        return result

    def recorded(
        self,
        member: StaffMember,
        action: str,
        step: Callable[[], T],
        *,
        subject_kind: str | None = None,
        subject: str | None = None,
        detail: str = "",
        described: Callable[[T], str] | None = None,
    ) -> T:
        """Run another part's step for ``member`` and log it with its outcome (the
        e-applications' desk, ``backoffice.applications``)."""
        return self._done(
            member,
            action,
            step,
            subject_kind=subject_kind,
            subject=subject,
            detail=detail,
            described=described,
        )

    def registries(self) -> Registries:
        """The registries (and the identity index) the back office reads."""
        return self._registries()

    def _registry(self, lg_code: str) -> MunicipalRegistry:
        return self._registries().municipality(lg_code)

    def _resident(
        self, session: PortalSession, member: StaffMember, handle: str
    ) -> tuple[Handle, Resident]:
        found = self.handles.resolve(
            session.session_id, member.lg_code, handle, HandleKind.RESIDENT
        )
        return found, self._registry(member.lg_code).get(found.resident_code)

    @staticmethod
    def _documents(member: StaffMember, documents: Sequence[str]) -> CounterCheck:
        return CounterCheck.of(member.actor, list(documents))

    # --- home --------------------------------------------------------------------------------

    def grants(self, session: PortalSession) -> list[StaffMember]:
        """The municipalities the person works for, with their role at each."""
        return self.staff.grants_of(session.account_id)

    def is_staff(self, account_id: str) -> bool:
        """Whether an account holds a role anywhere (for the menu)."""
        return self.staff.is_staff(account_id)

    # --- residents ---------------------------------------------------------------------------

    def search(
        self,
        session: PortalSession,
        lg_code: str,
        *,
        name: str = "",
        kana: str = "",
        date_of_birth: dt.date | None = None,
        include_removed: bool = False,
    ) -> list[ResidentSummary]:
        """Residents by part of the name or kana, and the date of birth (handles, masked)."""
        member = self.require(session, lg_code, Permission.READ_RESIDENTS)

        def step() -> list[ResidentSummary]:
            if not "".join(name.split()) and not "".join(kana.split()):
                raise InvalidInput("give part of the name or of the kana")
            found = self._registry(lg_code).find(
                name=name[:100],
                kana=kana[:100],
                date_of_birth=date_of_birth,
                status=None if include_removed else Status.CURRENT,
                limit=SEARCH_LIMIT,
            )
            return [
                summary_of(self.handles.issue(session.session_id, lg_code, r.resident_code), r)
                for r in found
            ]

        return self._done(
            member,
            "resident.search",
            step,
            subject_kind=None,
            detail="with date of birth; " if date_of_birth else "",
            described=lambda found: f"{len(found)} found",
        )

    def resident(self, session: PortalSession, lg_code: str, handle: str) -> ResidentFile:
        """A resident's page: their record, card, pending applications, card at the counter."""
        member = self.require(session, lg_code, Permission.READ_RESIDENTS)
        found, r = self._resident(session, member, handle)

        def step() -> ResidentFile:
            cards = self._cards()
            card = cards.valid_card(r.resident_code)
            pending = tuple(
                a
                for a in cards.applications(r.resident_code)
                if a.status is ApplicationStatus.PENDING and a.lg_code == lg_code
            )
            return ResidentFile(
                resident=summary_of(found.handle, r),
                family_name=r.family_name,
                given_name=r.given_name,
                family_name_kana=r.family_name_kana,
                given_name_kana=r.given_name_kana,
                card=card,
                pending=pending,
                card_file=self.counter_cards.find(card.card_id) if card is not None else None,
                may_sign=may_hold_sign_cert(r.date_of_birth, self.clock.today()),
            )

        return self._done(member, "resident.view", step, subject=r.resident_code)

    def pending_applications(
        self, session: PortalSession, lg_code: str
    ) -> list[tuple[ResidentSummary, CardApplication]]:
        """The municipality's card applications waiting for issuance, oldest first."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)

        def step() -> list[tuple[ResidentSummary, CardApplication]]:
            registry = self._registry(lg_code)
            waiting = [
                a
                for a in self._cards().applications()
                if a.status is ApplicationStatus.PENDING and a.lg_code == lg_code
            ]
            rows = []
            for a in waiting[:SEARCH_LIMIT]:
                r = registry.get(a.resident_code)
                handle = self.handles.issue(session.session_id, lg_code, r.resident_code)
                rows.append((summary_of(handle, r), a))
            return rows

        return self._done(member, "card.applications", step, subject_kind=None)

    # --- the registry's counter (転居, 転出, 転入, 氏名の変更, 死亡) -----------------------------

    def move_within(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        on: dt.date,
        address: str,
        whole_household: bool,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Register a move within the municipality (転居届, 住民基本台帳法 第23条)."""
        member = self.require(session, lg_code, Permission.REGISTRY_COUNTER)
        found, r = self._resident(session, member, handle)

        def step() -> ResidentSummary:
            check = self._documents(member, documents)
            moved = self._registry(lg_code).move_within(
                r.resident_code,
                on=on,
                address=address,
                whole_household=whole_household,
                actor=member.actor,
                reason=f"転居届 (back office); {check.identity_check}",
            )
            return summary_of(found.handle, moved)

        detail = "whole household" if whole_household else "alone"
        return self._done(
            member,
            "registry.move_within",
            step,
            subject=r.resident_code,
            detail=f"{detail}; {_seen(documents)}",
        )

    def move_out(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        planned_on: dt.date,
        destination: str,
        destination_lg_code: str | None,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Register a move-out to another municipality (転出届, 住民基本台帳法 第24条)."""
        member = self.require(session, lg_code, Permission.REGISTRY_COUNTER)
        found, r = self._resident(session, member, handle)

        def step() -> ResidentSummary:
            check = self._documents(member, documents)
            registry = self._registry(lg_code)
            registry.move_out(
                r.resident_code,
                planned_on=planned_on,
                destination=destination,
                destination_lg_code=destination_lg_code or None,
                actor=member.actor,
                reason=f"転出届 (back office); {check.identity_check}",
            )
            return summary_of(found.handle, registry.get(r.resident_code))

        return self._done(
            member,
            "registry.move_out",
            step,
            subject=r.resident_code,
            detail=f"to {destination_lg_code or 'unnamed'}; {_seen(documents)}",
        )

    def move_out_of(self, session: PortalSession, lg_code: str, handle: str) -> MoveOutSlip:
        """The move-out certificate of a resident who moved out from here (to hand out)."""
        member = self.require(session, lg_code, Permission.READ_RESIDENTS)
        found, r = self._resident(session, member, handle)
        cert = self._registry(lg_code).move_out_certificate(r.resident_code)
        return MoveOutSlip(_move_in_file(found.handle, cert), r.resident_code)

    def move_in_certificate(
        self, session: PortalSession, lg_code: str, *, from_lg_code: str, resident_code: str
    ) -> MoveInFile:
        """Read a move-out certificate from the origin's registry, as 住基ネット carries it."""
        member = self.require(session, lg_code, Permission.REGISTRY_COUNTER)

        def step() -> MoveInFile:
            validate_lg_code(from_lg_code)
            if from_lg_code == lg_code:
                raise InvalidInput("a move within the municipality is a 転居, not a 転入")
            cert = self._registry(from_lg_code).move_out_certificate(resident_code)
            handle = self.handles.issue(
                session.session_id,
                lg_code,
                cert.resident_code,
                HandleKind.MOVE_IN,
                from_lg_code=from_lg_code,
            )
            return _move_in_file(handle, cert)

        return self._done(
            member,
            "registry.move_in.read",
            step,
            subject=resident_code[:11],
            detail=f"from {from_lg_code[:6]}",
        )

    def move_in_file(self, session: PortalSession, lg_code: str, handle: str) -> MoveInFile:
        """The certificate behind a move-in handle (the move-in form)."""
        self.require(session, lg_code, Permission.REGISTRY_COUNTER)
        found = self.handles.resolve(session.session_id, lg_code, handle, HandleKind.MOVE_IN)
        assert found.from_lg_code is not None
        cert = self._registry(found.from_lg_code).move_out_certificate(found.resident_code)
        return _move_in_file(handle, cert)

    def move_in(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        on: dt.date,
        address: str,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Register a move-in (転入届, 住民基本台帳法 第22条) with the origin's move-out."""
        member = self.require(session, lg_code, Permission.REGISTRY_COUNTER)
        found = self.handles.resolve(session.session_id, lg_code, handle, HandleKind.MOVE_IN)
        assert found.from_lg_code is not None
        from_lg_code = found.from_lg_code

        def step() -> ResidentSummary:
            check = self._documents(member, documents)
            r = self._registry(lg_code).move_in(
                found.resident_code,
                from_lg_code=from_lg_code,
                on=on,
                address=address,
                actor=member.actor,
                reason=f"転入届 (back office); {check.identity_check}",
            )
            here = self.handles.issue(session.session_id, lg_code, r.resident_code)
            return summary_of(here, r)

        return self._done(
            member,
            "registry.move_in",
            step,
            subject=found.resident_code,
            detail=f"from {from_lg_code}; {_seen(documents)}",
        )

    def change_name(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        on: dt.date,
        family_name: str,
        given_name: str,
        family_name_kana: str,
        given_name_kana: str,
        keep_former_surname: bool,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Register a change of name (氏名の変更); only the parts that changed are sent."""
        member = self.require(session, lg_code, Permission.REGISTRY_COUNTER)
        found, r = self._resident(session, member, handle)
        family = (family_name.strip(), family_name_kana.strip())
        given = (given_name.strip(), given_name_kana.strip())
        family_changed = family != (r.family_name, r.family_name_kana)
        given_changed = given != (r.given_name, r.given_name_kana)

        def step() -> ResidentSummary:
            check = self._documents(member, documents)
            renamed = self._registry(lg_code).change_name(
                r.resident_code,
                on=on,
                family_name=family[0] if family_changed else None,
                family_name_kana=family[1] if family_changed else None,
                given_name=given[0] if given_changed else None,
                given_name_kana=given[1] if given_changed else None,
                keep_former_surname=keep_former_surname,
                actor=member.actor,
                reason=f"氏名の変更 (back office); {check.identity_check}",
            )
            return summary_of(found.handle, renamed)

        parts = [
            p for p, changed in (("family", family_changed), ("given", given_changed)) if changed
        ]
        return self._done(
            member,
            "registry.change_name",
            step,
            subject=r.resident_code,
            detail=f"{' and '.join(parts) or 'no'} name; {_seen(documents)}",
        )

    def record_death(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        on: dt.date,
        documents: Sequence[str],
    ) -> ResidentSummary:
        """Record a death (死亡): a supervisor's step; the documents are the notifier's."""
        member = self.require(session, lg_code, Permission.RECORD_DEATH)
        found, r = self._resident(session, member, handle)

        def step() -> ResidentSummary:
            check = self._documents(member, documents)
            removed = self._registry(lg_code).record_death(
                r.resident_code,
                on=on,
                actor=member.actor,
                reason=f"死亡届 (back office); notifier's {check.identity_check}",
            )
            return summary_of(found.handle, removed)

        return self._done(
            member, "registry.death", step, subject=r.resident_code, detail=_seen(documents)
        )

    # --- the card counter --------------------------------------------------------------------

    @staticmethod
    def _current_here(r: Resident) -> None:
        # The handle names a record of this municipality's registry: current means here.
        if not r.is_current:
            raise NotResidentHere("the person is not a current resident of this municipality")

    def _valid_card(self, r: Resident) -> CardRecord:
        card = self._cards().valid_card(r.resident_code)
        if card is None:
            raise NoValidCard("the resident holds no valid card")
        return card

    def apply_card(self, session: PortalSession, lg_code: str, handle: str) -> CardApplication:
        """Take a card application at the counter (交付申請)."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardApplication:
            self._current_here(r)
            return self._cards().apply(
                r.resident_code,
                channel=ApplicationChannel.COUNTER,
                actor=member.actor,
                reason="card application at the counter (back office)",
            )

        return self._done(member, "card.apply", step, subject=r.resident_code)

    def issue_card(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        auth_pin: str,
        sign_password: str | None,
        documents: Sequence[str],
    ) -> HandedOver:
        """Issue the card of a pending application and hand it over (交付)."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> HandedOver:
            check = self._documents(member, documents)
            self._current_here(r)
            cards = self._cards()
            pending = [
                a
                for a in cards.applications(r.resident_code)
                if a.status is ApplicationStatus.PENDING and a.lg_code == lg_code
            ]
            if not pending:
                raise NoValidCard("no card application of this municipality is waiting")
            issued = cards.issue(
                r.resident_code,
                auth_pin=auth_pin,
                sign_password=sign_password,
                identity_check=check.identity_check,
                application_id=pending[0].application_id,
                actor=member.actor,
                reason="card issuance at the counter (back office)",
            )
            return HandedOver(issued.record, self.counter_cards.hand_over(issued.card))

        return self._done(
            member, "card.issue", step, subject=r.resident_code, detail=_seen(documents)
        )

    def update_card(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        card_file: str,
        holder_pin: str,
        sign_password: str | None,
        documents: Sequence[str],
    ) -> CardUpdate:
        """Update the holder's card after a move or a new name (券面記載事項変更)."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardUpdate:
            check = self._documents(member, documents)
            self._current_here(r)
            card = self._valid_card(r)
            with self.counter_cards.holders(card_file, card.card_id) as f:
                return self._cards().update_card_data(
                    f.card,
                    f.surface,
                    holder_pin=holder_pin,
                    sign_password=sign_password,
                    identity_check=check.identity_check,
                    actor=member.actor,
                )

        new_cert = "new signature certificate" if sign_password else "no signature certificate"
        return self._done(
            member,
            "card.update",
            step,
            subject=r.resident_code,
            detail=f"{new_cert}; {_seen(documents)}",
        )

    def reset_pin(
        self,
        session: PortalSession,
        lg_code: str,
        handle: str,
        *,
        card_file: str,
        pin: str,
        new_value: str,
        documents: Sequence[str],
    ) -> CardRecord:
        """Reset a locked or forgotten PIN at the counter (暗証番号の初期化)."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardRecord:
            which = PinRef.parse(pin)
            check = self._documents(member, documents)
            self._current_here(r)
            card = self._valid_card(r)
            with self.counter_cards.holders(card_file, card.card_id) as f:
                self._cards().unlock_pin(
                    f.card,
                    which,
                    identity_check=check.identity_check,
                    new_value=new_value,
                    actor=member.actor,
                    reason="PIN reset at the counter (back office)",
                )
            return card

        return self._done(
            member,
            "card.pin_reset",
            step,
            subject=r.resident_code,
            detail=f"{pin if pin in ('auth', 'sign', 'text') else '?'} PIN; {_seen(documents)}",
        )

    def suspend_card(self, session: PortalSession, lg_code: str, handle: str) -> CardRecord:
        """Suspend the resident's card on a loss report (一時停止); no documents needed."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardRecord:
            self._current_here(r)
            card = self._valid_card(r)
            return self._cards().report_lost(
                card.card_id, actor=member.actor, reason="loss reported at the counter"
            )

        return self._done(member, "card.suspend", step, subject=r.resident_code)

    def lift_suspension(
        self, session: PortalSession, lg_code: str, handle: str, *, documents: Sequence[str]
    ) -> CardRecord:
        """Lift the suspension of a card found again (一時停止の解除), with the holder present."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardRecord:
            check = self._documents(member, documents)
            self._current_here(r)
            card = self._valid_card(r)
            return self._cards().report_found(
                card.card_id, actor=member.actor, reason=f"found again; {check.identity_check}"
            )

        return self._done(
            member, "card.lift_suspension", step, subject=r.resident_code, detail=_seen(documents)
        )

    def return_card(
        self, session: PortalSession, lg_code: str, handle: str, *, documents: Sequence[str]
    ) -> CardRecord:
        """Take the card back (返納): it and its certificates end."""
        member = self.require(session, lg_code, Permission.CARD_COUNTER)
        _, r = self._resident(session, member, handle)

        def step() -> CardRecord:
            check = self._documents(member, documents)
            self._current_here(r)
            card = self._valid_card(r)
            return self._cards().return_card(
                card.card_id,
                actor=member.actor,
                reason=f"returned at the counter; {check.identity_check}",
            )

        return self._done(
            member, "card.return", step, subject=r.resident_code, detail=_seen(documents)
        )

    # --- the staff register ------------------------------------------------------------------

    def members(self, session: PortalSession, lg_code: str) -> list[StaffMember]:
        """The municipality's staff (an administrator's page)."""
        member = self.require(session, lg_code, Permission.MANAGE_STAFF)
        return self._done(
            member, "staff.list", lambda: self.staff.members(lg_code), subject_kind=None
        )

    def grant(
        self, session: PortalSession, lg_code: str, *, account_id: str, role: str, name: str
    ) -> StaffMember:
        """An administrator gives a portal account a role at their municipality."""
        member = self.require(session, lg_code, Permission.MANAGE_STAFF)

        def step() -> StaffMember:
            chosen = Role.parse(role)
            target = self.accounts.get(checked_account_id(account_id)).account_id
            return self.staff.grant(lg_code, target, chosen, name, by=member)

        return self._logged_on_failure(member, "staff.grant", step, account_id)

    def revoke(self, session: PortalSession, lg_code: str, *, account_id: str) -> StaffMember:
        """An administrator ends a role at their municipality."""
        member = self.require(session, lg_code, Permission.MANAGE_STAFF)
        return self._logged_on_failure(
            member,
            "staff.revoke",
            lambda: self.staff.revoke(lg_code, account_id, by=member),
            account_id,
        )

    def _logged_on_failure(
        self, member: StaffMember, action: str, step: Callable[[], T], subject: str
    ) -> T:
        # The register logs a grant or a revocation in the same transaction as the change.
        try:
            return step()
        except OpenMynaError as exc:
            self.staff.log(
                member.lg_code,
                member.account_id,
                member.name,
                action,
                subject_kind="staff",
                subject=subject[:40],
                outcome=exc.code,
            )
            raise

    def log(self, session: PortalSession, lg_code: str, *, limit: int = 200) -> list[LogEntry]:
        """The municipality's staff log, newest first (an administrator's page)."""
        member = self.require(session, lg_code, Permission.VIEW_STAFF_LOG)
        return self._done(
            member, "staff.log", lambda: self.staff.entries(lg_code, limit=limit), subject_kind=None
        )


def _seen(documents: Sequence[str]) -> str:
    """The documents for the staff log: their names from the list, never free text."""

    def name(text: str) -> str:
        try:
            return IdentityDocument.parse(text).value
        except OpenMynaError:
            return "?"

    shown = "、".join(name(d) for d in documents if d.strip())
    return f"documents: {shown or 'none'}"


def _move_in_file(handle: str, cert: MoveOutCertificate) -> MoveInFile:
    return MoveInFile(
        handle=handle,
        from_lg_code=cert.from_lg_code,
        from_name=municipality_name(cert.from_lg_code),
        name=f"{cert.family_name} {cert.given_name}",
        kana=f"{cert.family_name_kana} {cert.given_name_kana}",
        date_of_birth=cert.date_of_birth,
        sex=cert.sex.ja,
        address=cert.address,
        planned_on=cert.planned_on,
        destination=cert.destination,
        masked_number=mask_individual_number(cert.individual_number),
        moved_in_at=cert.moved_in_at_lg_code,
    )
