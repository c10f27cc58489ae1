"""Seeding the demo town into the registries; reuse and reset."""

from __future__ import annotations

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.demo.seed import DEMO_MUNICIPALITIES, reset_installation, seed_town
from openmyna.platform import Platform


def test_seed_registers_everyone_and_fills_the_index(settings: Settings, clock: FixedClock) -> None:
    platform = Platform(settings, clock)
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
    platform = Platform(settings, clock)
    try:
        seed_town(platform.registries, 200)
    finally:
        platform.close()
    again = Platform(settings, clock)
    try:
        result = seed_town(again.registries, 500)
        assert result.reused
        assert result.residents == 200
        assert again.registries.count() == 200
    finally:
        again.close()


def test_reset_deletes_everything(settings: Settings, clock: FixedClock) -> None:
    platform = Platform(settings, clock)
    try:
        seed_town(platform.registries, 100)
    finally:
        platform.close()
    assert reset_installation(settings) >= 7  # 5 registries, index, numbering, bus
    fresh = Platform(settings, clock)
    try:
        assert fresh.registries.list_municipalities() == []
        assert seed_town(fresh.registries, 50).residents == 50
    finally:
        fresh.close()
