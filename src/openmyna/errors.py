"""The one base error of openmyna: every domain error carries a stable code.

Codes are part of the public API: the CLI maps them to exit codes and the web app to
RFC 9457 problem+json (``openmyna.problems``). Messages never contain personal data or
individual numbers.

Exit codes, one meaning each:

- 0 done; 1 refused (a domain error: invalid input, not found, conflict, not allowed);
- 2 usage (Typer's own: a missing or malformed option; nothing else uses it);
- 3 unavailable (a database, the bus or another process does not answer; try again);
- 4 key files (``KeyFileError``: a key or secret file missing, unsafe or unreadable);
- 5 tampered (a sealed file fails its authentication check).
"""

from __future__ import annotations

from typing import Any, ClassVar


class OpenMynaError(Exception):
    """A domain error with a stable machine-readable ``code``."""

    code: ClassVar[str] = "ERROR"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def diagnostics(self) -> str:
        """A human explanation: code, message and non-personal context."""
        extra = "".join(f"\n  {k}: {v}" for k, v in sorted(self.context.items()))
        return f"[{self.code}] {self.message}{extra}"

    def problem(self) -> dict[str, Any]:
        """The error as an RFC 9457 problem object."""
        return {
            "type": f"urn:openmyna:error:{self.code}",
            "title": self.code,
            "status": self.http_status,
            "detail": self.message,
            **{k: v for k, v in self.context.items() if isinstance(v, str | int | bool)},
        }


class InvalidInput(OpenMynaError):
    """Input that fails validation (a malformed number, code or date)."""

    code = "INVALID_INPUT"


class NotFound(OpenMynaError):
    """The thing asked for does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(OpenMynaError):
    """The request contradicts the current state (a duplicate, an impossible transition)."""

    code = "CONFLICT"
    http_status = 409


class Unavailable(OpenMynaError):
    """A component this operation needs does not answer (database, bus)."""

    code = "UNAVAILABLE"
    http_status = 503
    exit_code = 3


class KeyFileError(OpenMynaError):
    """A key or secret file of the installation is missing, unsafe or unreadable.

    One family for every domain's key files (numbering keys, CA keys, the card-data signer,
    the network CA and hub keys): one exit code, one HTTP status.
    """

    code = "KEY_FILE_ERROR"
    http_status = 500
    exit_code = 4
