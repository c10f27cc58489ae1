"""Date rules of Japanese law that several domains share: the legal age, birthdays, validity.

The bottom layer: it imports no domain, and card, pki, the demo's network seeding (and
later elections) use it, so that two parts of the system cannot count an age differently.

- ``dates``: the legal age (年齢計算ニ関スル法律, 民法 第143条) and the n-th birthday after a day.
- ``era``: dates in the Japanese era (和暦, 令和8年12月4日) as official documents write them.
- ``validity``: the validity periods of the My Number Card (個人番号カード) and of the JPKI
  certificates, and the age below which no signature certificate is issued.
"""

from __future__ import annotations

from openmyna.law.dates import (
    age_on,
    birthday_in,
    day_reaching_age,
    has_reached,
    nth_birthday_after,
)
from openmyna.law.era import ERAS, Era, era_of, wareki
from openmyna.law.validity import (
    ADULT_AGE_LOWERED_ON,
    CARD_ADULT_AGE,
    CARD_ADULT_AGE_BEFORE_2022,
    CARD_BIRTHDAYS,
    CERT_BIRTHDAYS,
    MINOR_CARD_BIRTHDAYS,
    SIGN_CERT_MIN_AGE,
    card_adult_age,
    card_last_day,
    certificate_last_day,
    may_hold_sign_cert,
)

__all__ = [
    "ADULT_AGE_LOWERED_ON",
    "CARD_ADULT_AGE",
    "CARD_ADULT_AGE_BEFORE_2022",
    "CARD_BIRTHDAYS",
    "CERT_BIRTHDAYS",
    "ERAS",
    "MINOR_CARD_BIRTHDAYS",
    "SIGN_CERT_MIN_AGE",
    "Era",
    "age_on",
    "birthday_in",
    "card_adult_age",
    "card_last_day",
    "certificate_last_day",
    "day_reaching_age",
    "era_of",
    "has_reached",
    "may_hold_sign_cert",
    "nth_birthday_after",
    "wareki",
]
