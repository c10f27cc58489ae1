"""Japanese era dates (和暦): 令和8年12月4日, as official documents write the date.

The era names and their first days:

- 令和 from 2019-05-01 (元号を改める政令, 平成31年政令第143号);
- 平成 from 1989-01-08 (元号を改める政令, 昭和64年政令第1号);
- 昭和 from 1926-12-25, 大正 from 1912-07-30 (the accessions, 登極令 of 1909: the era
  changes on the day of accession);
- 明治 from 1873-01-01 here: the era began in 1868, but Japan used the lunisolar calendar until
  明治5年12月2日, followed by 明治6年1月1日 = 1873-01-01 (改暦ノ布告, 明治5年太政官布告第337号),
  so Gregorian dates before 1873 have no 明治 date of the same month and day; they are refused.

The first year of an era is written 元年 (令和元年5月1日), as official documents do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    """An era: its name in kanji, in Latin letters, and its first day."""

    name: str
    romaji: str
    first_day: dt.date


#: Newest first.
ERAS: tuple[Era, ...] = (
    Era("令和", "Reiwa", dt.date(2019, 5, 1)),
    Era("平成", "Heisei", dt.date(1989, 1, 8)),
    Era("昭和", "Showa", dt.date(1926, 12, 25)),
    Era("大正", "Taisho", dt.date(1912, 7, 30)),
    Era("明治", "Meiji", dt.date(1873, 1, 1)),
)
#: The Gregorian year in which 明治1年 would fall (1868): 明治6年 is 1873.
_MEIJI_FIRST_YEAR = 1868


def era_of(day: dt.date) -> tuple[Era, int]:
    """The era of ``day`` and the year in it (1 for the first year)."""
    for era in ERAS:
        if day >= era.first_day:
            first_year = _MEIJI_FIRST_YEAR if era.name == "明治" else era.first_day.year
            return era, day.year - first_year + 1
    raise ValueError("dates before 1873-01-01 have no Gregorian 和暦 date")


def wareki(day: dt.date) -> str:
    """``day`` as official Japanese documents write it: ``令和8年12月4日``, ``令和元年5月1日``."""
    era, year = era_of(day)
    shown = "元" if year == 1 else str(year)
    return f"{era.name}{shown}年{day.month}月{day.day}日"
