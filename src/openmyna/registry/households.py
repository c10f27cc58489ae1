"""Households (世帯) of one registry: where an arriving or moving person is placed, and leaving.

A person joins an existing current household (with a relationship to its head, 続柄) or heads a
new one at an address. ``Households.plan`` checks the placement before anything is written;
``Placement.settle`` writes it; ``Households.leave`` detaches a member and dissolves a household
left empty. All of them run inside the caller's event transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.numbers.redaction import masked_repr
from openmyna.registry import rules
from openmyna.registry.errors import HouseholdNotFound, InvalidResidentData
from openmyna.registry.models import Relationship, Status
from openmyna.registry.tables import households, residents


def _new_household_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Placement:
    """Where a newly arriving or moving person goes: an existing household or a new one."""

    household_id: str
    address: str
    relationship: Relationship
    new: bool

    def settle(self, s: Session, code: str, on: dt.date, now: dt.datetime) -> None:
        """Create the household if new, and record ``code`` as its head if they head it."""
        if self.new:
            s.execute(
                households.insert(),
                {
                    "household_id": self.household_id,
                    "address": self.address,
                    "head_resident_code": code,
                    "status": "current",
                    "created_on": on,
                    "updated_at": now,
                },
            )
        elif self.relationship is Relationship.HEAD:
            s.execute(
                update(households)
                .where(households.c.household_id == self.household_id)
                .values(head_resident_code=code, updated_at=now)
            )

    def __repr__(self) -> str:
        return masked_repr(self)


class Households:
    """The households of one municipality's registry, inside an event's transaction."""

    def __init__(self, lg_code: str, clock: Clock) -> None:
        self.lg_code = lg_code
        self._clock = clock

    def _locked(self, s: Session, household_id: str) -> RowMapping:
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

    def plan(
        self,
        s: Session,
        *,
        address: str | None,
        household_id: str | None,
        relationship: Relationship | str | None,
    ) -> Placement:
        """Check where a person goes (``household_id`` to join, or ``address`` to head one)."""
        if household_id is not None:
            hh = self._locked(s, household_id)
            if address is not None and rules.address(address) != hh["address"]:
                raise InvalidResidentData("the address differs from the household's address")
            if relationship is None:
                raise InvalidResidentData("joining a household needs a relationship (続柄)")
            rel = Relationship.parse(relationship)
            if rel is Relationship.HEAD and hh["head_resident_code"] is not None:
                raise InvalidResidentData("the household already has a head (世帯主)")
            return Placement(household_id, hh["address"], rel, new=False)
        if address is None:
            raise InvalidResidentData("either an address or a household is needed")
        rel = Relationship.parse(relationship) if relationship is not None else Relationship.HEAD
        if rel is not Relationship.HEAD:
            raise InvalidResidentData("the first member of a new household is its head (世帯主)")
        return Placement(_new_household_id(), rules.address(address), rel, new=True)

    def leave(self, s: Session, household_id: str, code: str) -> None:
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

    def head_name(self, s: Session, row: RowMapping) -> str | None:
        """The name of the head of the household of the resident ``row``, if it has one."""
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
