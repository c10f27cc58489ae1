"""Seeding the demo town into the registries, and resetting an installation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openmyna.config import Settings
from openmyna.demo.town import TownHousehold, generate_town
from openmyna.registry import Registries, find_municipality
from openmyna.store import drop_all

#: Real municipalities named in the source documents: 前橋市, 都城市, 神戸市, 高松市, 姫路市.
DEMO_MUNICIPALITIES: tuple[str, ...] = ("102016", "452025", "281000", "372013", "282014")


@dataclass(frozen=True)
class SeedResult:
    """What seeding did."""

    residents: int
    households: int
    municipalities: tuple[str, ...]
    reused: bool


def seed_town(
    registries: Registries,
    residents: int,
    *,
    municipalities: Sequence[str] = DEMO_MUNICIPALITIES,
    seed: int = 2018,
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Create the demo municipalities and register ``residents`` synthetic people in them.

    A town that is already seeded is reused as it is.
    """
    existing = registries.count() if registries.list_municipalities() else 0
    if existing:
        return SeedResult(
            existing, 0, tuple(m.lg_code for m in registries.list_municipalities()), True
        )
    places = [find_municipality(code) for code in municipalities]
    for m in places:
        registries.add_municipality(m.lg_code)
    town = generate_town(
        residents,
        [(m.lg_code, m.full_name, m.population) for m in places],
        today=registries.clock.today(),
        seed=seed,
    )
    by_place: dict[str, list[TownHousehold]] = defaultdict(list)
    for household in town:
        by_place[household.lg_code].append(household)
    done = 0
    for m in places:
        base = done

        def step(n: int, base: int = base) -> None:
            if progress is not None:
                progress(base + n)

        result = registries.municipality(m.lg_code).register_households(
            by_place[m.lg_code], progress=step
        )
        done += result.residents
    registries.sync()
    return SeedResult(done, len(town), tuple(m.lg_code for m in places), False)


def reset_installation(settings: Settings) -> int:
    """Delete every database of this installation (and the NATS stream, if used)."""
    if settings.bus_url is not None:
        from openmyna.bus.nats import NatsBus

        NatsBus(settings).drop()
    return drop_all(settings)
