"""Helpers shared by the registry tests (imported as a plain module)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from openmyna.builder import Builder
from openmyna.bus import Bus
from openmyna.registry import NewHousehold, NewPerson, Registries, Sex
from openmyna.store import Store

MAEBASHI = "102016"  # 群馬県前橋市
KOBE = "281000"  # 兵庫県神戸市
TAKAMATSU = "372013"  # 香川県高松市


def on_bus(parts: Builder, bus: Bus | None, **options: bool) -> Registries:
    """Registries on a bus the test chooses (a broken one, or none); the rest from ``parts``."""
    return Registries(
        parts.settings,
        parts.identity_index(),
        parts.clock,
        numbers=parts.numbering,
        bus=bus,
        **options,
    )


def person(
    family: str = "山田",
    given: str = "太郎",
    family_kana: str = "ヤマダ",
    given_kana: str = "タロウ",
    born: dt.date = dt.date(1980, 5, 17),
    sex: Sex = Sex.MALE,
    relationship: str | None = None,
) -> NewPerson:
    """A person to register."""
    return NewPerson(
        family_name=family,
        given_name=given,
        family_name_kana=family_kana,
        given_name_kana=given_kana,
        date_of_birth=born,
        sex=sex,
        relationship=relationship,
    )


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a store (to assert that nothing changed)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as conn:
        for name, table in sorted(store.kind.metadata.tables.items()):
            rows = conn.execute(select(table)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


FAMILIES = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ")]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美咲", "ミサキ")]


def households(n_people: int, prefix: str = "前橋市大手町") -> list[NewHousehold]:
    """Households of 1-4 members (head, 妻, 子…) totalling ``n_people``."""
    out: list[NewHousehold] = []
    made = 0
    i = 0
    while made < n_people:
        size = min(1 + i % 4, n_people - made)
        fam, fam_kana = FAMILIES[i % len(FAMILIES)]
        members = []
        for j in range(size):
            given, given_kana = GIVEN[(i + j) % len(GIVEN)]
            members.append(
                NewPerson(
                    family_name=fam,
                    given_name=given,
                    family_name_kana=fam_kana,
                    given_name_kana=given_kana,
                    date_of_birth=dt.date(1950 + (i * 7 + j * 13) % 70, 1 + j % 12, 1 + i % 28),
                    sex=Sex.MALE if (i + j) % 2 else Sex.FEMALE,
                    relationship=("世帯主", "妻", "子", "子")[j],
                )
            )
        out.append(NewHousehold(f"{prefix}{i + 1}番地", tuple(members)))
        made += size
        i += 1
    return out
