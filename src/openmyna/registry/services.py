"""One municipality's basic resident registry (住民基本台帳): the service callers use.

``MunicipalRegistry`` holds one registry's collaborators and delegates to them:
``ResidentRecords`` (records.py: rows and read queries), ``Households`` (households.py:
placement), ``RemovedRecords`` (removed.py: 除票), ``LifeEvents`` (life_events.py: births,
arrivals, moves within, name changes, deaths, moving abroad) and ``MovePair`` (moves.py: the
move between two municipalities). It owns the after-commit hook the facade relays and pumps in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from openmyna.clock import Clock
from openmyna.registry.bulk import register_households
from openmyna.registry.households import Households
from openmyna.registry.life_events import LifeEvents
from openmyna.registry.models import (
    AuditEntry,
    BulkResult,
    Household,
    HouseholdLike,
    MoveOutCertificate,
    NewPerson,
    NumberIssuer,
    PersonLike,
    Relationship,
    RemovedRecordCertificate,
    Resident,
    Status,
)
from openmyna.registry.moves import MovePair
from openmyna.registry.municipalities import Municipality
from openmyna.registry.records import ResidentRecords
from openmyna.registry.removed import RemovedRecords
from openmyna.store import Store

if TYPE_CHECKING:
    from openmyna.registry.index import IdentityIndex


class MunicipalRegistry:
    """The resident registry of one municipality, on its own database (body = lg_code)."""

    def __init__(
        self,
        store: Store,
        municipality: Municipality,
        clock: Clock,
        *,
        numbers: Callable[[], NumberIssuer],
        peers: Callable[[str], MunicipalRegistry] | None = None,
        index: IdentityIndex | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.municipality = municipality
        self.lg_code = municipality.lg_code
        self._clock = clock
        self._numbers = numbers
        self._after_commit = after_commit
        self._records = ResidentRecords(store, self.lg_code, clock)
        households = Households(self.lg_code, clock)
        self._removed = RemovedRecords(municipality, clock, self._records, households)
        self._events = LifeEvents(
            clock,
            self._records,
            households,
            self._removed,
            numbers=numbers,
            index=index,
            committed=self._committed,
        )
        self._moves = MovePair(
            clock,
            self._records,
            households,
            self._removed,
            peers=peers,
            committed=self._committed,
        )

    def set_after_commit(self, hook: Callable[[], None] | None) -> None:
        """Run ``hook`` after each committed event (the facade relays and pumps there)."""
        self._after_commit = hook

    def _committed(self) -> None:
        if self._after_commit is not None:
            self._after_commit()

    # --- life events and the move pair ---------------------------------------------------

    def birth(
        self,
        person: NewPerson | PersonLike,
        *,
        household_id: str,
        relationship: Relationship | str | None = None,
        card_application: bool = False,
        actor: str = "system",
        reason: str = "birth notification",
    ) -> Resident:
        """Register a birth (出生): a new code and number, joining an existing household."""
        return self._events.birth(
            person,
            household_id=household_id,
            relationship=relationship,
            card_application=card_application,
            actor=actor,
            reason=reason,
        )

    def move_in_from_abroad(
        self,
        person: NewPerson | PersonLike,
        *,
        on: dt.date,
        address: str | None = None,
        household_id: str | None = None,
        relationship: Relationship | str | None = None,
        from_country: str | None = None,
        resident_code: str | None = None,
        actor: str = "system",
        reason: str = "move-in notification",
    ) -> Resident:
        """Register a move-in from abroad (国外からの転入): a new person, or one returning."""
        return self._events.move_in_from_abroad(
            person,
            on=on,
            address=address,
            household_id=household_id,
            relationship=relationship,
            from_country=from_country,
            resident_code=resident_code,
            actor=actor,
            reason=reason,
        )

    def move_within(
        self,
        resident_code: str,
        *,
        on: dt.date,
        address: str | None = None,
        household_id: str | None = None,
        relationship: Relationship | str | None = None,
        whole_household: bool = False,
        actor: str = "system",
        reason: str = "move notification",
    ) -> Resident:
        """Register a move within the municipality (転居)."""
        return self._events.move_within(
            resident_code,
            on=on,
            address=address,
            household_id=household_id,
            relationship=relationship,
            whole_household=whole_household,
            actor=actor,
            reason=reason,
        )

    def change_name(
        self,
        resident_code: str,
        *,
        on: dt.date,
        family_name: str | None = None,
        given_name: str | None = None,
        family_name_kana: str | None = None,
        given_name_kana: str | None = None,
        keep_former_surname: bool = False,
        actor: str = "system",
        reason: str = "name change notification",
    ) -> Resident:
        """Register a change of name (氏名の変更); optionally record the former surname (旧氏)."""
        return self._events.change_name(
            resident_code,
            on=on,
            family_name=family_name,
            given_name=given_name,
            family_name_kana=family_name_kana,
            given_name_kana=given_name_kana,
            keep_former_surname=keep_former_surname,
            actor=actor,
            reason=reason,
        )

    def record_death(
        self,
        resident_code: str,
        *,
        on: dt.date,
        actor: str = "system",
        reason: str = "death notification",
    ) -> Resident:
        """Register a death (死亡): the record becomes a removed record (除票)."""
        return self._events.record_death(resident_code, on=on, actor=actor, reason=reason)

    def move_abroad(
        self,
        resident_code: str,
        *,
        planned_on: dt.date,
        country: str,
        actor: str = "system",
        reason: str = "moving-abroad notification",
    ) -> Resident:
        """Register moving abroad (国外転出): the record becomes a removed record."""
        return self._events.move_abroad(
            resident_code, planned_on=planned_on, country=country, actor=actor, reason=reason
        )

    def move_out(
        self,
        resident_code: str,
        *,
        planned_on: dt.date,
        destination: str,
        destination_lg_code: str | None = None,
        actor: str = "system",
        reason: str = "move-out notification",
    ) -> MoveOutCertificate:
        """Register a move-out (転出) to another municipality; the move-out certificate data."""
        return self._moves.move_out(
            resident_code,
            planned_on=planned_on,
            destination=destination,
            destination_lg_code=destination_lg_code,
            actor=actor,
            reason=reason,
        )

    def move_in(
        self,
        resident_code: str,
        *,
        from_lg_code: str,
        on: dt.date,
        address: str | None = None,
        household_id: str | None = None,
        relationship: Relationship | str | None = None,
        actor: str = "system",
        reason: str = "move-in notification",
    ) -> Resident:
        """Register a move-in (転入) completing an outstanding move-out (転出) elsewhere."""
        return self._moves.move_in(
            resident_code,
            from_lg_code=from_lg_code,
            on=on,
            address=address,
            household_id=household_id,
            relationship=relationship,
            actor=actor,
            reason=reason,
        )

    def claim_move_out(
        self,
        resident_code: str,
        *,
        certificate_id: str,
        to_lg_code: str,
        moved_in_on: dt.date,
        actor: str = "system",
    ) -> MoveOutCertificate:
        """Note on the removed record that the person moved in at ``to_lg_code`` (転入通知)."""
        return self._moves.claim_move_out(
            resident_code,
            certificate_id=certificate_id,
            to_lg_code=to_lg_code,
            moved_in_on=moved_in_on,
            actor=actor,
        )

    def move_out_certificate(self, resident_code: str) -> MoveOutCertificate:
        """The move-out certificate data of the resident's latest move-out from here."""
        return self._moves.move_out_certificate(resident_code)

    # --- reading ---------------------------------------------------------------------------

    def get(self, resident_code: str) -> Resident:
        """The resident's current record, else their latest removed record (除票)."""
        return self._records.get(resident_code)

    def list_residents(
        self, *, status: Status = Status.CURRENT, limit: int = 100, offset: int = 0
    ) -> list[Resident]:
        """Residents with ``status``, in registration order."""
        return self._records.list_residents(status=status, limit=limit, offset=offset)

    def find(
        self,
        *,
        name: str | None = None,
        kana: str | None = None,
        date_of_birth: dt.date | None = None,
        status: Status | None = Status.CURRENT,
        limit: int = 50,
    ) -> list[Resident]:
        """Records by part of the name or kana and the date of birth (the counter's search)."""
        return self._records.find(
            name=name, kana=kana, date_of_birth=date_of_birth, status=status, limit=limit
        )

    def count(self, status: Status = Status.CURRENT) -> int:
        """How many records have ``status``."""
        return self._records.count(status)

    def household(self, household_id: str) -> Household:
        """A household and its current members, head first."""
        return self._records.household(household_id)

    def audit_entries(self, resident_code: str | None = None) -> list[AuditEntry]:
        """The audit records, oldest first (optionally of one resident)."""
        return self._records.audit_entries(resident_code)

    def pending_events(self) -> int:
        """How many events wait in the outbox to be published."""
        return self._records.pending_events()

    def removed_record_certificate(
        self, resident_code: str, *, with_individual_number: bool = False
    ) -> RemovedRecordCertificate:
        """The data a certificate of the resident's latest removed record (除票の写し) shows."""
        return self._removed.certificate(
            resident_code, with_individual_number=with_individual_number
        )

    def register_households(
        self,
        households_: Iterable[HouseholdLike],
        *,
        on: dt.date | None = None,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
        actor: str = "system",
        reason: str = "initial registration",
    ) -> BulkResult:
        """Register many households at once (initial seeding); see ``registry.bulk``."""
        result = register_households(
            self.store,
            self.lg_code,
            self._clock,
            self._numbers,
            households_,
            on=on or self._clock.today(),
            batch_size=batch_size,
            progress=progress,
            actor=actor,
            reason=reason,
        )
        self._committed()
        return result
