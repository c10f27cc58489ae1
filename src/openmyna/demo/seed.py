"""Seeding the demo town into the registries, and resetting an installation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openmyna.config import Settings
from openmyna.demo.town import TownHousehold, generate_town
from openmyna.registry import Registries, find_municipality
from openmyna.store import drop_all

if TYPE_CHECKING:
    from openmyna.demo.network_seed import NetworkSeedResult
    from openmyna.platform import Platform

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


@dataclass(frozen=True)
class DemoSeedResult:
    """What seeding the whole demo did: the town's registries and the network's nodes."""

    town: SeedResult
    network: NetworkSeedResult

    @property
    def residents(self) -> int:
        """Residents now registered (the scenario family included)."""
        return self.town.residents + (
            0 if self.network.reused else len(self.network.family.members)
        )

    @property
    def households(self) -> int:
        """Households registered (the scenario family's included)."""
        return self.town.households + (0 if self.network.reused else 1)


def seed_demo(
    platform: Platform,
    residents: int,
    *,
    seed: int = 2018,
    max_households: int | None = None,
    progress: Callable[[int], None] | None = None,
    network_progress: Callable[[int, int], None] | None = None,
) -> DemoSeedResult:
    """Seed the demo town, then the network part (``openmyna.demo.network_seed``); both idempotent.

    ``residents`` counts everyone: the town gets ``residents`` minus the scenario family
    (whose members are registered by their own events: registration at 前橋市 years ago, a
    birth, a move to 神戸市 this year). The nodes get items for the households with children,
    at most ``max_households`` per municipality (default
    ``demo.network_seed.DEFAULT_MAX_HOUSEHOLDS``).
    """
    from openmyna.demo.family import FAMILY
    from openmyna.demo.network_seed import DEFAULT_MAX_HOUSEHOLDS, seed_network

    town = seed_town(
        platform.registries, max(residents - len(FAMILY), 0), seed=seed, progress=progress
    )
    network = seed_network(
        platform.network,
        platform.registries,
        seed=seed,
        max_households=DEFAULT_MAX_HOUSEHOLDS if max_households is None else max_households,
        progress=network_progress,
    )
    return DemoSeedResult(town, network)


def reset_installation(settings: Settings) -> int:
    """Delete every database of this installation (and the NATS stream, if used)."""
    if settings.bus_url is not None:
        from openmyna.bus.nats import NatsBus

        NatsBus(settings).drop()
    return drop_all(settings)
