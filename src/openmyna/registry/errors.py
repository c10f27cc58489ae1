"""Errors of the resident registry, each with its own stable code.

Messages never carry names, addresses or numbers; context holds only codes that are safe to
show (local government codes, event kinds, dates).
"""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound


class InvalidLgCode(InvalidInput):
    """A malformed local government code (全国地方公共団体コード) or a wrong check digit."""

    code = "INVALID_LG_CODE"


class InvalidDate(InvalidInput):
    """A date that the registry rules refuse (future, before birth, out of order)."""

    code = "INVALID_DATE"


class InvalidResidentData(InvalidInput):
    """Resident data that fails validation (empty name, unknown relationship, …)."""

    code = "INVALID_RESIDENT_DATA"


class MunicipalityNotFound(NotFound):
    """A municipality that is not in the data file or has no registry yet."""

    code = "MUNICIPALITY_NOT_FOUND"


class ResidentNotFound(NotFound):
    """No record of that resident-record code in this registry."""

    code = "RESIDENT_NOT_FOUND"


class HouseholdNotFound(NotFound):
    """No current household with that id in this registry."""

    code = "HOUSEHOLD_NOT_FOUND"


class ResidentRemoved(Conflict):
    """The resident's record is a removed record (除票); it cannot change any more."""

    code = "RESIDENT_REMOVED"


class NoMoveOut(Conflict):
    """A move-in (転入) without an outstanding move-out (転出) for that resident."""

    code = "NO_MOVE_OUT"


class DuplicateResident(Conflict):
    """The resident-record code or individual number is already registered."""

    code = "DUPLICATE_RESIDENT"


class NotRemovedRecord(Conflict):
    """A certificate of a removed record was asked for a resident who is still current."""

    code = "NOT_REMOVED_RECORD"
