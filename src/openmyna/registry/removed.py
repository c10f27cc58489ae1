"""Removed records (除票) of one registry: making one when a resident leaves, and certifying it.

A resident who moves out, dies or moves abroad keeps their row, now ``status = removed``, with
the date, the reason, the destination and the head of household at that moment; the
certificate of a removed record (除票の写し) is read from the latest one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import RowMapping, select, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.registry import rules
from openmyna.registry.errors import NotRemovedRecord, ResidentNotFound
from openmyna.registry.households import Households
from openmyna.registry.models import RemovalReason, RemovedRecordCertificate, Resident, Status
from openmyna.registry.municipalities import Municipality
from openmyna.registry.records import ResidentRecords
from openmyna.registry.tables import residents


class RemovedRecords:
    """The removed records (除票) of one municipality's registry."""

    def __init__(
        self,
        municipality: Municipality,
        clock: Clock,
        records: ResidentRecords,
        households: Households,
    ) -> None:
        self.municipality = municipality
        self.lg_code = municipality.lg_code
        self._clock = clock
        self._records = records
        self._households = households

    def remove(
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
        """Turn the current ``row`` into a removed record dated ``day``, leaving its household."""
        head_name = self._households.head_name(s, row)
        self._households.leave(s, row["household_id"], row["resident_code"])
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
        return self._records.resident(self._records.row_by_id(s, row["record_id"]))

    def certificate(
        self, resident_code: str, *, with_individual_number: bool = False
    ) -> RemovedRecordCertificate:
        """The data a certificate of the resident's latest removed record (除票の写し) shows."""
        resident_code = rules.resident_code(resident_code)
        with self._records.store.transaction() as s:
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
        r = self._records.resident(row)
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
