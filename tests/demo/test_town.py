"""The synthetic town follows the 2018 age and sex table and forms plausible households."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from openmyna.demo.town import FEMALE, MALE, generate_town, population_2018

TODAY = dt.date(2026, 4, 1)
PLACES = [("102016", "群馬県前橋市", 336_000), ("281000", "兵庫県神戸市", 1_537_000)]


def _age(born: dt.date) -> int:
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


def test_table_matches_the_documents_totals() -> None:
    bands = population_2018()
    assert sum(b.male for b in bands) == 62_298_872
    assert sum(b.female for b in bands) == 65_408_317
    assert sum(b.male + b.female for b in bands) == 127_707_189


@pytest.fixture(scope="module")
def town() -> list:  # type: ignore[type-arg]
    return generate_town(20_000, PLACES, today=TODAY, seed=7)


def test_size_is_exact(town: list) -> None:  # type: ignore[type-arg]
    assert sum(len(h.members) for h in town) == 20_000


def test_age_and_sex_mix_follows_the_table(town: list) -> None:  # type: ignore[type-arg]
    bands = population_2018()
    total = sum(b.male + b.female for b in bands)
    people = [p for h in town for p in h.members]
    per_band: Counter[tuple[int, int]] = Counter()
    for p in people:
        age = _age(p.date_of_birth)
        band = next(b for b in bands if b.age_from <= age <= b.age_to)
        per_band[(band.age_from, p.sex)] += 1
    for b in bands:
        for sex, expected in ((MALE, b.male), (FEMALE, b.female)):
            share = per_band[(b.age_from, sex)] / len(people)
            # multinomial noise on 20,000 draws: a few tenths of a percent at most
            assert abs(share - expected / total) < 0.004, (b, sex)


def test_households_are_plausible(town: list) -> None:  # type: ignore[type-arg]
    for h in town:
        heads = [p for p in h.members if p.relationship == "世帯主"]
        assert len(heads) == 1
        head_age = _age(heads[0].date_of_birth)
        for p in h.members:
            if p.relationship == "子":
                assert head_age - _age(p.date_of_birth) >= 16
            if p.relationship in ("妻", "夫"):
                assert p.sex != heads[0].sex
        assert h.address.startswith(("群馬県前橋市", "兵庫県神戸市"))
        assert len({p.family_name for p in h.members}) == 1


def test_places_follow_their_weights(town: list) -> None:  # type: ignore[type-arg]
    share = sum(len(h.members) for h in town if h.lg_code == "281000") / 20_000
    assert 0.75 < share < 0.9  # 神戸市 has ~82 % of the two places' people


def test_same_seed_same_town() -> None:
    a = generate_town(500, PLACES, today=TODAY, seed=1)
    b = generate_town(500, PLACES, today=TODAY, seed=1)
    c = generate_town(500, PLACES, today=TODAY, seed=2)
    assert a == b
    assert a != c


def test_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        generate_town(-1, PLACES, today=TODAY)
    with pytest.raises(ValueError, match="municipality"):
        generate_town(10, [], today=TODAY)
