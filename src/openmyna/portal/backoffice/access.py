"""The registry's personal-data API for staff: a portal session with a role at the municipality.

``StaffApiAccess`` is the ``openmyna.guard.StaffAccess`` the web app gives the registry's
guard (``OperatorOrStaffGuard``). For a request without a bearer token it looks at the
portal's session cookie:

- no cookie, or one whose session ended: not a staff request (the operator's path answers,
  401 ``OPERATOR_REQUIRED`` as before);
- a live session whose account holds a role at the path's municipality that allows reading
  residents (clerk or above): allowed, and the read is a row of the staff log;
- a live session without such a role: 403 ``STAFF_ROLE_REQUIRED`` (logged too).

A request that changes nothing is still a read of personal data; a POST (the lookup) with
the session's cookie must also come from this site and carry the session's CSRF token in
``X-CSRF-Token``, as the portal's own forms do.
"""

from __future__ import annotations

from fastapi import Request

from openmyna.errors import OpenMynaError
from openmyna.portal.backoffice.service import BackOffice
from openmyna.portal.backoffice.staff import Permission
from openmyna.portal.pages import CSRF_HEADER, same_origin
from openmyna.portal.sessions import COOKIE, Sessions, check_csrf


class StaffApiAccess:
    """Whether a request to ``/api/registry/{lg_code}/…`` comes from staff of that municipality."""

    def __init__(self, backoffice: BackOffice, sessions: Sessions) -> None:
        self.backoffice = backoffice
        self.sessions = sessions

    def __call__(self, request: Request) -> bool:
        """True for a staff member allowed there; False without a session; else refused."""
        token = request.cookies.get(COOKIE)
        if not token:
            return False
        try:
            session = self.sessions.current(token)
        except OpenMynaError:
            return False
        lg_code = str(request.path_params.get("lg_code", ""))
        member = self.backoffice.require(session, lg_code, Permission.READ_RESIDENTS)
        if request.method not in ("GET", "HEAD"):
            same_origin(request)
            check_csrf(session, request.headers.get(CSRF_HEADER))
        route = request.scope.get("route")
        self.backoffice.staff.log(
            lg_code,
            member.account_id,
            member.name,
            "api.read",
            subject_kind=None,
            detail=str(getattr(route, "path", ""))[:200],
        )
        return True
