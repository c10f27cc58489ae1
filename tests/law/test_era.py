"""Dates in the Japanese era (和暦): each era's first day, 元年, and the limit of 1873."""

from __future__ import annotations

import datetime as dt

import pytest

from openmyna.law import era_of, wareki

D = dt.date


@pytest.mark.parametrize(
    ("day", "written"),
    [
        (D(2026, 12, 4), "令和8年12月4日"),
        (D(2019, 5, 1), "令和元年5月1日"),
        (D(2019, 4, 30), "平成31年4月30日"),
        (D(1989, 1, 8), "平成元年1月8日"),
        (D(1989, 1, 7), "昭和64年1月7日"),
        (D(1926, 12, 25), "昭和元年12月25日"),
        (D(1926, 12, 24), "大正15年12月24日"),
        (D(1912, 7, 30), "大正元年7月30日"),
        (D(1912, 7, 29), "明治45年7月29日"),
        (D(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_wareki(day: dt.date, written: str) -> None:
    assert wareki(day) == written


def test_the_year_within_the_era() -> None:
    era, year = era_of(D(2020, 2, 29))
    assert (era.name, era.romaji, year) == ("令和", "Reiwa", 2)


def test_dates_before_the_gregorian_calendar_in_japan_are_refused() -> None:
    with pytest.raises(ValueError, match="1873"):
        wareki(D(1872, 12, 31))
