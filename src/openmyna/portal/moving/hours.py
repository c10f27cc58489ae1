"""The counter's hours for move-in visits (来庁予約): which slots a municipality offers.

The hours are data (``data/counters.toml``): the weekdays the counter is open, its opening
and closing times, the length of a slot, how many visits one slot takes, and the days of
the year it is closed. A municipality may set its own values; the rest are the defaults.

Which days a move-in visit may be booked on follows the one-stop's deadline: the move-in
at the destination (特例転入) must be made within 30 days of the planned move-out date given
in the notice, and within 14 days of the move itself (住民基本台帳法 第22条; the 30 days as
municipalities publish them, e.g. 津久見市「特例転出・特例転入」: 「転出届に記入した転出予定日から
30日以内」, 八街市「特例による転出・転入手続き」 — the article of the 施行令 behind it is not
quoted here because we could not check its text). So the slots run from the planned date
(or today, if later) to 30 days after it.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from openmyna.clock import JST
from openmyna.portal.moving.errors import InvalidCounterHours
from openmyna.registry import validate_lg_code

#: Days after the planned move-out date within which the special move-in must be made.
SPECIAL_MOVE_IN_DAYS = 30
_KEYS = {"weekdays", "opens", "closes", "slot_minutes", "capacity", "closed"}


@dataclass(frozen=True)
class Hours:
    """One counter's hours."""

    weekdays: frozenset[int]
    opens: dt.time
    closes: dt.time
    slot_minutes: int
    capacity: int
    #: ``MM-DD`` days the counter is closed every year (the year end).
    closed: frozenset[str]

    def open_on(self, day: dt.date) -> bool:
        """Whether the counter is open that day."""
        return day.isoweekday() in self.weekdays and day.strftime("%m-%d") not in self.closed

    def starts(self, day: dt.date) -> list[dt.datetime]:
        """The starts of that day's slots (Japan time), none on a closed day."""
        if not self.open_on(day):
            return []
        at = dt.datetime.combine(day, self.opens, JST)
        end = dt.datetime.combine(day, self.closes, JST)
        step = dt.timedelta(minutes=self.slot_minutes)
        found = []
        while at + step <= end:
            found.append(at)
            at += step
        return found

    def offers(self, starts_at: dt.datetime) -> bool:
        """Whether ``starts_at`` is the start of one of this counter's slots."""
        local = starts_at.astimezone(JST)
        return local in self.starts(local.date())


def _time(value: object, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise InvalidCounterHours("a time is HH:MM", key=key) from None


def _hours(values: dict[str, Any]) -> Hours:
    unknown = set(values) - _KEYS
    if unknown:
        raise InvalidCounterHours("unknown keys", keys=", ".join(sorted(unknown)))
    weekdays = frozenset(int(d) for d in values["weekdays"])
    opens, closes = _time(values["opens"], "opens"), _time(values["closes"], "closes")
    minutes, capacity = int(values["slot_minutes"]), int(values["capacity"])
    if not weekdays <= set(range(1, 8)) or opens >= closes:
        raise InvalidCounterHours("weekdays are 1..7 and the counter opens before it closes")
    if not 5 <= minutes <= 240 or not 1 <= capacity <= 100:
        raise InvalidCounterHours("a slot lasts 5..240 minutes and takes 1..100 visits")
    return Hours(weekdays, opens, closes, minutes, capacity, frozenset(values["closed"]))


class CounterHours:
    """Every municipality's counter hours (the defaults and each one's own)."""

    def __init__(self, default: Hours, own: dict[str, Hours]) -> None:
        self.default = default
        self._own = own

    def of(self, lg_code: str) -> Hours:
        """The hours of ``lg_code``'s counter."""
        return self._own.get(lg_code, self.default)

    @classmethod
    def parse(cls, text: str) -> CounterHours:
        """Hours from the TOML text of ``data/counters.toml``."""
        try:
            data = tomllib.loads(text)
            base = dict(data["default"])
            default = _hours(base)
            own = {
                validate_lg_code(code): _hours({**base, **dict(values)})
                for code, values in dict(data.get("municipalities", {})).items()
            }
        except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise InvalidCounterHours("the counter hours cannot be read", why=str(exc)) from None
        return cls(default, own)

    @classmethod
    def load(cls) -> CounterHours:
        """The hours shipped with openmyna."""
        text = files("openmyna.portal.moving").joinpath("data/counters.toml").read_text("utf-8")
        return cls.parse(text)


def visit_window(planned_on: dt.date, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a move-in visit may be booked for a planned move-out date."""
    return max(planned_on, today), planned_on + dt.timedelta(days=SPECIAL_MOVE_IN_DAYS)
