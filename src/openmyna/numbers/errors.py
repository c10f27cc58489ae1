"""Errors of the numbers domain, each with a stable code. None ever carries a full number."""

from __future__ import annotations

from typing import Any

from openmyna.errors import Conflict, InvalidInput, KeyFileError


class InvalidNumber(InvalidInput):
    """A number or code fails validation: wrong length, a non-digit, or a wrong check digit.

    ``reason`` is one of ``length``, ``non_digit``, ``check_digit``, ``kind``; ``kind`` says
    which number was expected. The message says what is wrong, never what the number is.
    """

    code = "INVALID_NUMBER"

    def __init__(self, message: str, *, kind: str, reason: str, **context: Any) -> None:
        super().__init__(message, kind=kind, reason=reason, **context)
        self.kind = kind
        self.reason = reason


class NumberingExhausted(Conflict):
    """The numbering authority has no serials left for the request."""

    code = "NUMBERING_EXHAUSTED"


class NumberingKeyError(KeyFileError):
    """The numbering key file is unreadable, malformed or readable by others."""

    code = "NUMBERING_KEY_ERROR"
