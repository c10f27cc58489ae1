"""Demo seeding of the network: the items the municipalities' nodes hold, and the scenario family.

Each demo municipality's node gets, under that municipality's own agency-specific codes
(機関別符号, issued by the hub):

- ``resident_registry`` (住民票関係情報) for every member of its households with children:
  residence status, resident-since date and the household by relationship (続柄) and birth
  year, read from the municipality's registry (no name, address or number: the layout holds
  none);
- ``local_tax`` (地方税関係情報) for the adults of those households: synthetic but plausible
  resident tax for the latest fiscal year that is levied (:func:`tax_fiscal_year`),
  deterministic from the seed and the resident.

Only households with children are seeded, at most ``max_households`` per municipality (the
first ones in registration order): child-related affairs are what the demo shows, and issuing
a code costs a few hub round trips per person (see docs/network.md for the figures).

The scenario family (``demo.family.FAMILY``) is made by real registry events: registered at
municipality A (前橋市) years ago, a second child born there, then this year a move-out (転出)
from A and a move-in (転入) at B (神戸市) keeping their numbers. A keeps the parents'
``local_tax`` (A levied it: they lived there on 1 January) and answers ``resident_registry``
with the removed record (moved out, household as it was); B holds the family's residence.

Seeding is idempotent: a run that finds the family at B and A's tax item for the applicant
has nothing to do; an interrupted run is completed by the next (codes are issued once, items
are replaced).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from openmyna.demo.family import (
    FAMILY_FROM,
    FAMILY_INCOMES,
    FAMILY_TO,
    ScenarioFamily,
    current_households,
    find_family,
    make_family,
)
from openmyna.law import age_on
from openmyna.network.agencies import municipality_agency_id
from openmyna.network.layouts import latest_version, validate_item
from openmyna.network.local import LocalNetwork
from openmyna.network.local_layouts import (
    HouseholdMember,
    IncomeCategory,
    Relationship,
    ResidenceStatus,
    TaxStatus,
)
from openmyna.registry import (
    Arrival,
    Registries,
    Resident,
)
from openmyna.registry import Relationship as RegistryRelationship

__all__ = [
    "DEFAULT_MAX_HOUSEHOLDS",
    "NetworkSeedResult",
    "household_item",
    "local_tax_items",
    "seed_network",
    "tax_fiscal_year",
]

#: Households with children seeded per municipality (bounded to keep ``openmyna demo`` fast).
DEFAULT_MAX_HOUSEHOLDS: Final = 200
#: Adults (by age on the as-of date) get a local-tax item.
ADULT_AGE: Final = 18
CHILD_AGE: Final = 18

_PAGE = 5000
_WRITE_CHUNK = 500


@dataclass(frozen=True)
class NetworkSeedResult:
    """What network seeding did."""

    households: int
    people: int  # persons given a code at their municipality
    items: int
    family: ScenarioFamily
    reused: bool


# --- helpers -----------------------------------------------------------------------------------


def tax_fiscal_year(today: dt.date) -> int:
    """The latest fiscal year (年度) whose resident tax is levied by ``today``.

    Resident tax for fiscal year Y is computed on the income of Y-1 by the municipality where
    the person lived on 1 January of Y, and notified in June of Y; before June the latest
    levied year is Y-1.
    """
    return today.year if today.month >= 6 else today.year - 1


_RELATIONSHIP = {
    RegistryRelationship.HEAD: Relationship.HEAD,
    RegistryRelationship.WIFE: Relationship.SPOUSE,
    RegistryRelationship.HUSBAND: Relationship.SPOUSE,
    RegistryRelationship.CHILD: Relationship.CHILD,
    RegistryRelationship.FATHER: Relationship.PARENT,
    RegistryRelationship.MOTHER: Relationship.PARENT,
    RegistryRelationship.GRANDCHILD: Relationship.GRANDCHILD,
    RegistryRelationship.GRANDFATHER: Relationship.GRANDPARENT,
    RegistryRelationship.GRANDMOTHER: Relationship.GRANDPARENT,
    RegistryRelationship.ELDER_BROTHER: Relationship.SIBLING,
    RegistryRelationship.YOUNGER_BROTHER: Relationship.SIBLING,
    RegistryRelationship.ELDER_SISTER: Relationship.SIBLING,
    RegistryRelationship.YOUNGER_SISTER: Relationship.SIBLING,
    RegistryRelationship.CHILD_SPOUSE: Relationship.OTHER_RELATIVE,
    RegistryRelationship.SPOUSE_PARENT: Relationship.OTHER_RELATIVE,
    RegistryRelationship.RELATIVE: Relationship.NON_RELATIVE,
    RegistryRelationship.COHABITANT: Relationship.NON_RELATIVE,
}


def household_item(
    subject: Resident,
    household: Sequence[Resident],
    *,
    lg_code: str,
    as_of: dt.date,
    status: ResidenceStatus = ResidenceStatus.RESIDENT,
    left_on: dt.date | None = None,
) -> dict[str, Any]:
    """A ``resident_registry`` payload for ``subject``: residence and household, no identity."""
    members = [
        HouseholdMember(
            relationship=_RELATIONSHIP[m.relationship],
            birth_year=m.date_of_birth.year,
            subject=m.resident_code == subject.resident_code,
        )
        for m in household
    ]
    payload = {
        "as_of": as_of.isoformat(),
        "lg_code": lg_code,
        "status": str(status),
        "resident_since": subject.resident_since.isoformat(),
        "left_on": left_on.isoformat() if left_on is not None else None,
        "members": [m.model_dump(mode="json") for m in members],
    }
    return validate_item(
        "resident_registry", latest_version("resident_registry"), payload
    ).model_dump(mode="json")


def _round_down(value: float, unit: int) -> int:
    return max(0, int(value) // unit * unit)


def _raw_income(
    rng: random.Random, age: int, relationship: RegistryRelationship
) -> tuple[int, str]:
    """A synthetic total income (総所得金額等, yen) and its main category."""
    if age >= 65:
        if rng.random() < 0.25:
            return 0, IncomeCategory.PUBLIC_PENSION
        return _round_down(rng.lognormvariate(13.9, 0.5), 1000), IncomeCategory.PUBLIC_PENSION
    if age < 23 and relationship is RegistryRelationship.CHILD:
        if rng.random() < 0.7:
            return 0, IncomeCategory.SALARY
        return _round_down(rng.uniform(300_000, 900_000), 1000), IncomeCategory.SALARY
    if relationship in (RegistryRelationship.WIFE, RegistryRelationship.HUSBAND):
        draw = rng.random()
        if draw < 0.35:
            return 0, IncomeCategory.SALARY
        if draw < 0.65:
            return _round_down(rng.uniform(200_000, 1_000_000), 1000), IncomeCategory.SALARY
    category = IncomeCategory.BUSINESS if rng.random() < 0.08 else IncomeCategory.SALARY
    median = 3_800_000 if relationship is RegistryRelationship.HEAD else 2_600_000
    income = min(rng.lognormvariate(0.0, 0.45) * median, 30_000_000)
    return _round_down(max(income, 600_000), 1000), category


def _tax(
    total: int,
    category: str,
    dependants: dict[str, Any],
    *,
    fiscal_year: int,
    lg_code: str,
    as_of: dt.date,
    not_declared: bool,
) -> dict[str, Any]:
    """A ``local_tax`` payload: deductions, the non-taxable limit and the 6 % + 4 % levy."""
    n_dependants = int(dependants["spouse"]) + sum(
        dependants[k] for k in ("general", "specified", "elderly", "under_16")
    )
    base: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "fiscal_year": fiscal_year,
        "levying_lg_code": lg_code,
        "dependants": dependants,
    }
    if total == 0:
        status = TaxStatus.NOT_DECLARED if not_declared else TaxStatus.NON_TAXABLE
        return base | {
            "status": str(status),
            "income_categories": [],
            "total_income": 0,
            "taxable_income": 0,
            "municipal_tax": 0,
            "prefectural_tax": 0,
        }
    social = total * (14 if category in (IncomeCategory.SALARY, IncomeCategory.BUSINESS) else 5)
    deductions = (
        430_000  # 基礎控除
        + social // 100  # 社会保険料控除 (approximate)
        + 330_000 * int(dependants["spouse"])
        + 330_000 * dependants["general"]
        + 450_000 * dependants["specified"]
        + 380_000 * dependants["elderly"]
    )
    taxable = _round_down(total - deductions, 1000)
    limit = 450_000 if n_dependants == 0 else 350_000 * (1 + n_dependants) + 310_000
    if total <= limit:
        status, municipal, prefectural, taxable = TaxStatus.NON_TAXABLE, 0, 0, 0
    elif taxable == 0:
        status, municipal, prefectural = TaxStatus.PER_CAPITA_ONLY, 3_500, 1_500
    else:
        status = TaxStatus.TAXED
        municipal = _round_down(taxable * 6 / 100, 100) + 3_500
        prefectural = _round_down(taxable * 4 / 100, 100) + 1_500
    return base | {
        "status": str(status),
        "income_categories": [str(category)],
        "total_income": total,
        "taxable_income": taxable,
        "municipal_tax": municipal,
        "prefectural_tax": prefectural,
    }


def _levied_here(resident: Resident, jan1: dt.date) -> bool:
    """Whether this municipality levies the person's tax: they lived here on 1 January.

    The demo town's initial registration (初期登録) stands for residents of long standing.
    """
    return resident.arrival is Arrival.REGISTERED or resident.resident_since <= jan1


def local_tax_items(
    household: Sequence[Resident],
    *,
    lg_code: str,
    as_of: dt.date,
    seed: int,
    incomes: Mapping[str, tuple[int, IncomeCategory]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``local_tax`` payloads for the household's adults taxed here, by resident code.

    Only adults who lived here on 1 January of the fiscal year are taxed here (a resident who
    moved in since is taxed by the municipality they came from). Incomes are drawn per
    resident (deterministic from ``seed`` and the resident code) unless ``incomes`` gives one
    (total income, category) by resident code; the head claims the household's dependants (a
    spouse with a small income, children and elderly parents), others claim none.
    """
    fiscal_year = tax_fiscal_year(as_of)
    jan1 = dt.date(fiscal_year, 1, 1)
    raw: dict[str, tuple[int, str, bool]] = {}
    for m in household:
        age = age_on(m.date_of_birth, as_of)
        if age < ADULT_AGE or not _levied_here(m, jan1):
            continue
        rng = random.Random(f"{seed}:{m.resident_code}")
        total, category = _raw_income(rng, age, m.relationship)
        if incomes is not None and m.resident_code in incomes:
            total, category = incomes[m.resident_code]
        raw[m.resident_code] = (total, category, age < 65 and rng.random() < 0.3)
    out: dict[str, dict[str, Any]] = {}
    for m in household:
        if m.resident_code not in raw:
            continue
        dependants: dict[str, Any] = {
            "spouse": False,
            "general": 0,
            "specified": 0,
            "elderly": 0,
            "under_16": 0,
        }
        if m.relationship is RegistryRelationship.HEAD:
            for other in household:
                if other.resident_code == m.resident_code:
                    continue
                income = raw.get(other.resident_code, (0, "", False))[0]
                if income > 480_000:
                    continue
                # Born since 1 January: not yet born on the day, counted as a child.
                born = other.date_of_birth
                age = age_on(born, jan1) if born <= jan1 else 0
                if other.relationship in (RegistryRelationship.WIFE, RegistryRelationship.HUSBAND):
                    dependants["spouse"] = True
                elif age < 16:
                    dependants["under_16"] += 1
                elif 19 <= age <= 22:
                    dependants["specified"] += 1
                elif age >= 70:
                    dependants["elderly"] += 1
                else:
                    dependants["general"] += 1
        total, category, not_declared = raw[m.resident_code]
        payload = _tax(
            total,
            category,
            dependants,
            fiscal_year=fiscal_year,
            lg_code=lg_code,
            as_of=as_of,
            not_declared=not_declared,
        )
        layout = validate_item("local_tax", latest_version("local_tax"), payload)
        out[m.resident_code] = layout.model_dump(mode="json")
    return out


def _put_items(
    network: LocalNetwork, agency_id: str, rows: Iterable[tuple[str, str, dict[str, Any]]]
) -> int:
    """Store validated (code, item, payload) rows in the agency's node database, in batches."""
    store = network.node(agency_id).store
    return store.put_items(
        [(code, item, latest_version(item), payload) for code, item, payload in rows],
        chunk=_WRITE_CHUNK,
    )


def _has_children(household: Sequence[Resident], today: dt.date) -> bool:
    return any(age_on(m.date_of_birth, today) < CHILD_AGE for m in household) and any(
        m.relationship is RegistryRelationship.HEAD for m in household
    )


def _family_items(
    network: LocalNetwork, registries: Registries, family: ScenarioFamily, *, seed: int
) -> int:
    """A's items (tax kept, the removed records) and B's residence items for the family."""
    today = registries.clock.today()
    a = registries.municipality(family.from_lg_code)
    at_a = [a.get(m.resident_code) for m in family.members]  # the removed records (除票)
    agency_a = municipality_agency_id(family.from_lg_code)
    agency_b = municipality_agency_id(family.to_lg_code)
    rows_a: list[tuple[str, str, dict[str, Any]]] = []
    fixed = {
        r.resident_code: income
        for r in at_a
        for relationship, income in FAMILY_INCOMES.items()
        if r.relationship is relationship
    }
    taxes = local_tax_items(
        at_a, lg_code=family.from_lg_code, as_of=today, seed=seed, incomes=fixed
    )
    for r in at_a:
        code = network.issue_code(agency_a, r.individual_number)
        if r.resident_code in taxes:
            rows_a.append((code, "local_tax", taxes[r.resident_code]))
        status = ResidenceStatus.MOVED_OUT if r.removed_on is not None else ResidenceStatus.RESIDENT
        rows_a.append(
            (
                code,
                "resident_registry",
                household_item(
                    r,
                    at_a,
                    lg_code=family.from_lg_code,
                    as_of=today,
                    status=status,
                    left_on=r.removed_on,
                ),
            )
        )
    rows_b = [
        (
            network.issue_code(agency_b, m.individual_number),
            "resident_registry",
            household_item(m, family.members, lg_code=family.to_lg_code, as_of=today),
        )
        for m in family.members
    ]
    # A's rows last, in one transaction: A's tax item of the applicant marks a finished run.
    n = _put_items(network, agency_b, rows_b)
    return n + _put_items(network, agency_a, rows_a)


def _seeded(network: LocalNetwork, family: ScenarioFamily) -> bool:
    agency_a = municipality_agency_id(family.from_lg_code)
    code = network.issue_code(agency_a, family.applicant.individual_number)
    return network.node(agency_a).store.get_item(code, "local_tax") is not None


# --- the whole seeding -------------------------------------------------------------------------


def seed_network(
    network: LocalNetwork,
    registries: Registries,
    *,
    seed: int = 2018,
    max_households: int | None = DEFAULT_MAX_HOUSEHOLDS,
    family_from: str = FAMILY_FROM,
    family_to: str = FAMILY_TO,
    progress: Callable[[int, int], None] | None = None,
) -> NetworkSeedResult:
    """Seed every municipality's node and make the scenario family (idempotent).

    ``max_households``: households with children seeded per municipality (None: all).
    ``progress(done, total)`` is called with people handled so far.
    """
    if max_households is not None and max_households < 0:
        raise ValueError("max_households must not be negative")
    family = find_family(registries, from_lg_code=family_from, to_lg_code=family_to)
    if family is not None and _seeded(network, family):
        return NetworkSeedResult(0, 0, 0, family, True)
    for lg_code in (family_from, family_to):
        registries.add_municipality(lg_code)  # idempotent; the demo town has both
    today = registries.clock.today()
    plan: list[tuple[str, list[list[Resident]]]] = []
    for m in registries.list_municipalities():
        chosen = [
            members
            for members in current_households(registries, m.lg_code).values()
            if _has_children(members, today)
        ]
        plan.append((m.lg_code, chosen[:max_households] if max_households is not None else chosen))
    total = sum(len(members) for _, households in plan for members in households)
    done = households_done = items = 0
    for lg_code, households in plan:
        agency = municipality_agency_id(lg_code)
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for members in households:
            taxes = local_tax_items(members, lg_code=lg_code, as_of=today, seed=seed)
            for r in members:
                code = network.issue_code(agency, r.individual_number)
                rows.append(
                    (
                        code,
                        "resident_registry",
                        household_item(r, members, lg_code=lg_code, as_of=today),
                    )
                )
                if r.resident_code in taxes:
                    rows.append((code, "local_tax", taxes[r.resident_code]))
            done += len(members)
            households_done += 1
            if progress is not None:
                progress(done, total)
        items += _put_items(network, agency, rows)
    if family is None:
        family = make_family(registries, from_lg_code=family_from, to_lg_code=family_to)
    items += _family_items(network, registries, family, seed=seed)
    people = done + len(family.members)
    return NetworkSeedResult(households_done + 1, people, items, family, False)
