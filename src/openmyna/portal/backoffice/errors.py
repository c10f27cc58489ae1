"""Errors of the back office, with stable codes."""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError


class StaffRoleRequired(OpenMynaError):
    """The logged-in person holds no role at that municipality that allows this."""

    code = "STAFF_ROLE_REQUIRED"
    http_status = 403


class UnknownRole(InvalidInput):
    """A role the staff register does not have (clerk, supervisor, administrator)."""

    code = "STAFF_ROLE_UNKNOWN"


class StaffNotFound(NotFound):
    """No grant of that account at that municipality."""

    code = "STAFF_NOT_FOUND"


class OwnGrantRefused(Conflict):
    """An administrator may not change their own grant (another administrator, or the CLI)."""

    code = "STAFF_OWN_GRANT"


class HandleNotFound(NotFound):
    """No such resident handle for this session and municipality (it may have expired)."""

    code = "RESIDENT_HANDLE_NOT_FOUND"


class CounterCardNotFound(NotFound):
    """No card file by that name in the counter's folders."""

    code = "COUNTER_CARD_NOT_FOUND"


class NotTheHoldersCard(Conflict):
    """The card file at the counter is not the card of the resident being served."""

    code = "COUNTER_CARD_NOT_THE_HOLDERS"


class NoValidCard(Conflict):
    """The resident holds no valid card (active or suspended) of this municipality."""

    code = "RESIDENT_HAS_NO_CARD"


class NotResidentHere(Conflict):
    """The record is not a current resident of this municipality (moved out, died)."""

    code = "RESIDENT_NOT_CURRENT_HERE"
