"""Validity periods in law: the My Number Card, the JPKI certificates, the signature age.

**The card (個人番号カードの有効期間).** Set by 個人番号、個人番号カード、特定個人情報の提供等
に関する命令 (平成26年総務省令第85号, the card 命令), amended when 民法の一部を改正する法律
(平成30年法律第59号) lowered the age of majority from 20 to 18 on 2022-04-01:

- an application that J-LIS received (機構が交付申請書を受け付けた日) on or after 2022-04-01:
  18 or older on that day → to the 10th birthday after the day of issue (発行の日後の10回目の
  誕生日); under 18 → to the 5th;
- received before 2022-04-01: the same with age 20 (the earlier rule goes on for them);
- a foreign resident with a period of stay (中長期在留者 other than 永住者 and 高度専門職第2号,
  and 一時庇護許可者 / 仮滞在許可者 with their periods; 特別永住者 have none): no later than the
  day the period ends (在留期間等の満了の日), as the card is issued.

The 命令's own text was not at hand; the rule is as 総務省 and the municipalities publish it
(e.g. 大阪狭山市 and 鴻巣市: the age on the day J-LIS received the application, the 10th or
5th birthday after the day J-LIS issued the card; 武雄市: the 命令's number; 神戸市, 中野市
(長野県): the period of stay).

**The certificates (電子証明書の有効期間).** 電子署名等に係る地方公共団体情報システム機構の
認証業務に関する法律施行規則 (平成15年総務省令第120号): the signature and the user
authentication certificate each run to the 5th birthday after the day of issue, or to the
day the card they are on expires if that is earlier, and a foreign resident's no later than
the end of the period of stay. Not modelled here: a certificate renewed within three months
of its expiry runs to the 6th birthday; a signature certificate ends no later than the
holder's authentication certificate.

**No signature certificate under 15.** 総務省's guidance: the signature certificate stands in
for a registered seal (実印), so as with the 住基カード it is as a rule not issued to a person
under 15 (原則として発行しない). The article that says so was not found; ``SIGN_CERT_MIN_AGE``
is that default.

Ages are the law's (``openmyna.law.dates``); birthdays and a 29 February birthday as there.
"""

from __future__ import annotations

import datetime as dt

from openmyna.law.dates import has_reached, nth_birthday_after

#: The day the age of majority became 18 (民法 第4条 as amended by 平成30年法律第59号); the
#: card 命令 took the same age for applications J-LIS received from that day.
ADULT_AGE_LOWERED_ON = dt.date(2022, 4, 1)
#: Card 命令: 18 or older on the day J-LIS received the application → the 10-birthday card.
CARD_ADULT_AGE = 18
#: Card 命令 before its 2022 amendment: the age was 20 (applications received before 2022-04-01).
CARD_ADULT_AGE_BEFORE_2022 = 20
#: Card 命令: an adult's card runs to the 10th birthday after the day of issue.
CARD_BIRTHDAYS = 10
#: Card 命令: a minor's card runs to the 5th birthday after the day of issue (the face changes).
MINOR_CARD_BIRTHDAYS = 5
#: JPKI 施行規則 (平成15年総務省令第120号): both certificates run to the 5th birthday after issue.
CERT_BIRTHDAYS = 5
#: 総務省: no signature certificate (署名用電子証明書) under 15, as a rule (原則として発行しない).
SIGN_CERT_MIN_AGE = 15


def card_adult_age(applied_on: dt.date) -> int:
    """The age at which the 10-birthday card begins, for an application received that day."""
    return CARD_ADULT_AGE if applied_on >= ADULT_AGE_LOWERED_ON else CARD_ADULT_AGE_BEFORE_2022


def card_last_day(
    date_of_birth: dt.date,
    *,
    applied_on: dt.date,
    issued_on: dt.date,
    stay_expires_on: dt.date | None = None,
) -> dt.date:
    """The last day a card is valid (有効期間の満了日), by the card 命令."""
    adult = has_reached(date_of_birth, card_adult_age(applied_on), applied_on)
    birthdays = CARD_BIRTHDAYS if adult else MINOR_CARD_BIRTHDAYS
    last = nth_birthday_after(date_of_birth, issued_on, birthdays)
    if stay_expires_on is not None and stay_expires_on < last:
        last = stay_expires_on  # no later than the end of the period of stay
    return last


def certificate_last_day(
    date_of_birth: dt.date,
    *,
    issued_on: dt.date,
    card_expiry: dt.date | None = None,
    stay_expires_on: dt.date | None = None,
) -> dt.date:
    """The last day a JPKI certificate is valid, by the JPKI 施行規則."""
    last = nth_birthday_after(date_of_birth, issued_on, CERT_BIRTHDAYS)
    for limit in (card_expiry, stay_expires_on):
        if limit is not None and limit < last:
            last = limit
    return last


def may_hold_sign_cert(date_of_birth: dt.date, day: dt.date) -> bool:
    """Whether a signature certificate may be issued on ``day`` (15 or older by the law)."""
    return has_reached(date_of_birth, SIGN_CERT_MIN_AGE, day)
