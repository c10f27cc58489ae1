"""The card's rules on the deadlines of a move (SPEC C2).

A move (転出 → 転入): the card loses effect if the move-in (転入届) is not registered within 30
days of the planned move-out date (転出予定日), or within 14 days of the day the person moved
in; and after the move-in, if the continued-use step (継続利用) is not done at the new
municipality within 90 days.

The card's validity and the signature certificate's age are the law's date rules, shared
with pki: ``openmyna.law.validity``.
"""

from __future__ import annotations

import datetime as dt

MOVE_IN_AFTER_PLANNED_DAYS = 30
MOVE_IN_AFTER_MOVING_DAYS = 14
CONTINUATION_DAYS = 90


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
