"""Seeding the demo town into the registries; reuse and reset."""

from __future__ import annotations

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import DEMO_MUNICIPALITIES, reset_installation, seed_town
from openmyna.platform import Platform


def test_seed_registers_everyone_and_fills_the_index(settings: Settings, clock: FixedClock) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        seen: list[int] = []
        result = seed_town(platform.registries, 1_000, progress=seen.append)
        assert result.residents == 1_000
        assert not result.reused
        assert result.municipalities == DEMO_MUNICIPALITIES
        assert platform.registries.count() == 1_000
        assert seen
        assert seen[-1] == 1_000
        assert seen == sorted(seen)
        # every resident's identity reached the national index through the bus
        reg = platform.registries.municipality("281000")
        for r in reg.list_residents(limit=20):
            entry = platform.registries.index.by_resident_code(r.resident_code)
            assert entry.individual_number == r.individual_number
            assert entry.lg_code == "281000"
    finally:
        platform.close()


def test_second_run_reuses_the_town(settings: Settings, clock: FixedClock) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        seed_town(platform.registries, 200)
    finally:
        platform.close()
    again = Platform(Builder(settings, clock))
    try:
        result = seed_town(again.registries, 500)
        assert result.reused
        assert result.residents == 200
        assert again.registries.count() == 200
    finally:
        again.close()


def test_reset_deletes_everything(settings: Settings, clock: FixedClock) -> None:
    platform = Platform(Builder(settings, clock))
    try:
        seed_town(platform.registries, 100)
    finally:
        platform.close()
    assert reset_installation(settings) >= 7  # 5 registries, index, numbering, bus
    fresh = Platform(Builder(settings, clock))
    try:
        assert fresh.registries.list_municipalities() == []
        assert seed_town(fresh.registries, 50).residents == 50
    finally:
        fresh.close()


def test_demo_seeds_the_network_with_the_scenario_family(
    settings: Settings, clock: FixedClock
) -> None:
    from openmyna.demo.family import FAMILY, find_family
    from openmyna.demo.scenario import application_for, run_child_allowance
    from openmyna.demo.seed import seed_demo

    platform = Platform(Builder(settings, clock))
    try:
        steps: list[tuple[int, int]] = []
        result = seed_demo(platform, 200, network_progress=lambda n, t: steps.append((n, t)))
        # --residents counts everyone: the family's 4 are part of the 200.
        assert result.residents == platform.registries.count() == 200
        assert result.town.residents == 200 - len(FAMILY)
        assert result.households == result.town.households + 1
        assert not result.network.reused
        assert result.network.items > 0
        assert steps
        assert steps[-1][0] == steps[-1][1]
        family = find_family(platform.registries)
        assert family == result.network.family
        report = run_child_allowance(platform.network, application_for(family), show_refusal=False)
        assert report.local_tax is not None
        assert report.resident_registry is not None
        assert platform.health()["network"]["hub"] == "open"
    finally:
        platform.close()
    again = Platform(Builder(settings, clock))
    try:
        second = seed_demo(again, 500)
        assert second.town.reused
        assert second.network.reused
        assert second.residents == again.registries.count() == 200
    finally:
        again.close()
