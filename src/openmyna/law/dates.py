"""The legal age and birthdays: 年齢計算ニ関スル法律 (明治35年法律第50号) and 民法 第143条.

**Age.** 年齢計算ニ関スル法律 第1項: age is counted from the day of birth (出生の日より起算, the
day itself included); 第2項: 民法 第143条 applies to the count. 民法 第143条 第2項: a period of
years that does not start at the beginning of a year ends at the end of the day before the day
of the last year that corresponds to the starting day (起算日に応当する日の前日に満了); where
the last month has no such day, at the end of that month's last day (その月の末日に満了).

So age *n* is reached at the end of the day before the *n*-th birthday, and a person born on
29 February reaches it at the end of 28 February in every year: the day before 29 February in
a leap year, February's last day in a common year (a person born on 2008-02-29 is 1 at the end
of 2009-02-28, as the House of Councillors' legislative bureau explains it).

The law counts that day as the day the age is reached (満N歳に達した日 = the day before the
birthday), and a rule that asks for an age "on" a day is met on it: a person whose 18th
birthday is the day after election day may vote (公職選挙法 第9条), and a child born on 1 April
starts school a year before one born on 2 April (学校教育法 第17条: the school year after the
day the child reaches 6). ``age_on`` answers in that sense.

**Birthdays.** A validity period "to the n-th birthday after the day of issue" (発行の日後の
その者のn回目の誕生日) counts the birthdays (誕生日, the anniversaries of the day of birth)
strictly after that day: a birthday on the day of issue is not "after" it. Neither the card
命令 nor the JPKI 施行規則 says which day is the birthday of a person born on 29 February in
a common year, and no public source found says how J-LIS sets it; this module takes
28 February, February's last day, as 民法 第143条 第2項 does for the end of a period (and so the
validity ends within the period, not a day beyond it).
"""

from __future__ import annotations

import datetime as dt

from openmyna.errors import InvalidInput


class DateBeforeBirth(InvalidInput):
    """An age or a birthday asked for a day before the person was born."""

    code = "DATE_BEFORE_BIRTH"


def _not_before_birth(date_of_birth: dt.date, day: dt.date) -> None:
    if day < date_of_birth:
        raise DateBeforeBirth("the day is before the date of birth")


def birthday_in(date_of_birth: dt.date, year: int) -> dt.date:
    """The birthday (誕生日) in ``year``; 29 February falls on 28 February in a common year."""
    try:
        return date_of_birth.replace(year=year)
    except ValueError:  # no 29 February in a common year: February's last day (see above)
        return dt.date(year, 2, 28)


def day_reaching_age(date_of_birth: dt.date, age: int) -> dt.date:
    """The day at whose end a person reaches ``age`` (満年齢に達する日; 民法 第143条 第2項)."""
    if age < 1:
        raise ValueError("an age reached after birth is at least 1")
    year = date_of_birth.year + age
    try:
        corresponding = date_of_birth.replace(year=year)  # 起算日に応当する日
    except ValueError:  # 29 February in a common year: その月の末日に満了
        return dt.date(year, 2, 28)
    return corresponding - dt.timedelta(days=1)  # its 前日


def has_reached(date_of_birth: dt.date, age: int, day: dt.date) -> bool:
    """Whether a person born on ``date_of_birth`` is ``age`` or older on ``day`` (by the law)."""
    _not_before_birth(date_of_birth, day)
    if age < 1:
        return True
    return day >= day_reaching_age(date_of_birth, age)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """The legal age on ``day``: an age reached at the end of ``day`` counts on ``day``."""
    _not_before_birth(date_of_birth, day)
    # The day age n is reached lies in year born+n or, for a 1 January birthday, born+n-1.
    age = day.year - date_of_birth.year + 1
    while age > 0 and day < day_reaching_age(date_of_birth, age):
        age -= 1
    return age


def nth_birthday_after(date_of_birth: dt.date, day: dt.date, n: int) -> dt.date:
    """The ``n``-th birthday strictly after ``day`` (発行の日後のn回目の誕生日)."""
    if n < 1:
        raise ValueError("n counts birthdays from 1")
    _not_before_birth(date_of_birth, day)
    first = day.year if birthday_in(date_of_birth, day.year) > day else day.year + 1
    return birthday_in(date_of_birth, first + n - 1)
