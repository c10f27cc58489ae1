"""Injected time: every part of openmyna asks a ``Clock``, never ``datetime.now()``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Protocol

from openmyna.errors import InvalidInput

JST = dt.timezone(dt.timedelta(hours=9), "JST")


class Clock(Protocol):
    """Something that tells the current time."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    def today(self) -> dt.date:
        """The current date in Japan."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current time in UTC."""
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        """Today's date in Japan (JST)."""
        return self.now().astimezone(JST).date()


class FixedClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> dt.datetime:
        """The set time."""
        return self._at

    def today(self) -> dt.date:
        """The set date in Japan (JST)."""
        return self._at.astimezone(JST).date()

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward."""
        self._at += delta

    def set(self, at: dt.datetime) -> None:
        """Move the clock to ``at``."""
        self._at = at


class OffsetClock:
    """The real clock shifted by a fixed offset: a sandbox that runs days ahead or behind."""

    def __init__(self, offset: dt.timedelta, base: Clock | None = None) -> None:
        self.offset = offset
        self._base: Clock = base or SystemClock()

    def now(self) -> dt.datetime:
        """The shifted current time."""
        return self._base.now() + self.offset

    def today(self) -> dt.date:
        """The shifted date in Japan (JST)."""
        return self.now().astimezone(JST).date()


_OFFSET = re.compile(r"^([+-])((?:\d+[wdhms])+)$")
_OFFSET_PART = re.compile(r"(\d+)([wdhms])")
_UNIT = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def clock_from_setting(value: str | None) -> Clock:
    """The clock ``OPENMYNA_CLOCK`` asks for: the system clock, a fixed instant or an offset.

    ``None`` or empty: the system clock. ``+30d``, ``-1d12h``, ``+2w``: the system clock
    shifted (units w, d, h, m, s). An ISO 8601 instant (``2027-04-01T09:00:00+09:00``, or a
    date, read as 00:00 JST; a time without a zone is JST): a clock standing at that instant.
    """
    if value is None or not value.strip():
        return SystemClock()
    text = value.strip()
    offset = _OFFSET.match(text)
    if offset is not None:
        sign = -1 if offset.group(1) == "-" else 1
        delta = dt.timedelta()
        for amount, unit in _OFFSET_PART.findall(offset.group(2)):
            delta += dt.timedelta(**{_UNIT[unit]: int(amount)})
        return OffsetClock(sign * delta)
    try:
        if len(text) == 10:
            at = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), JST)
        else:
            at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "OPENMYNA_CLOCK is an ISO 8601 instant (2027-04-01T09:00+09:00) or an offset "
            "such as +30d or -1d12h"
        ) from None
    return FixedClock(at if at.tzinfo is not None else at.replace(tzinfo=JST))
