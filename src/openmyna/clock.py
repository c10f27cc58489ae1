"""Injected time: every part of openmyna asks a ``Clock``, never ``datetime.now()``."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

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
