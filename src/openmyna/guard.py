"""The HTTP edge of personal data: routes that return it want the operator or a staff member.

Two kinds of caller may see personal data:

- the installation's operator, for scripts: the operator token of the settings
  (``OPENMYNA_OPERATOR_TOKEN``, ``openmyna.operator``), sent as ``Authorization: Bearer
  <token>`` (RFC 6750 §2.1) — ``OperatorGuard``;
- a member of a municipality's staff, logged in to the portal with their own card, with a
  role at the municipality the route names — ``OperatorOrStaffGuard``, which asks a
  ``StaffAccess`` (the back office, ``openmyna.portal.backoffice.access``) about a request
  that carries no bearer token, and takes the operator's path otherwise.

A guard (any ``Guard``) is the FastAPI dependency a router of personal-data routes carries
(``APIRouter(dependencies=[...])``), so a route added to that router cannot leave it out;
``unguarded_routes`` finds any route under a personal-data prefix that does, and the web app
refuses to start with one.

Without the token, or with a wrong one, the answer is 401 problem+json with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3, RFC 9110 §11.6.1); with no token
configured, 503 ``NO_OPERATOR_CONFIGURED``. A guarded answer is never stored by a cache
(``Cache-Control: no-store``, RFC 9111 §5.2.2.5).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute, Route

from openmyna.config import Settings
from openmyna.operator import OperatorRequired, require_operator

#: ``openapi_extra`` of a GET that answers only with a caller's credentials or query parameters
#: (an API key, a bearer token, an authorization request): the landing page lists it without a
#: link, since a browser opening it bare gets an error.
BARE_GET = "x-openmyna-bare-get"
CREDENTIALS_OR_PARAMETERS: dict[str, Any] = {BARE_GET: False}

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


class Guard:
    """What every guard of personal-data routes is (``is_guarded`` looks for one)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """The check (each guard has its own dependencies)."""
        raise NotImplementedError

    def _operator(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        presented = credentials.credentials if credentials is not None else None
        try:
            require_operator(self._settings, presented)
        except OperatorRequired:
            raise BearerTokenRequired(
                "this needs the installation operator's token (Authorization: Bearer …)",
                invalid=presented is not None,
            ) from None


class OperatorGuard(Guard):
    """A FastAPI dependency: pass only a request bearing the operator token."""

    def __call__(
        self,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        """Check the bearer token; mark the answer as not to be stored."""
        response.headers["Cache-Control"] = "no-store"
        self._operator(credentials)


class StaffAccess(Protocol):
    """Whether a request comes from a staff member allowed at the route's municipality."""

    def __call__(self, request: Request) -> bool:
        """True: a staff session with a role there. False: no staff session at all (the
        operator's path decides). A session without such a role is refused by raising."""
        ...


class OperatorOrStaffGuard(Guard):
    """A FastAPI dependency: the operator token, or a staff member of the municipality."""

    def __init__(self, settings: Settings, staff: StaffAccess) -> None:
        super().__init__(settings)
        self._staff = staff

    def __call__(
        self,
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        """A bearer token is the operator's; without one, the staff session decides."""
        response.headers["Cache-Control"] = "no-store"
        if credentials is None and self._staff(request):
            return
        self._operator(credentials)


def _depends_on_guard(dependant: Dependant) -> bool:
    return any(isinstance(d.call, Guard) or _depends_on_guard(d) for d in dependant.dependencies)


def is_guarded(route: BaseRoute) -> bool:
    """Whether ``route`` runs a ``Guard`` before answering."""
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
