"""The life events of one registry that write a resident: births, arrivals, moves, deaths.

Each event is one transaction on the municipality's own database: the change, an
append-only audit row (who/when/why) and the event's outbox row commit together, or nothing
does. Refusals are checked before anything is written (and the transaction rolls back if a
later step fails), so a refused event leaves the database exactly as it was. The move between
two municipalities is ``registry.moves``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, select, update

from openmyna.clock import Clock
from openmyna.registry import rules
from openmyna.registry.errors import (
    DuplicateResident,
    InvalidResidentData,
    ResidentRemoved,
)
from openmyna.registry.households import Households
from openmyna.registry.models import (
    Arrival,
    EventType,
    IdentityStatus,
    NewPerson,
    NumberIssuer,
    PersonLike,
    Relationship,
    RemovalReason,
    Resident,
    Status,
)
from openmyna.registry.records import ResidentRecords
from openmyna.registry.removed import RemovedRecords
from openmyna.registry.tables import households, residents

if TYPE_CHECKING:
    from openmyna.registry.index import IdentityIndex


class LifeEvents:
    """The events that write one resident's record in one municipality's registry."""

    def __init__(
        self,
        clock: Clock,
        records: ResidentRecords,
        households: Households,
        removed: RemovedRecords,
        *,
        numbers: Callable[[], NumberIssuer],
        index: IdentityIndex | None,
        committed: Callable[[], None],
    ) -> None:
        self.store = records.store
        self._clock = clock
        self._records = records
        self._households = households
        self._removed = removed
        self._numbers = numbers
        self._index = index
        self._committed = committed

    def _event_date(self, on: object, row: RowMapping | None, field: str = "on") -> dt.date:
        day = rules.not_future(on, self._clock.today(), field)
        if row is not None:
            rules.not_before(day, row["date_of_birth"], field, "the date of birth")
            rules.not_before(day, row["last_event_on"], field, "the resident's last event")
        return day

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
        """Register a birth (出生): a new code and number, joining an existing household.

        The relationship is ``relationship``, else the person's, else child (子).
        ``card_application``: the parents applied for the My Number Card together with the
        birth registration; the event says so for the card issuer.
        """
        actor, reason = rules.actor_and_reason(actor, reason)
        p = rules.person(person, self._clock.today())
        rel = relationship or p.relationship or Relationship.CHILD
        with self.store.transaction() as s:
            placement = self._households.plan(
                s, address=None, household_id=household_id, relationship=rel
            )
            issued = self._numbers().issue(1)[0]
            r = self._records.insert(
                s,
                code=issued.resident_code,
                number=issued.individual_number,
                person=p,
                placement=placement,
                arrival=Arrival.BIRTH,
                since=p.date_of_birth,
                seq=1,
            )
            self._records.stage_event(
                s,
                EventType.BIRTH,
                r,
                p.date_of_birth,
                actor,
                reason,
                card_application=bool(card_application),
            )
        self._committed()
        return r

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
        """Register a move-in from abroad (国外からの転入): a new person, or one returning.

        A returning person (``resident_code`` given) keeps their code and number; the national
        index must show them abroad.
        """
        actor, reason = rules.actor_and_reason(actor, reason)
        today = self._clock.today()
        p = rules.person(person, today)
        day = rules.not_future(on, today, "on")
        rules.not_before(day, p.date_of_birth, "on", "the date of birth")
        origin = rules.optional_name(from_country, "from_country")
        seq = 1
        number: str | None = None
        if resident_code is not None:
            resident_code = rules.resident_code(resident_code)
            if self._index is None:
                raise InvalidResidentData("a returning resident needs the national index")
            entry = self._index.by_resident_code(resident_code)
            if entry.status is IdentityStatus.DIED:
                raise ResidentRemoved("that resident is recorded as deceased")
            if entry.status is not IdentityStatus.ABROAD:
                raise DuplicateResident("that resident is still registered in a municipality")
            number, seq = entry.individual_number, entry.seq + 1
        with self.store.transaction() as s:
            placement = self._households.plan(
                s,
                address=address,
                household_id=household_id,
                relationship=relationship or p.relationship,
            )
            if resident_code is None or number is None:
                issued = self._numbers().issue(1)[0]
                resident_code, number = issued.resident_code, issued.individual_number
            r = self._records.insert(
                s,
                code=resident_code,
                number=number,
                person=p,
                placement=placement,
                arrival=Arrival.MOVED_IN_FROM_ABROAD,
                since=day,
                seq=seq,
                previous_address=origin,
            )
            self._records.stage_event(
                s, EventType.MOVED_IN, r, day, actor, reason, from_lg_code=None, from_abroad=True
            )
        self._committed()
        return r

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
        """Register a move within the municipality (転居).

        With ``whole_household`` every current member of the resident's household moves to
        ``address``; otherwise the resident alone moves, to a new household at ``address`` or
        into the household ``household_id``.
        """
        actor, reason = rules.actor_and_reason(actor, reason)
        with self.store.transaction() as s:
            row = self._records.current_row(s, resident_code)
            if whole_household:
                if household_id is not None or address is None:
                    raise InvalidResidentData("a household move needs only the new address")
                new_address = rules.address(address)
                hid = row["household_id"]
                members = (
                    s.execute(
                        select(residents)
                        .where(
                            residents.c.household_id == hid,
                            residents.c.status == Status.CURRENT.value,
                        )
                        .with_for_update()
                    )
                    .mappings()
                    .all()
                )
                day = rules.not_future(on, self._clock.today(), "on")
                for m in members:
                    rules.not_before(day, m["last_event_on"], "on", "a member's last event")
                s.execute(
                    update(households)
                    .where(households.c.household_id == hid)
                    .values(address=new_address, updated_at=self._clock.now())
                )
                result: Resident | None = None
                for m in members:
                    r = self._records.moved(
                        s, m, day, new_address, hid, Relationship(m["relationship"])
                    )
                    self._records.stage_event(s, EventType.MOVED_WITHIN, r, day, actor, reason)
                    if m["record_id"] == row["record_id"]:
                        result = r
                assert result is not None
            else:
                day = self._event_date(on, row)
                placement = self._households.plan(
                    s, address=address, household_id=household_id, relationship=relationship
                )
                if placement.household_id == row["household_id"]:
                    raise InvalidResidentData("the resident already lives in that household")
                self._households.leave(s, row["household_id"], resident_code)
                placement.settle(s, resident_code, day, self._clock.now())
                result = self._records.moved(
                    s, row, day, placement.address, placement.household_id, placement.relationship
                )
                self._records.stage_event(s, EventType.MOVED_WITHIN, result, day, actor, reason)
        self._committed()
        return result

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
        actor, reason = rules.actor_and_reason(actor, reason)
        if family_name is None and given_name is None:
            raise InvalidResidentData("a name change needs a new family or given name")
        if (family_name is None) != (family_name_kana is None) or (given_name is None) != (
            given_name_kana is None
        ):
            raise InvalidResidentData("each new name part needs its reading (振り仮名)")
        with self.store.transaction() as s:
            row = self._records.current_row(s, resident_code)
            day = self._event_date(on, row)
            values: dict[str, Any] = {}
            if family_name is not None:
                values["family_name"] = rules.name_part(family_name, "family_name")
                values["family_name_kana"] = rules.kana_part(family_name_kana, "family_name_kana")
            if given_name is not None:
                values["given_name"] = rules.name_part(given_name, "given_name")
                values["given_name_kana"] = rules.kana_part(given_name_kana, "given_name_kana")
            if all(row[k] == v for k, v in values.items()):
                raise InvalidResidentData("the new name is the same as the current one")
            if keep_former_surname:
                if "family_name" not in values or values["family_name"] == row["family_name"]:
                    raise InvalidResidentData("only a changed family name leaves a former surname")
                values["former_surname"] = row["family_name"]
                values["former_surname_kana"] = row["family_name_kana"]
            values.update(seq=row["seq"] + 1, last_event_on=day, updated_at=self._clock.now())
            s.execute(update(residents).where(residents.c.record_id == row["record_id"]), values)
            r = self._records.resident(self._records.row_by_id(s, row["record_id"]))
            self._records.stage_event(s, EventType.NAME_CHANGED, r, day, actor, reason)
        self._committed()
        return r

    def record_death(
        self,
        resident_code: str,
        *,
        on: dt.date,
        actor: str = "system",
        reason: str = "death notification",
    ) -> Resident:
        """Register a death (死亡): the record becomes a removed record (除票)."""
        actor, reason = rules.actor_and_reason(actor, reason)
        with self.store.transaction() as s:
            row = self._records.current_row(s, resident_code)
            day = self._event_date(on, row)
            r = self._removed.remove(s, row, day=day, why=RemovalReason.DIED)
            self._records.stage_event(s, EventType.DIED, r, day, actor, reason, status="died")
        self._committed()
        return r

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
        actor, reason = rules.actor_and_reason(actor, reason)
        dest = rules.name_part(country, "country")
        with self.store.transaction() as s:
            row = self._records.current_row(s, resident_code)
            day = rules.planned_date(planned_on, self._clock.today(), "planned_on")
            rules.not_before(day, row["last_event_on"], "planned_on", "the resident's last event")
            r = self._removed.remove(
                s, row, day=day, why=RemovalReason.MOVED_ABROAD, destination=dest
            )
            self._records.stage_event(
                s, EventType.MOVED_ABROAD, r, day, actor, reason, status="abroad", country=dest
            )
        self._committed()
        return r
