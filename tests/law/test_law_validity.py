"""Validity periods by law: the card 命令, the JPKI 施行規則, the signature age."""

from __future__ import annotations

import datetime as dt

import pytest

from openmyna.law import (
    ADULT_AGE_LOWERED_ON,
    card_adult_age,
    card_last_day,
    certificate_last_day,
    may_hold_sign_cert,
)

D = dt.date


def test_the_age_for_the_ten_birthday_card_follows_the_application_date() -> None:
    assert D(2022, 4, 1) == ADULT_AGE_LOWERED_ON
    assert card_adult_age(D(2022, 3, 31)) == 20
    assert card_adult_age(D(2022, 4, 1)) == 18


@pytest.mark.parametrize(
    ("born", "applied", "issued", "last"),
    [
        (D(1980, 5, 17), D(2026, 3, 20), D(2026, 4, 1), D(2035, 5, 17)),  # adult: 10th
        (D(1980, 5, 17), D(2026, 5, 1), D(2026, 5, 17), D(2036, 5, 17)),  # issued on the birthday
        (D(1980, 5, 17), D(2026, 5, 1), D(2026, 5, 18), D(2036, 5, 17)),
        # 19 on the day of application (from 2022-04-01): the 10th birthday
        (D(2007, 4, 2), D(2026, 4, 1), D(2026, 4, 1), D(2035, 4, 2)),
        (D(2007, 6, 1), D(2026, 4, 1), D(2026, 4, 20), D(2035, 6, 1)),
        # 18 exactly: reached at the end of the day before the 18th birthday
        (D(2008, 4, 2), D(2026, 4, 1), D(2026, 4, 20), D(2036, 4, 2)),
        (D(2008, 4, 3), D(2026, 4, 1), D(2026, 4, 20), D(2031, 4, 3)),  # 17: the 5th
        # before 2022-04-01 the age was 20: a 19-year-old got the 5th birthday
        (D(2003, 5, 1), D(2022, 3, 31), D(2022, 4, 15), D(2026, 5, 1)),
        (D(2003, 5, 1), D(2022, 4, 1), D(2022, 4, 15), D(2031, 5, 1)),
        (D(2002, 4, 1), D(2022, 3, 31), D(2022, 4, 15), D(2032, 4, 1)),  # 20 on 2022-03-31
        # the age on the application day counts, not on the day of issue
        (D(2008, 6, 1), D(2026, 5, 1), D(2026, 6, 10), D(2031, 6, 1)),
        (D(2026, 3, 20), D(2026, 3, 25), D(2026, 4, 1), D(2031, 3, 20)),  # a baby
        (D(2000, 2, 29), D(2026, 3, 1), D(2026, 4, 1), D(2036, 2, 29)),  # leap-day birthday
        (D(2000, 2, 29), D(2027, 3, 1), D(2027, 4, 1), D(2037, 2, 28)),  # … in a common year
        # a person born on 29 February is 18 on 28 February of a common year
        (D(2008, 2, 29), D(2026, 2, 28), D(2026, 3, 10), D(2036, 2, 29)),
        (D(2008, 2, 29), D(2026, 2, 27), D(2026, 3, 10), D(2031, 2, 28)),
    ],
)
def test_card_validity(born: dt.date, applied: dt.date, issued: dt.date, last: dt.date) -> None:
    assert card_last_day(born, applied_on=applied, issued_on=issued) == last


def test_a_period_of_stay_ends_the_card_no_later() -> None:
    born, applied, issued = D(1990, 8, 8), D(2026, 3, 1), D(2026, 4, 1)
    ten = D(2035, 8, 8)
    assert card_last_day(born, applied_on=applied, issued_on=issued) == ten
    stay = D(2027, 9, 30)
    assert card_last_day(born, applied_on=applied, issued_on=issued, stay_expires_on=stay) == stay
    later = D(2040, 1, 1)
    assert card_last_day(born, applied_on=applied, issued_on=issued, stay_expires_on=later) == ten


def test_certificate_validity() -> None:
    born, issued = D(1980, 5, 17), D(2026, 4, 1)
    assert certificate_last_day(born, issued_on=issued) == D(2030, 5, 17)
    assert certificate_last_day(born, issued_on=issued, card_expiry=D(2029, 1, 31)) == D(
        2029, 1, 31
    )
    assert certificate_last_day(born, issued_on=issued, card_expiry=D(2035, 1, 31)) == D(
        2030, 5, 17
    )
    assert certificate_last_day(
        born, issued_on=issued, card_expiry=D(2035, 1, 31), stay_expires_on=D(2027, 6, 30)
    ) == D(2027, 6, 30)
    assert certificate_last_day(
        born, issued_on=issued, card_expiry=D(2027, 1, 31), stay_expires_on=D(2027, 6, 30)
    ) == D(2027, 1, 31)
    assert certificate_last_day(D(2000, 2, 29), issued_on=issued) == D(2031, 2, 28)


def test_the_signature_certificate_age() -> None:
    assert may_hold_sign_cert(D(2011, 4, 2), D(2026, 4, 1))  # 15 at the end of that day
    assert not may_hold_sign_cert(D(2011, 4, 3), D(2026, 4, 1))
    assert may_hold_sign_cert(D(2008, 2, 29), D(2023, 2, 28))
    assert not may_hold_sign_cert(D(2008, 2, 29), D(2023, 2, 27))
