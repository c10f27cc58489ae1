"""The move between municipalities: move-out (転出) at A, move-in (転入) at B.

The pair keeps the resident-record code and the individual number. A's move-out leaves a
removed record and the move-out certificate data (転出証明書); B reads that certificate from A
(through A's registry service, as the 住基ネット does, not A's database), then A notes the
move-in on the removed record (転入通知) before B writes its new record. A retry after a
crash between the two writes finds A's note naming B and completes; a retry after success
returns B's record. A move-out completed by one municipality cannot be claimed by another.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import RowMapping, select, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.registry import events as ev
from openmyna.registry import rules
from openmyna.registry.errors import DuplicateResident, NoMoveOut
from openmyna.registry.households import Households
from openmyna.registry.models import (
    Arrival,
    EventType,
    MoveOutCertificate,
    NewPerson,
    Relationship,
    RemovalReason,
    Resident,
    Sex,
    Status,
)
from openmyna.registry.municipalities import validate_lg_code
from openmyna.registry.records import ResidentRecords
from openmyna.registry.removed import RemovedRecords
from openmyna.registry.tables import audit_log, residents


class MoveOrigin(Protocol):
    """What a destination asks of the origin's registry service (as 住基ネット carries it)."""

    def move_out_certificate(self, resident_code: str) -> MoveOutCertificate:
        """The move-out certificate data of the resident's latest move-out from there."""
        ...

    def claim_move_out(
        self,
        resident_code: str,
        *,
        certificate_id: str,
        to_lg_code: str,
        moved_in_on: dt.date,
        actor: str = "system",
    ) -> MoveOutCertificate:
        """Note there that the person moved in at ``to_lg_code`` (転入通知)."""
        ...


class MovePair:
    """Move-out, move-in and the move-in notice between two municipalities' registries."""

    def __init__(
        self,
        clock: Clock,
        records: ResidentRecords,
        households: Households,
        removed: RemovedRecords,
        *,
        peers: Callable[[str], MoveOrigin] | None,
        committed: Callable[[], None],
    ) -> None:
        self.lg_code = records.lg_code
        self.store = records.store
        self._clock = clock
        self._records = records
        self._households = households
        self._removed = removed
        self._peers = peers
        self._committed = committed

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
        """Register a move-out (転出) to another municipality; the move-out certificate data.

        The record becomes a removed record at once, dated ``planned_on`` (転出予定日), which
        must lie within 14 days before or after today.
        """
        actor, reason = rules.actor_and_reason(actor, reason)
        dest = rules.address(destination, "destination")
        if destination_lg_code is not None:
            validate_lg_code(destination_lg_code)
        with self.store.transaction() as s:
            row = self._records.current_row(s, resident_code)
            day = rules.planned_date(planned_on, self._clock.today(), "planned_on")
            rules.not_before(day, row["last_event_on"], "planned_on", "the resident's last event")
            cert_id = secrets.token_hex(16)
            r = self._removed.remove(
                s,
                row,
                day=day,
                why=RemovalReason.MOVED_OUT,
                destination=dest,
                destination_lg_code=destination_lg_code,
                certificate_id=cert_id,
            )
            self._records.stage_event(
                s,
                EventType.MOVED_OUT,
                r,
                day,
                actor,
                reason,
                status="moved_out",
                planned_on=day.isoformat(),
                destination_lg_code=destination_lg_code,
            )
            cert = self._certificate(self._records.row_by_id(s, row["record_id"]))
        self._committed()
        return cert

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
        """Register a move-in (転入) completing an outstanding move-out (転出) at ``from_lg_code``.

        The resident keeps code and number. The origin's removed record is marked with this
        move-in (転入通知) before the new record is written here; a retry after a crash between
        the two writes finds the claim and completes, and a retry after success returns the
        existing record.
        """
        actor, reason = rules.actor_and_reason(actor, reason)
        resident_code = rules.resident_code(resident_code)
        validate_lg_code(from_lg_code)
        if self._peers is None:
            raise NoMoveOut("no other registry is reachable to read a move-out from")
        with self.store.transaction() as s:
            existing = (
                s.execute(
                    select(residents).where(
                        residents.c.resident_code == resident_code,
                        residents.c.status == Status.CURRENT.value,
                    )
                )
                .mappings()
                .first()
            )
        if existing is not None:
            if (
                existing["moved_in_from_lg_code"] == from_lg_code
                and existing["in_certificate_id"] is not None
            ):
                return self._records.resident(existing)  # a retry after success: same result
            raise DuplicateResident("that resident is already registered here")
        origin = self._peers(from_lg_code)
        cert = origin.move_out_certificate(resident_code)
        if cert.moved_in_at_lg_code not in (None, self.lg_code):
            raise NoMoveOut("the move-out has already been completed by another municipality")
        day = rules.not_future(on, self._clock.today(), "on")
        rules.not_before(day, cert.date_of_birth, "on", "the date of birth")
        with self.store.transaction() as s:  # check the placement before claiming anything
            self._households.plan(
                s, address=address, household_id=household_id, relationship=relationship
            )
        origin.claim_move_out(
            resident_code,
            certificate_id=cert.certificate_id,
            to_lg_code=self.lg_code,
            moved_in_on=day,
            actor=actor,
        )
        person = NewPerson(
            family_name=cert.family_name,
            given_name=cert.given_name,
            family_name_kana=cert.family_name_kana,
            given_name_kana=cert.given_name_kana,
            date_of_birth=cert.date_of_birth,
            sex=cert.sex,
            former_surname=cert.former_surname,
            former_surname_kana=cert.former_surname_kana,
            stay_expires_on=cert.stay_expires_on,
        )
        r = self._write_move_in(
            resident_code,
            cert=cert,
            person=person,
            day=day,
            address=address,
            household_id=household_id,
            relationship=relationship,
            actor=actor,
            reason=reason,
        )
        self._committed()
        return r

    def _write_move_in(
        self,
        resident_code: str,
        *,
        cert: MoveOutCertificate,
        person: NewPerson,
        day: dt.date,
        address: str | None,
        household_id: str | None,
        relationship: Relationship | str | None,
        actor: str,
        reason: str,
    ) -> Resident:
        with self.store.transaction() as s:
            placement = self._households.plan(
                s, address=address, household_id=household_id, relationship=relationship
            )
            r = self._records.insert(
                s,
                code=resident_code,
                number=cert.individual_number,
                person=person,
                placement=placement,
                arrival=Arrival.MOVED_IN,
                since=day,
                seq=cert.seq + 1,
                previous_address=cert.address,
                moved_in_from=cert.from_lg_code,
                in_certificate_id=cert.certificate_id,
            )
            self._records.stage_event(
                s,
                EventType.MOVED_IN,
                r,
                day,
                actor,
                reason,
                from_lg_code=cert.from_lg_code,
                from_abroad=False,
                move_out_planned_on=cert.planned_on.isoformat(),
            )
        return r

    def claim_move_out(
        self,
        resident_code: str,
        *,
        certificate_id: str,
        to_lg_code: str,
        moved_in_on: dt.date,
        actor: str = "system",
    ) -> MoveOutCertificate:
        """Note on the removed record that the person moved in at ``to_lg_code`` (転入通知).

        Idempotent for the same destination; refused if another municipality completed it.
        """
        validate_lg_code(to_lg_code)
        with self.store.transaction() as s:
            row = self._latest_move_out(s, resident_code, lock=True)
            if row["out_certificate_id"] != certificate_id:
                raise NoMoveOut("that move-out certificate is not the outstanding one")
            if row["moved_in_at_lg_code"] == to_lg_code:
                return self._certificate(row)
            if row["moved_in_at_lg_code"] is not None:
                raise NoMoveOut("the move-out has already been completed by another municipality")
            s.execute(
                update(residents)
                .where(residents.c.record_id == row["record_id"])
                .values(
                    moved_in_at_lg_code=to_lg_code,
                    moved_in_at_on=moved_in_on,
                    updated_at=self._clock.now(),
                )
            )
            s.execute(
                audit_log.insert(),
                ev.audit_row(
                    now=self._clock.now(),
                    event_date=moved_in_on,
                    action="registry.move_in_noted",
                    event_id=None,
                    resident_code=resident_code,
                    actor=actor,
                    reason=f"move-in notice from {to_lg_code}",
                ),
            )
            return self._certificate(self._records.row_by_id(s, row["record_id"]))

    def _certificate(self, row: RowMapping) -> MoveOutCertificate:
        return MoveOutCertificate(
            certificate_id=row["out_certificate_id"],
            resident_code=row["resident_code"],
            individual_number=row["individual_number"],
            from_lg_code=self.lg_code,
            family_name=row["family_name"],
            given_name=row["given_name"],
            family_name_kana=row["family_name_kana"],
            given_name_kana=row["given_name_kana"],
            former_surname=row["former_surname"],
            former_surname_kana=row["former_surname_kana"],
            date_of_birth=row["date_of_birth"],
            sex=Sex(row["sex"]),
            address=row["address"],
            planned_on=row["removed_on"],
            destination=row["destination"],
            destination_lg_code=row["destination_lg_code"],
            seq=row["seq"],
            last_event_on=row["last_event_on"],
            moved_in_at_lg_code=row["moved_in_at_lg_code"],
            stay_expires_on=row["stay_expires_on"],
        )

    def _latest_move_out(self, s: Session, code: str, *, lock: bool = False) -> RowMapping:
        code = rules.resident_code(code)
        q = (
            select(residents)
            .where(
                residents.c.resident_code == code,
                residents.c.removal_reason == RemovalReason.MOVED_OUT.value,
            )
            .order_by(residents.c.record_id.desc())
            .limit(1)
        )
        if lock:
            q = q.with_for_update()
        row = s.execute(q).mappings().first()
        later = s.execute(
            select(residents.c.record_id).where(
                residents.c.resident_code == code,
                residents.c.record_id > (row["record_id"] if row is not None else -1),
            )
        ).first()
        if row is None or later is not None:
            raise NoMoveOut("no outstanding move-out (転出) for that resident here")
        return row

    def move_out_certificate(self, resident_code: str) -> MoveOutCertificate:
        """The move-out certificate data of the resident's latest move-out from here."""
        with self.store.transaction() as s:
            return self._certificate(self._latest_move_out(s, resident_code))
