"""The legal age (年齢計算ニ関スル法律, 民法 第143条) and birthdays after a day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.law import age_on, birthday_in, day_reaching_age, has_reached, nth_birthday_after
from openmyna.law.dates import DateBeforeBirth

D = dt.date


def test_an_age_is_reached_at_the_end_of_the_day_before_the_birthday() -> None:
    # 15th birthday 2026-04-02: 15 at the end of 2026-04-01, so 15 on that day.
    assert day_reaching_age(D(2011, 4, 2), 15) == D(2026, 4, 1)
    assert age_on(D(2011, 4, 2), D(2026, 3, 31)) == 14
    assert age_on(D(2011, 4, 2), D(2026, 4, 1)) == 15
    assert age_on(D(2011, 4, 1), D(2026, 4, 1)) == 15
    assert age_on(D(2011, 4, 1), D(2026, 3, 30)) == 14


def test_election_day_the_day_before_the_18th_birthday_counts_as_18() -> None:
    election_day = D(2026, 7, 12)
    assert has_reached(D(2008, 7, 13), 18, election_day)  # 18th birthday the day after
    assert not has_reached(D(2008, 7, 14), 18, election_day)


def test_school_entry_splits_between_1_and_2_april() -> None:
    # 学校教育法 第17条: school starts in the school year after the day the child reaches 6.
    assert day_reaching_age(D(2020, 4, 1), 6) == D(2026, 3, 31)  # starts April 2026
    assert day_reaching_age(D(2020, 4, 2), 6) == D(2026, 4, 1)  # starts April 2027


def test_a_29_february_birth_reaches_each_age_at_the_end_of_28_february() -> None:
    born = D(2008, 2, 29)
    assert day_reaching_age(born, 15) == D(2023, 2, 28)  # common year: February's last day
    assert day_reaching_age(born, 16) == D(2024, 2, 28)  # leap year: the day before 29 Feb
    assert age_on(born, D(2023, 2, 27)) == 14
    assert age_on(born, D(2023, 2, 28)) == 15  # the day the card and the issuer disagreed on
    assert age_on(born, D(2024, 2, 28)) == 16
    assert age_on(born, D(2024, 2, 27)) == 15
    assert age_on(D(2004, 2, 29), D(2025, 2, 28)) == 21
    assert day_reaching_age(D(2008, 2, 29), 1) == D(2009, 2, 28)


def test_a_1_january_birth_reaches_the_age_on_31_december() -> None:
    assert age_on(D(2011, 1, 1), D(2025, 12, 31)) == 15
    assert age_on(D(2011, 1, 1), D(2025, 12, 30)) == 14
    assert age_on(D(2011, 1, 1), D(2011, 1, 1)) == 0
    assert age_on(D(2011, 1, 1), D(2011, 12, 31)) == 1


def test_age_zero_and_days_before_birth() -> None:
    assert age_on(D(2026, 3, 20), D(2026, 3, 20)) == 0
    assert has_reached(D(2026, 3, 20), 0, D(2026, 3, 20))
    with pytest.raises(DateBeforeBirth) as err:
        age_on(D(2026, 3, 20), D(2026, 3, 19))
    assert err.value.code == "DATE_BEFORE_BIRTH"
    with pytest.raises(DateBeforeBirth):
        has_reached(D(2026, 3, 20), 15, D(2026, 3, 19))
    with pytest.raises(ValueError, match="at least 1"):
        day_reaching_age(D(2026, 3, 20), 0)


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31)),
    st.integers(min_value=0, max_value=120),
)
def test_age_and_the_day_of_reaching_it_agree(born: dt.date, age: int) -> None:
    if age == 0:
        assert age_on(born, born) == 0
        return
    reached = day_reaching_age(born, age)
    assert age_on(born, reached) == age
    assert age_on(born, reached - dt.timedelta(days=1)) == age - 1
    assert has_reached(born, age, reached)
    assert not has_reached(born, age, reached - dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("born", "day", "n", "birthday"),
    [
        (D(1980, 5, 17), D(2026, 4, 1), 5, D(2030, 5, 17)),  # 1st birthday in 2026
        (D(1980, 3, 10), D(2026, 4, 1), 5, D(2031, 3, 10)),  # 1st birthday in 2027
        (D(1980, 5, 17), D(2026, 5, 17), 5, D(2031, 5, 17)),  # on the birthday: not "after"
        (D(1980, 5, 17), D(2026, 5, 16), 5, D(2030, 5, 17)),  # the day before
        (D(2000, 2, 29), D(2026, 4, 1), 5, D(2031, 2, 28)),  # no 29 February in 2031
        (D(2000, 2, 29), D(2027, 4, 1), 5, D(2032, 2, 29)),  # leap year
        (D(2000, 2, 29), D(2026, 4, 1), 10, D(2036, 2, 29)),
        (D(2000, 2, 29), D(2027, 4, 1), 10, D(2037, 2, 28)),
        (D(2026, 3, 20), D(2026, 3, 20), 5, D(2031, 3, 20)),  # the day of birth is no birthday
    ],
)
def test_the_nth_birthday_after_a_day(
    born: dt.date, day: dt.date, n: int, birthday: dt.date
) -> None:
    assert nth_birthday_after(born, day, n) == birthday


def test_birthdays_and_their_refusals() -> None:
    assert birthday_in(D(2000, 2, 29), 2031) == D(2031, 2, 28)
    assert birthday_in(D(2000, 2, 29), 2032) == D(2032, 2, 29)
    with pytest.raises(ValueError, match="from 1"):
        nth_birthday_after(D(1980, 5, 17), D(2026, 4, 1), 0)
    with pytest.raises(DateBeforeBirth):
        nth_birthday_after(D(2026, 5, 17), D(2026, 4, 1), 5)
