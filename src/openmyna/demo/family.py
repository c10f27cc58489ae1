"""The family of the child-allowance scenario (X5), made by real registry events.

Registered at municipality A (前橋市) years ago, a second child born there, then this year a
move-out (転出) from A and a move-in (転入) at B (神戸市) keeping their numbers: on 1 January
they lived at A, which therefore levies the parents' resident tax, and they apply for child
allowance at B. ``demo.network_seed`` stores the family's items at A and B.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from openmyna.network.local_layouts import IncomeCategory
from openmyna.numbers.redaction import masked_repr
from openmyna.registry import (
    NewHousehold,
    NewPerson,
    Registries,
    Resident,
    Sex,
    Status,
    find_municipality,
)
from openmyna.registry import Relationship as RegistryRelationship

_PAGE: Final = 5000

#: Municipality A, where the family lived on 1 January (前橋市), and B, where it lives now.
FAMILY_FROM: Final = "102016"
FAMILY_TO: Final = "281000"


@dataclass(frozen=True)
class FamilyMember:
    """One member of the scenario family as registered (synthetic, fixed)."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    sex: Sex
    relationship: RegistryRelationship
    age: int  # years of age today (the scenario's dates follow the clock)
    birth_month_day: tuple[int, int]

    def __repr__(self) -> str:
        return masked_repr(self)


#: The family of the child-allowance scenario: parents and two children (the second born at A).
FAMILY: Final = (
    FamilyMember(
        "森田", "健太", "モリタ", "ケンタ", Sex.MALE, RegistryRelationship.HEAD, 36, (6, 12)
    ),
    FamilyMember(
        "森田", "美咲", "モリタ", "ミサキ", Sex.FEMALE, RegistryRelationship.WIFE, 34, (2, 3)
    ),
    FamilyMember(
        "森田", "陽翔", "モリタ", "ハルト", Sex.MALE, RegistryRelationship.CHILD, 6, (5, 14)
    ),
    FamilyMember(
        "森田", "結衣", "モリタ", "ユイ", Sex.FEMALE, RegistryRelationship.CHILD, 2, (9, 3)
    ),
)


#: The parents' total income (総所得金額等) in the year A's tax is computed on.
FAMILY_INCOMES: Final = {
    RegistryRelationship.HEAD: (4_680_000, IncomeCategory.SALARY),
    RegistryRelationship.WIFE: (380_000, IncomeCategory.SALARY),
}


@dataclass(frozen=True)
class ScenarioFamily:
    """The scenario family as it is now: living at B, moved from A this year."""

    from_lg_code: str
    to_lg_code: str
    moved_on: dt.date
    members: tuple[Resident, ...]  # their current records at B, head (the applicant) first

    @property
    def applicant(self) -> Resident:
        """The parent who applies for the child allowance (the head of household)."""
        return self.members[0]

    @property
    def children(self) -> tuple[Resident, ...]:
        """The children in the household."""
        return tuple(m for m in self.members if m.relationship is RegistryRelationship.CHILD)


def current_households(registries: Registries, lg_code: str) -> dict[str, list[Resident]]:
    """The municipality's current residents by household, in registration order, head first."""
    reg = registries.municipality(lg_code)
    by_household: dict[str, list[Resident]] = defaultdict(list)
    offset = 0
    while True:
        page = reg.list_residents(status=Status.CURRENT, limit=_PAGE, offset=offset)
        for r in page:
            by_household[r.household_id].append(r)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    for members in by_household.values():
        members.sort(key=lambda m: m.relationship is not RegistryRelationship.HEAD)
    return by_household


def find_family(
    registries: Registries, *, from_lg_code: str = FAMILY_FROM, to_lg_code: str = FAMILY_TO
) -> ScenarioFamily | None:
    """The scenario family at B (moved in from A), or None if it was not made yet."""
    known = {m.lg_code for m in registries.list_municipalities()}
    if from_lg_code not in known or to_lg_code not in known:
        return None
    head = FAMILY[0]
    for members in current_households(registries, to_lg_code).values():
        first = members[0]
        if (
            first.relationship is RegistryRelationship.HEAD
            and first.moved_in_from_lg_code == from_lg_code
            and (first.family_name, first.given_name) == (head.family_name, head.given_name)
        ):
            return ScenarioFamily(from_lg_code, to_lg_code, first.resident_since, tuple(members))
    return None


def _family_dates(today: dt.date) -> tuple[dt.date, dt.date, list[dt.date]]:
    """Registration day at A, the move day (this year), and the members' dates of birth."""
    births = []
    for member in FAMILY:
        month, day = member.birth_month_day
        year = today.year - member.age
        if (month, day) > (today.month, today.day):  # the birthday is still to come this year
            year -= 1
        births.append(dt.date(year, month, day))
    registered = dt.date(births[2].year + 1, 4, 1)  # after the first child, before the second
    moved = today - dt.timedelta(days=3)
    if moved.year != today.year:
        moved = today
    return registered, moved, births


def make_family(registries: Registries, *, from_lg_code: str, to_lg_code: str) -> ScenarioFamily:
    """Register the family at A, a birth there, then move-out from A and move-in at B."""
    today = registries.clock.today()
    registered, moved, births = _family_dates(today)
    a = registries.municipality(from_lg_code)
    b = registries.municipality(to_lg_code)
    town_a = find_municipality(from_lg_code).full_name
    town_b = find_municipality(to_lg_code).full_name
    people = [
        NewPerson(
            family_name=m.family_name,
            given_name=m.given_name,
            family_name_kana=m.family_name_kana,
            given_name_kana=m.given_name_kana,
            date_of_birth=born,
            sex=m.sex,
            relationship=m.relationship,
        )
        for m, born in zip(FAMILY, births, strict=True)
    ]
    a.register_households(
        [NewHousehold(address=f"{town_a}大手町二丁目12番1号", members=tuple(people[:3]))],
        on=registered,
        reason="scenario family: registration",
    )
    head_at_a = next(
        r
        for members in current_households(registries, from_lg_code).values()
        for r in members
        if (r.family_name, r.given_name, r.date_of_birth)
        == (FAMILY[0].family_name, FAMILY[0].given_name, births[0])
    )
    a.birth(people[3], household_id=head_at_a.household_id, relationship=RegistryRelationship.CHILD)
    at_a = a.household(head_at_a.household_id).members
    address_b = f"{town_b}本町六丁目1番3号"
    for r in at_a:
        a.move_out(
            r.resident_code,
            planned_on=moved,
            destination=address_b,
            destination_lg_code=to_lg_code,
            reason="scenario family: move-out",
        )
    head_b = b.move_in(
        at_a[0].resident_code, from_lg_code=from_lg_code, on=moved, address=address_b
    )
    for r in at_a[1:]:
        b.move_in(
            r.resident_code,
            from_lg_code=from_lg_code,
            on=moved,
            household_id=head_b.household_id,
            relationship=r.relationship,
        )
    registries.sync()
    members = b.household(head_b.household_id).members
    return ScenarioFamily(from_lg_code, to_lg_code, moved, members)
