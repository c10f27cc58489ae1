"""A synthetic town: households whose age and sex mix follows the 2018 population table.

Individuals are drawn first from the table (so the mix holds whatever the size), then grouped
into families: children with one or two parents of plausible ages, some three-generation
households, couples, and people living alone. Names come from Faker's ja_JP name lists
(kanji with katakana readings), addresses from its ja_JP town names inside real
municipalities.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from faker.providers.address.ja_JP import Provider as _AddressData
from faker.providers.person.ja_JP import Provider as _PersonData

from openmyna.numbers.redaction import masked_repr

MALE, FEMALE = 1, 2  # ISO 5218
MAX_AGE = 104


@dataclass(frozen=True)
class AgeBand:
    """One row of the 2018 table: residents by sex in an age band."""

    age_from: int
    age_to: int
    male: int
    female: int


@dataclass(frozen=True)
class TownPerson:
    """One synthetic resident, before registration."""

    family_name: str
    family_name_kana: str
    given_name: str
    given_name_kana: str
    sex: int
    date_of_birth: dt.date
    relationship: str  # 世帯主, 妻, 夫, 子, 父, 母

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class TownHousehold:
    """A household at one address in one municipality."""

    lg_code: str
    address: str
    members: tuple[TownPerson, ...]

    def __repr__(self) -> str:
        return masked_repr(self)


def population_2018() -> list[AgeBand]:
    """The 2018-01-01 population by age band and sex (seeds/001, table 4)."""
    text = resources.files("openmyna.demo").joinpath("data/population_2018.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [
        AgeBand(int(r["age_from"]), int(r["age_to"]), int(r["male"]), int(r["female"]))
        for r in rows
    ]


class _Pool:
    """How many people of each (sex, age) are still to be placed."""

    def __init__(self, rng: random.Random, size: int) -> None:
        bands = population_2018()
        cells: list[tuple[int, int]] = []
        weights: list[float] = []
        for band in bands:
            span = band.age_to - band.age_from + 1
            for age in range(band.age_from, band.age_to + 1):
                cells += [(MALE, age), (FEMALE, age)]
                weights += [band.male / span, band.female / span]
        self.count = {MALE: [0] * (MAX_AGE + 1), FEMALE: [0] * (MAX_AGE + 1)}
        for sex, age in rng.choices(cells, weights=weights, k=size):
            self.count[sex][age] += 1
        self.left = size

    def take(self, sex: int, age: int, lo: int = 0, hi: int = MAX_AGE) -> int | None:
        """Take one person of ``sex`` nearest to ``age`` within [lo, hi]; their age, or None."""
        counts = self.count[sex]
        age = min(max(age, lo), hi)
        for d in range(MAX_AGE + 1):
            for a in (age - d, age + d) if d else (age,):
                if lo <= a <= hi and counts[a] > 0:
                    counts[a] -= 1
                    self.left -= 1
                    return a
            if age - d < lo and age + d > hi:
                return None
        return None

    def any_person(self, rng: random.Random) -> tuple[int, int]:
        """Take someone, the oldest remaining first among a random sex."""
        for sex in rng.sample((MALE, FEMALE), 2):
            for a in range(MAX_AGE, -1, -1):
                if self.count[sex][a] > 0:
                    self.count[sex][a] -= 1
                    self.left -= 1
                    return sex, a
        raise LookupError("pool is empty")

    def children(self) -> Iterator[tuple[int, int]]:
        """Yield (sex, age) of remaining children under 18, removing them."""
        while True:
            found = [(s, a) for s in (MALE, FEMALE) for a in range(18) if self.count[s][a] > 0]
            if not found:
                return
            yield self._take_exact(*found[0])

    def _take_exact(self, sex: int, age: int) -> tuple[int, int]:
        self.count[sex][age] -= 1
        self.left -= 1
        return sex, age


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Faker weights surnames by their real frequency.
        self.families = [(k, kana) for (k, kana, _), _w in _PersonData.last_name_pairs.items()]
        self.family_weights = [float(w) for w in _PersonData.last_name_pairs.values()]

    def family(self) -> tuple[str, str]:
        return self.rng.choices(self.families, weights=self.family_weights)[0]

    def given(self, sex: int) -> tuple[str, str]:
        pairs = (
            _PersonData.first_name_male_pairs
            if sex == MALE
            else _PersonData.first_name_female_pairs
        )
        kanji, kana, _ = self.rng.choice(pairs)
        return kanji, kana


def _sibling(sex: int, older: bool) -> str:
    """The relationship term for a sibling of the head (兄, 弟, 姉, 妹)."""
    if sex == MALE:
        return "兄" if older else "弟"
    return "姉" if older else "妹"


def _birth_date(rng: random.Random, age: int, today: dt.date) -> dt.date:
    """A date of birth giving exactly ``age`` years on ``today``."""
    try:
        latest = today.replace(year=today.year - age)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year - age, day=28)
    return latest - dt.timedelta(days=rng.randrange(365))


def generate_town(
    size: int,
    municipalities: Sequence[tuple[str, str, int]],
    *,
    today: dt.date,
    seed: int = 2018,
) -> list[TownHousehold]:
    """Households for ``size`` people spread over (lg_code, name-with-prefecture, weight)."""
    if size < 0:
        raise ValueError("size must not be negative")
    if not municipalities:
        raise ValueError("at least one municipality is needed")
    rng = random.Random(seed)
    pool = _Pool(rng, size)
    names = _Names(rng)
    groups: list[list[tuple[int, int, str]]] = []

    # Families with children: each child gets parents of plausible ages, siblings join.
    for sex, age in pool.children():
        members = [(sex, age, "子")]
        mother = pool.take(FEMALE, age + rng.randint(24, 36), lo=age + 16, hi=age + 50)
        father = None
        if mother is None or rng.random() < 0.88:
            base = mother if mother is not None else age + 30
            father = pool.take(MALE, base + rng.randint(-1, 4), lo=age + 16, hi=age + 60)
        for _ in range(rng.choices((0, 1, 2), weights=(45, 40, 15))[0]):
            sib_age = age + rng.choice((-4, -3, -2, 2, 3, 4))
            for sib_sex in rng.sample((MALE, FEMALE), 2):
                got = pool.take(sib_sex, sib_age, lo=0, hi=17)
                if got is not None:
                    members.append((sib_sex, got, "子"))
                    break
        head: list[tuple[int, int, str]] = []
        if father is not None:
            head.append((MALE, father, "世帯主"))
            if mother is not None:
                head.append((FEMALE, mother, "妻"))
        elif mother is not None:
            head.append((FEMALE, mother, "世帯主"))
        else:  # nobody old enough left: the child heads the household with siblings
            members = [(sex, age, "世帯主")] + [
                (s, a, _sibling(s, a > age)) for s, a, _ in members[1:]
            ]
        if head and rng.random() < 0.12:
            eldest = head[0][1]
            gp_sex = rng.choice((MALE, FEMALE))
            gp = pool.take(gp_sex, eldest + rng.randint(26, 34), lo=eldest + 18, hi=MAX_AGE)
            if gp is not None:
                members.append((gp_sex, gp, "父" if gp_sex == MALE else "母"))
        groups.append(head + members)

    # Remaining adults: couples of similar age, else alone.
    while pool.left > 0:
        sex, age = pool.any_person(rng)
        group = [(sex, age, "世帯主")]
        if age >= 22 and rng.random() < 0.6:
            other = FEMALE if sex == MALE else MALE
            delta = rng.randint(-2, 5) if sex == MALE else rng.randint(-5, 2)
            partner = pool.take(other, age - delta, lo=max(18, age - 8), hi=min(MAX_AGE, age + 8))
            if partner is not None:
                group.append((other, partner, "妻" if other == FEMALE else "夫"))
        groups.append(group)

    rng.shuffle(groups)
    weights = [w for _, _, w in municipalities]
    households: list[TownHousehold] = []
    for group in groups:
        lg_code, place, _ = rng.choices(municipalities, weights=weights)[0]
        family = names.family()
        people = []
        for sex, age, relationship in group:
            given = names.given(sex)
            people.append(
                TownPerson(
                    family_name=family[0],
                    family_name_kana=family[1],
                    given_name=given[0],
                    given_name_kana=given[1],
                    sex=sex,
                    date_of_birth=_birth_date(rng, age, today),
                    relationship=relationship,
                )
            )
        address = (
            f"{place}{rng.choice(_AddressData.towns)}"
            f"{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        )
        households.append(TownHousehold(lg_code, address, tuple(people)))
    return households
