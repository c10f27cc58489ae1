"""The HTTP edge of personal data: routes that return it want the operator's bearer token.

Until the portal brings staff roles, one secret stands for whoever may see personal data:
the operator token of the settings (``OPENMYNA_OPERATOR_TOKEN``, ``openmyna.operator``), sent
as ``Authorization: Bearer <token>`` (RFC 6750 §2.1). ``OperatorGuard`` is the FastAPI
dependency a router of personal-data routes carries (``APIRouter(dependencies=[...])``), so a
route added to that router cannot leave it out; ``unguarded_routes`` finds any route under a
personal-data prefix that does, and the web app refuses to start with one.

Without the token, or with a wrong one, the answer is 401 problem+json with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3, RFC 9110 §11.6.1); with no token
configured, 503 ``NO_OPERATOR_CONFIGURED``. A guarded answer is never stored by a cache
(``Cache-Control: no-store``, RFC 9111 §5.2.2.5).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute, Route

from openmyna.config import Settings
from openmyna.operator import OperatorRequired, require_operator

#: The realm named in the challenge (RFC 6750 §3).
REALM = "openmyna"

# auto_error=False: a missing or malformed header is ours to answer (as problem+json).
_bearer = HTTPBearer(auto_error=False, description="The installation operator's token.")


class BearerTokenRequired(OperatorRequired):
    """``OPERATOR_REQUIRED`` over HTTP: the answer carries the Bearer challenge."""

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        challenge = f'Bearer realm="{REALM}"'
        if invalid:  # RFC 6750 §3.1: a token was presented and is not the one
            challenge += ', error="invalid_token"'
        self.http_headers = {"WWW-Authenticate": challenge}


class OperatorGuard:
    """A FastAPI dependency: pass only a request bearing the operator token."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(
        self,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        """Check the bearer token; mark the answer as not to be stored."""
        response.headers["Cache-Control"] = "no-store"
        presented = credentials.credentials if credentials is not None else None
        try:
            require_operator(self._settings, presented)
        except OperatorRequired:
            raise BearerTokenRequired(
                "this needs the installation operator's token (Authorization: Bearer …)",
                invalid=presented is not None,
            ) from None


def _depends_on_guard(dependant: Dependant) -> bool:
    return any(
        isinstance(d.call, OperatorGuard) or _depends_on_guard(d) for d in dependant.dependencies
    )


def is_guarded(route: BaseRoute) -> bool:
    """Whether ``route`` runs ``OperatorGuard`` before answering."""
    return isinstance(route, APIRoute) and _depends_on_guard(route.dependant)


def unguarded_routes(
    routes: Iterable[BaseRoute], prefixes: Iterable[str], public: Iterable[str] = ()
) -> list[str]:
    """Paths under a personal-data ``prefixes`` that are not in ``public`` and not guarded.

    A branch whose routes cannot be seen (a mount, an included router kept opaque) is
    reported too when it could serve under a prefix: what it serves cannot be checked. A mount
    elsewhere (the portal's ``/static`` files) serves no personal-data path.
    """
    prefixes, public = tuple(prefixes), set(public)
    found = []
    for route in routes:
        if not isinstance(route, APIRoute | Route):
            where = getattr(route, "path", None)
            if not where or any(p.startswith(where) or where.startswith(p) for p in prefixes):
                found.append(where or f"<{type(route).__name__}>")
            continue
        path = route.path
        if path.startswith(prefixes) and path not in public and not is_guarded(route):
            found.append(path)
    return found
