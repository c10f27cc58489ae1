"""Errors of the moving one-stop (引越しワンストップ), with stable codes."""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound


class MoveNotFound(NotFound):
    """No such move-out notice or planned move-in for this person or this municipality."""

    code = "MOVE_NOT_FOUND"


class NotAMoveOutNotice(InvalidInput):
    """The application is not an online move-out notice (form ``move-out-notice``)."""

    code = "NOT_A_MOVE_OUT_NOTICE"


class NotifierNotResident(Conflict):
    """The signer of the notice is not a current resident of the municipality receiving it."""

    code = "NOTIFIER_NOT_RESIDENT"


class NoticeDecided(Conflict):
    """The notice was decided otherwise (rejected, or approved without a recorded move)."""

    code = "MOVE_NOTICE_DECIDED"


class SlotUnavailable(Conflict):
    """The visit slot is not offered, is past, or is full."""

    code = "VISIT_SLOT_UNAVAILABLE"


class VisitAlreadyBooked(Conflict):
    """A visit is already booked for this move-in: cancel it first."""

    code = "VISIT_ALREADY_BOOKED"


class MoveAlreadyCompleted(Conflict):
    """The move-in is registered already: nothing left to book."""

    code = "MOVE_ALREADY_COMPLETED"


class InvalidCounterHours(InvalidInput):
    """The counters' opening-hours file breaks its rules."""

    code = "INVALID_COUNTER_HOURS"


class SpecialMoveInNeedsCard(InvalidInput):
    """The special move-in (転入届の特例) is the card holder's: the card must be shown."""

    code = "SPECIAL_MOVE_IN_NEEDS_CARD"


class MoverNotFound(Conflict):
    """A person the notice names as moving is not in the notifier's household here."""

    code = "MOVER_NOT_IN_HOUSEHOLD"
