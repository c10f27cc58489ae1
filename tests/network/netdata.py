"""Test data shared by the network tests: two municipalities, a local-tax item, residents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from openmyna.registry import NewPerson, Registries, Sex

MAEBASHI = "102016"
A = "lg-102016"  # 前橋市: the provider (it levies the resident tax)
B = "lg-131024"  # 中央区: the requester (child allowance)
AFFAIR = "child_allowance"
TAX: dict[str, Any] = {
    "as_of": "2025-06-01",
    "fiscal_year": 2025,
    "levying_lg_code": "102016",
    "status": "taxed",
    "income_categories": ["salary"],
    "total_income": 4_200_000,
    "taxable_income": 2_900_000,
    "municipal_tax": 174_321,
    "prefectural_tax": 116_000,
}


def add_residents(regs: Registries, count: int) -> list[str]:
    """``count`` people moved into 前橋市 from abroad (index synced); their numbers."""
    if MAEBASHI not in {m.lg_code for m in regs.list_municipalities()}:
        regs.add_municipality(MAEBASHI)
    town = regs.municipality(MAEBASHI)
    numbers = []
    for i in range(count):
        person = NewPerson(
            family_name="山田",
            given_name="花子",
            family_name_kana="ヤマダ",
            given_name_kana="ハナコ",
            date_of_birth=dt.date(1985, 4, 1) + dt.timedelta(days=i),
            sex=Sex.FEMALE,
        )
        moved = town.move_in_from_abroad(
            person, on=dt.date(2025, 3, 1), address=f"前橋市大手町{i + 1}番"
        )
        numbers.append(moved.individual_number)
    regs.sync()
    return numbers
