"""The card's rules on dates (SPEC C2): validity, and the deadlines of a move.

- Validity: to the 10th birthday after the issue date; to the 5th if the holder is under 20
  on the issue date (SPEC C2; the law lowered this age to 18 in 2022: ``MINOR_AGE``).
  A birthday that falls on the issue date does not count ("after"). A 29 February birthday
  falls on 28 February in other years.
- A move (転出 → 転入): the card loses effect if the move-in (転入届) is not registered
  within 30 days of the planned move-out date (転出予定日), or within 14 days of the day the
  person moved in; and after the move-in, if the continued-use step (継続利用) is not done
  at the new municipality within 90 days.
"""

from __future__ import annotations

import datetime as dt

CARD_YEARS = 10
MINOR_CARD_YEARS = 5
MINOR_AGE = 20
#: Residents under this age get no signature certificate (pki refuses it).
SIGN_CERT_MIN_AGE = 15
MOVE_IN_AFTER_PLANNED_DAYS = 30
MOVE_IN_AFTER_MOVING_DAYS = 14
CONTINUATION_DAYS = 90


def birthday_in(born: dt.date, year: int) -> dt.date:
    """The birthday of someone born on ``born`` in ``year`` (29 Feb → 28 Feb)."""
    try:
        return born.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def age_on(born: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    years = day.year - born.year
    return years if birthday_in(born, day.year) <= day else years - 1


def nth_birthday_after(born: dt.date, day: dt.date, n: int) -> dt.date:
    """The ``n``-th birthday strictly after ``day``."""
    year = day.year if birthday_in(born, day.year) > day else day.year + 1
    return birthday_in(born, year + n - 1)


def card_expiry(born: dt.date, issued_on: dt.date) -> dt.date:
    """The last day a card issued on ``issued_on`` is valid."""
    years = MINOR_CARD_YEARS if age_on(born, issued_on) < MINOR_AGE else CARD_YEARS
    return nth_birthday_after(born, issued_on, years)


def move_in_late(*, planned_on: dt.date, moved_in_on: dt.date, registered_on: dt.date) -> bool:
    """Whether a move-in registered on ``registered_on`` came too late for the card."""
    return registered_on > planned_on + dt.timedelta(
        days=MOVE_IN_AFTER_PLANNED_DAYS
    ) or registered_on > moved_in_on + dt.timedelta(days=MOVE_IN_AFTER_MOVING_DAYS)


def move_in_deadline(planned_on: dt.date) -> dt.date:
    """The last day to register the move-in after a move-out planned for ``planned_on``."""
    return planned_on + dt.timedelta(days=MOVE_IN_AFTER_PLANNED_DAYS)


def continuation_due(registered_on: dt.date) -> dt.date:
    """The last day of the continued-use step after a move-in registered that day."""
    return registered_on + dt.timedelta(days=CONTINUATION_DAYS)
