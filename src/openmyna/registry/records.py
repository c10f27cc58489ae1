"""The resident records of one municipality's registry: rows, models and the read queries.

``ResidentRecords`` maps ``residents`` rows to the frozen ``Resident`` model, answers the
read-only questions (a record, a list, a count, a household, the audit log, the outbox) and
holds the row writes every event shares: a new current record, a change of address, and the
event's audit and outbox rows. The writes run inside the caller's event transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import RowMapping, func, or_, select, update
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
    ResidentNotFound,
    ResidentRemoved,
)
from openmyna.registry.households import Placement
from openmyna.registry.models import (
    Arrival,
    AuditEntry,
    EventType,
    Household,
    NewPerson,
    Relationship,
    RemovalReason,
    Resident,
    Sex,
    Status,
)
from openmyna.registry.tables import audit_log, households, outbox, residents
from openmyna.store import Store

#: Hiragana ぁ..ゖ and katakana ァ..ヶ lie 0x60 apart.
_KANA_SHIFT = 0x60


def _squeezed(text: str | None) -> str:
    return "".join((text or "").split())  # str.split drops full-width spaces (U+3000) too


def _katakana(text: str) -> str:
    return "".join(chr(ord(c) + _KANA_SHIFT) if "\u3041" <= c <= "\u3096" else c for c in text)


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - _KANA_SHIFT) if "\u30a1" <= c <= "\u30f6" else c for c in text)


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
        stay_expires_on=r["stay_expires_on"],
    )


class ResidentRecords:
    """The ``residents`` rows of one municipality's registry (body = lg_code)."""

    def __init__(self, store: Store, lg_code: str, clock: Clock) -> None:
        self.store = store
        self.lg_code = lg_code
        self._clock = clock

    def resident(self, row: RowMapping) -> Resident:
        """The model of a ``residents`` row of this registry."""
        return to_resident(row, self.lg_code)

    def current_row(self, s: Session, code: str, *, lock: bool = True) -> RowMapping:
        """The resident's current row (locked for the event by default); refused if none."""
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

    def row_by_id(self, s: Session, record_id: int) -> RowMapping:
        """The ``residents`` row with ``record_id``."""
        q = select(residents).where(residents.c.record_id == record_id)
        return s.execute(q).mappings().one()

    def insert(
        self,
        s: Session,
        *,
        code: str,
        number: str,
        person: NewPerson,
        placement: Placement,
        arrival: Arrival,
        since: dt.date,
        seq: int,
        previous_address: str | None = None,
        moved_in_from: str | None = None,
        in_certificate_id: str | None = None,
    ) -> Resident:
        """Write a new current record in ``placement`` (settling a new household first)."""
        exists = s.execute(
            select(residents.c.record_id).where(
                residents.c.status == Status.CURRENT.value,
                (residents.c.resident_code == code) | (residents.c.individual_number == number),
            )
        ).first()
        if exists is not None:
            raise DuplicateResident("that resident is already registered here")
        placement.settle(s, code, since, self._clock.now())
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
            "stay_expires_on": person.stay_expires_on,
        }
        try:
            record_id = s.execute(
                residents.insert().values(**values).returning(residents.c.record_id)
            ).scalar_one()
        except IntegrityError:
            raise DuplicateResident("that resident is already registered here") from None
        return self.resident(self.row_by_id(s, int(record_id)))

    def stage_event(
        self,
        s: Session,
        kind: EventType,
        r: Resident,
        on: dt.date,
        actor: str,
        reason: str,
        **extra: Any,
    ) -> str:
        """Stage the event about ``r`` in the outbox with its audit row; the event id."""
        return ev.record_event(
            s, kind, r, on, now=self._clock.now(), actor=actor, reason=reason, extra=extra
        )

    def moved(
        self,
        s: Session,
        row: RowMapping,
        day: dt.date,
        new_address: str,
        household_id: str,
        relationship: Relationship,
    ) -> Resident:
        """Move the resident ``row`` to ``new_address`` in ``household_id`` (one more event)."""
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
        return self.resident(self.row_by_id(s, row["record_id"]))

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
        return self.resident(row)

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
        return [self.resident(r) for r in rows]

    def find(
        self,
        *,
        name: str | None = None,
        kana: str | None = None,
        date_of_birth: dt.date | None = None,
        status: Status | None = Status.CURRENT,
        limit: int = 50,
    ) -> list[Resident]:
        """Records matching part of the name, part of the kana and the date of birth.

        Spaces (half- and full-width) are ignored in the name and kana; kana matches in
        hiragana or katakana. At least one criterion; ``status`` None finds removed records
        too. In registration order, at most ``limit``.
        """
        q = select(residents)
        wanted = _squeezed(name)
        if wanted:
            q = q.where(
                (residents.c.family_name + residents.c.given_name).contains(wanted, autoescape=True)
            )
        reading = _squeezed(kana)
        if reading:
            full = residents.c.family_name_kana + residents.c.given_name_kana
            forms = {_katakana(reading), _hiragana(reading)}
            q = q.where(or_(*(full.contains(f, autoescape=True) for f in sorted(forms))))
        if date_of_birth is not None:
            q = q.where(residents.c.date_of_birth == date_of_birth)
        if not (wanted or reading or date_of_birth):
            raise InvalidResidentData("give part of the name, the kana or the date of birth")
        if status is not None:
            q = q.where(residents.c.status == Status(status).value)
        q = q.order_by(residents.c.record_id).limit(limit)
        with self.store.transaction() as s:
            rows = s.execute(q).mappings().all()
        return [self.resident(r) for r in rows]

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
            (self.resident(r) for r in rows),
            key=lambda m: m.resident_code != hh["head_resident_code"],
        )
        return Household(
            household_id=household_id,
            lg_code=self.lg_code,
            address=hh["address"],
            head_resident_code=hh["head_resident_code"],
            members=tuple(members),
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
