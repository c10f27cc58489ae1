"""The records of one municipality's registry: rows, households, placement and reading.

``RegistryRecords`` is the base of ``MunicipalRegistry``: it maps rows to the frozen models,
holds the helpers every event uses (placement in a household, removal, the audit and outbox
rows) and answers the read-only questions (a record, a household, a removed record's
certificate data, the audit log).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmyna.bus import staged_count
from openmyna.clock import Clock
from openmyna.registry import events as ev
from openmyna.registry import rules
from openmyna.registry.errors import (
    DuplicateResident,
    HouseholdNotFound,
    InvalidResidentData,
    NotRemovedRecord,
    ResidentNotFound,
    ResidentRemoved,
)
from openmyna.registry.models import (
    Arrival,
    AuditEntry,
    EventType,
    Household,
    NewPerson,
    Relationship,
    RemovalReason,
    RemovedRecordCertificate,
    Resident,
    Sex,
    Status,
)
from openmyna.registry.municipalities import Municipality
from openmyna.registry.tables import audit_log, households, outbox, residents
from openmyna.store import Store

if TYPE_CHECKING:
    from openmyna.registry.index import IdentityIndex
    from openmyna.registry.services import MunicipalRegistry


class IssuedLike(Protocol):
    """A freshly issued resident-record code and its individual number."""

    @property
    def resident_code(self) -> str: ...
    @property
    def individual_number(self) -> str: ...


class NumberIssuer(Protocol):
    """The part of the numbering authority the registry uses."""

    def issue(self, count: int) -> Sequence[IssuedLike]:
        """Issue ``count`` new codes with their numbers."""
        ...

    def issue_arrays(self, count: int) -> tuple[Any, Any]:
        """Issue ``count`` new codes and numbers as two uint64 arrays."""
        ...


def _new_household_id() -> str:
    return secrets.token_hex(8)


def to_resident(r: RowMapping, lg_code: str) -> Resident:
    """A resident model from a ``residents`` row of the registry ``lg_code``."""
    return Resident(
        resident_code=r["resident_code"],
        individual_number=r["individual_number"],
        lg_code=lg_code,
        family_name=r["family_name"],
        given_name=r["given_name"],
        family_name_kana=r["family_name_kana"],
        given_name_kana=r["given_name_kana"],
        former_surname=r["former_surname"],
        former_surname_kana=r["former_surname_kana"],
        date_of_birth=r["date_of_birth"],
        sex=Sex(r["sex"]),
        address=r["address"],
        household_id=r["household_id"],
        relationship=Relationship(r["relationship"]),
        status=Status(r["status"]),
        arrival=Arrival(r["arrival"]),
        resident_since=r["resident_since"],
        address_since=r["address_since"],
        previous_address=r["previous_address"],
        moved_in_from_lg_code=r["moved_in_from_lg_code"],
        removed_on=r["removed_on"],
        removal_reason=RemovalReason(r["removal_reason"]) if r["removal_reason"] else None,
        destination=r["destination"],
        destination_lg_code=r["destination_lg_code"],
        moved_in_at_lg_code=r["moved_in_at_lg_code"],
        moved_in_at_on=r["moved_in_at_on"],
        seq=r["seq"],
        last_event_on=r["last_event_on"],
    )


class _Placement:
    """Where a newly arriving or moving person goes: an existing household or a new one."""

    def __init__(
        self, household_id: str, address: str, relationship: Relationship, new: bool
    ) -> None:
        self.household_id = household_id
        self.address = address
        self.relationship = relationship
        self.new = new


class RegistryRecords:
    """One municipality's records on its own database (body = lg_code)."""

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
        self._peers = peers
        self._index = index
        self._after_commit = after_commit

    def set_after_commit(self, hook: Callable[[], None] | None) -> None:
        """Run ``hook`` after each committed event (the facade relays and pumps there)."""
        self._after_commit = hook

    def _committed(self) -> None:
        if self._after_commit is not None:
            self._after_commit()

    def _resident(self, row: RowMapping) -> Resident:
        return to_resident(row, self.lg_code)

    def _current_row(self, s: Session, code: str, *, lock: bool = True) -> RowMapping:
        code = rules.resident_code(code)
        q = select(residents).where(
            residents.c.resident_code == code, residents.c.status == Status.CURRENT.value
        )
        if lock:
            q = q.with_for_update()
        row = s.execute(q).mappings().first()
        if row is not None:
            return row
        removed = s.execute(
            select(residents.c.record_id).where(residents.c.resident_code == code).limit(1)
        ).first()
        if removed is not None:
            raise ResidentRemoved("the resident's record is a removed record (除票)")
        raise ResidentNotFound("no resident with that code in this registry", lg_code=self.lg_code)

    def _row_by_id(self, s: Session, record_id: int) -> RowMapping:
        q = select(residents).where(residents.c.record_id == record_id)
        return s.execute(q).mappings().one()

    def _household_row(self, s: Session, household_id: str) -> RowMapping:
        row = (
            s.execute(
                select(households)
                .where(households.c.household_id == household_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None or row["status"] != "current":
            raise HouseholdNotFound("no current household with that id", lg_code=self.lg_code)
        return row

    def _plan_placement(
        self,
        s: Session,
        *,
        address: str | None,
        household_id: str | None,
        relationship: Relationship | str | None,
    ) -> _Placement:
        if household_id is not None:
            hh = self._household_row(s, household_id)
            if address is not None and rules.address(address) != hh["address"]:
                raise InvalidResidentData("the address differs from the household's address")
            if relationship is None:
                raise InvalidResidentData("joining a household needs a relationship (続柄)")
            rel = Relationship.parse(relationship)
            if rel is Relationship.HEAD and hh["head_resident_code"] is not None:
                raise InvalidResidentData("the household already has a head (世帯主)")
            return _Placement(household_id, hh["address"], rel, new=False)
        if address is None:
            raise InvalidResidentData("either an address or a household is needed")
        rel = Relationship.parse(relationship) if relationship is not None else Relationship.HEAD
        if rel is not Relationship.HEAD:
            raise InvalidResidentData("the first member of a new household is its head (世帯主)")
        return _Placement(_new_household_id(), rules.address(address), rel, new=True)

    def _settle(self, s: Session, p: _Placement, code: str, on: dt.date) -> None:
        """Create the household of a placement if new, and record its head."""
        now = self._clock.now()
        if p.new:
            s.execute(
                households.insert(),
                {
                    "household_id": p.household_id,
                    "address": p.address,
                    "head_resident_code": code,
                    "status": "current",
                    "created_on": on,
                    "updated_at": now,
                },
            )
        elif p.relationship is Relationship.HEAD:
            s.execute(
                update(households)
                .where(households.c.household_id == p.household_id)
                .values(head_resident_code=code, updated_at=now)
            )

    def _leave_household(self, s: Session, household_id: str, code: str) -> None:
        """Detach a leaving member: clear the head if it was them, dissolve if now empty."""
        now = self._clock.now()
        s.execute(
            update(households)
            .where(
                households.c.household_id == household_id,
                households.c.head_resident_code == code,
            )
            .values(head_resident_code=None, updated_at=now)
        )
        left = s.execute(
            select(func.count())
            .select_from(residents)
            .where(
                residents.c.household_id == household_id,
                residents.c.status == Status.CURRENT.value,
                residents.c.resident_code != code,
            )
        ).scalar_one()
        if left == 0:
            s.execute(
                update(households)
                .where(households.c.household_id == household_id)
                .values(status="dissolved", updated_at=now)
            )

    def _event_date(self, on: object, row: RowMapping | None, field: str = "on") -> dt.date:
        day = rules.not_future(on, self._clock.today(), field)
        if row is not None:
            rules.not_before(day, row["date_of_birth"], field, "the date of birth")
            rules.not_before(day, row["last_event_on"], field, "the resident's last event")
        return day

    def _insert_resident(
        self,
        s: Session,
        *,
        code: str,
        number: str,
        person: NewPerson,
        placement: _Placement,
        arrival: Arrival,
        since: dt.date,
        seq: int,
        previous_address: str | None = None,
        moved_in_from: str | None = None,
        in_certificate_id: str | None = None,
    ) -> Resident:
        exists = s.execute(
            select(residents.c.record_id).where(
                residents.c.status == Status.CURRENT.value,
                (residents.c.resident_code == code) | (residents.c.individual_number == number),
            )
        ).first()
        if exists is not None:
            raise DuplicateResident("that resident is already registered here")
        self._settle(s, placement, code, since)
        values = {
            "resident_code": code,
            "individual_number": number,
            "family_name": person.family_name,
            "given_name": person.given_name,
            "family_name_kana": person.family_name_kana,
            "given_name_kana": person.given_name_kana,
            "former_surname": person.former_surname,
            "former_surname_kana": person.former_surname_kana,
            "date_of_birth": person.date_of_birth,
            "sex": int(person.sex),
            "address": placement.address,
            "household_id": placement.household_id,
            "relationship": placement.relationship.value,
            "status": Status.CURRENT.value,
            "arrival": arrival.value,
            "resident_since": since,
            "address_since": since,
            "previous_address": previous_address,
            "moved_in_from_lg_code": moved_in_from,
            "in_certificate_id": in_certificate_id,
            "seq": seq,
            "last_event_on": since,
            "updated_at": self._clock.now(),
        }
        try:
            record_id = s.execute(
                residents.insert().values(**values).returning(residents.c.record_id)
            ).scalar_one()
        except IntegrityError:
            raise DuplicateResident("that resident is already registered here") from None
        return self._resident(self._row_by_id(s, int(record_id)))

    def _record(
        self,
        s: Session,
        kind: EventType,
        r: Resident,
        on: dt.date,
        actor: str,
        reason: str,
        **extra: Any,
    ) -> str:
        return ev.record_event(
            s, kind, r, on, now=self._clock.now(), actor=actor, reason=reason, extra=extra
        )

    def _remove(
        self,
        s: Session,
        row: RowMapping,
        *,
        day: dt.date,
        why: RemovalReason,
        destination: str | None = None,
        destination_lg_code: str | None = None,
        certificate_id: str | None = None,
    ) -> Resident:
        head_name = self._head_name(s, row)
        self._leave_household(s, row["household_id"], row["resident_code"])
        s.execute(
            update(residents)
            .where(residents.c.record_id == row["record_id"])
            .values(
                status=Status.REMOVED.value,
                removed_on=day,
                removal_reason=why.value,
                destination=destination,
                destination_lg_code=destination_lg_code,
                out_certificate_id=certificate_id,
                head_name_at_removal=head_name,
                seq=row["seq"] + 1,
                last_event_on=day,
                updated_at=self._clock.now(),
            )
        )
        return self._resident(self._row_by_id(s, row["record_id"]))

    def _head_name(self, s: Session, row: RowMapping) -> str | None:
        if row["relationship"] == Relationship.HEAD.value:
            return f"{row['family_name']} {row['given_name']}"
        head = s.execute(
            select(residents.c.family_name, residents.c.given_name)
            .join(households, households.c.head_resident_code == residents.c.resident_code)
            .where(
                households.c.household_id == row["household_id"],
                residents.c.status == Status.CURRENT.value,
            )
        ).first()
        return f"{head[0]} {head[1]}" if head is not None else None

    def _moved(
        self,
        s: Session,
        row: RowMapping,
        day: dt.date,
        new_address: str,
        household_id: str,
        relationship: Relationship,
    ) -> Resident:
        s.execute(
            update(residents)
            .where(residents.c.record_id == row["record_id"])
            .values(
                previous_address=row["address"],
                address=new_address,
                address_since=day,
                household_id=household_id,
                relationship=relationship.value,
                seq=row["seq"] + 1,
                last_event_on=day,
                updated_at=self._clock.now(),
            )
        )
        return self._resident(self._row_by_id(s, row["record_id"]))

    def get(self, resident_code: str) -> Resident:
        """The resident's current record, else their latest removed record (除票)."""
        resident_code = rules.resident_code(resident_code)
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(residents)
                    .where(residents.c.resident_code == resident_code)
                    .order_by(
                        (residents.c.status == Status.CURRENT.value).desc(),
                        residents.c.record_id.desc(),
                    )
                    .limit(1)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise ResidentNotFound("no resident with that code here", lg_code=self.lg_code)
        return self._resident(row)

    def list_residents(
        self, *, status: Status = Status.CURRENT, limit: int = 100, offset: int = 0
    ) -> list[Resident]:
        """Residents with ``status``, in registration order."""
        with self.store.transaction() as s:
            rows = (
                s.execute(
                    select(residents)
                    .where(residents.c.status == Status(status).value)
                    .order_by(residents.c.record_id)
                    .limit(limit)
                    .offset(offset)
                )
                .mappings()
                .all()
            )
        return [self._resident(r) for r in rows]

    def count(self, status: Status = Status.CURRENT) -> int:
        """How many records have ``status``."""
        with self.store.transaction() as s:
            n = s.execute(
                select(func.count())
                .select_from(residents)
                .where(residents.c.status == Status(status).value)
            ).scalar_one()
        return int(n)

    def household(self, household_id: str) -> Household:
        """A household and its current members, head first."""
        with self.store.transaction() as s:
            hh = (
                s.execute(select(households).where(households.c.household_id == household_id))
                .mappings()
                .first()
            )
            if hh is None:
                raise HouseholdNotFound("no household with that id", lg_code=self.lg_code)
            rows = (
                s.execute(
                    select(residents)
                    .where(
                        residents.c.household_id == household_id,
                        residents.c.status == Status.CURRENT.value,
                    )
                    .order_by(residents.c.record_id)
                )
                .mappings()
                .all()
            )
        members = sorted(
            (self._resident(r) for r in rows),
            key=lambda m: m.resident_code != hh["head_resident_code"],
        )
        return Household(
            household_id=household_id,
            lg_code=self.lg_code,
            address=hh["address"],
            head_resident_code=hh["head_resident_code"],
            members=tuple(members),
        )

    def removed_record_certificate(
        self, resident_code: str, *, with_individual_number: bool = False
    ) -> RemovedRecordCertificate:
        """The data a certificate of the resident's latest removed record (除票の写し) shows."""
        resident_code = rules.resident_code(resident_code)
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(residents)
                    .where(
                        residents.c.resident_code == resident_code,
                        residents.c.status == Status.REMOVED.value,
                    )
                    .order_by(residents.c.record_id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is None:
                current = s.execute(
                    select(residents.c.record_id).where(residents.c.resident_code == resident_code)
                ).first()
                if current is not None:
                    raise NotRemovedRecord("the resident has no removed record here")
                raise ResidentNotFound(
                    "no resident with that code in this registry", lg_code=self.lg_code
                )
        r = self._resident(row)
        assert r.removed_on is not None
        assert r.removal_reason is not None
        return RemovedRecordCertificate(
            lg_code=self.lg_code,
            municipality=self.municipality.full_name,
            resident_code=r.resident_code,
            family_name=r.family_name,
            given_name=r.given_name,
            family_name_kana=r.family_name_kana,
            given_name_kana=r.given_name_kana,
            former_surname=r.former_surname,
            date_of_birth=r.date_of_birth,
            sex=r.sex,
            address=r.address,
            previous_address=r.previous_address,
            relationship=r.relationship,
            head_of_household=row["head_name_at_removal"],
            resident_since=r.resident_since,
            address_since=r.address_since,
            removed_on=r.removed_on,
            removal_reason=r.removal_reason,
            destination=r.destination,
            moved_in_at_lg_code=r.moved_in_at_lg_code,
            moved_in_at_on=r.moved_in_at_on,
            individual_number=r.individual_number if with_individual_number else None,
            issued_at=self._clock.now(),
        )

    def audit_entries(self, resident_code: str | None = None) -> list[AuditEntry]:
        """The audit records, oldest first (optionally of one resident)."""
        q = select(audit_log).order_by(audit_log.c.entry_id)
        if resident_code is not None:
            q = q.where(audit_log.c.resident_code == rules.resident_code(resident_code))
        with self.store.transaction() as s:
            rows = s.execute(q).mappings().all()
        return [
            AuditEntry(
                entry_id=r["entry_id"],
                recorded_at=ev.utc(r["recorded_at"]),
                event_date=r["event_date"],
                action=r["action"],
                event_id=r["event_id"],
                resident_code=r["resident_code"],
                actor=r["actor"],
                reason=r["reason"],
            )
            for r in rows
        ]

    def pending_events(self) -> int:
        """How many events wait in the outbox to be published."""
        with self.store.transaction() as s:
            return staged_count(s, outbox)
