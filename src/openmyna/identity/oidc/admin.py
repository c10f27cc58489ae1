"""The back office's page of the provider's clients (``/oidc/clients``): administrators
register businesses, see them, remove them.

Only a person holding the administrator role (管理者) in the staff register may use it (the
same register the back office checks). Registering a ``client_secret_basic`` client shows
its secret on the answer page, once; only its hash is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from openmyna.errors import OpenMynaError
from openmyna.identity.oidc.clients import AUTH_METHODS, SCOPES
from openmyna.identity.oidc.errors import ClientInvalid
from openmyna.identity.oidc.web import oidc_of
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.pages import Page, PageDep, PageRoute

MAX_JWKS = 16 * 1024


class AdministratorRequired(OpenMynaError):
    """The clients' page is for administrators of the staff register."""

    code = "OIDC_ADMINISTRATOR_REQUIRED"
    http_status = 403


def _administrator(page: Page, csrf: str | None = None) -> None:
    session = page.require_csrf(csrf) if csrf is not None else page.require_login()
    backoffice = getattr(page.request.app.state, "backoffice", None)
    if session.acting is not None or backoffice is None:
        raise AdministratorRequired("the clients' page is for administrators")
    if not any(m.role is Role.ADMINISTRATOR for m in backoffice.grants(session)):
        raise AdministratorRequired("the clients' page is for administrators")


def _render(page: Page, *, status: int = 200, **extra: Any) -> HTMLResponse:
    return page.render(
        "oidc/clients.html",
        status=status,
        clients=oidc_of(page.request).clients.list(),
        scopes=SCOPES,
        auth_methods=AUTH_METHODS,
        **extra,
    )


def routes() -> list[Any]:
    """The clients' page."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/oidc/clients", response_class=HTMLResponse, tags=["oidc"])
    def clients(page: PageDep) -> Response:
        """The provider's clients, and the form to register one (administrators)."""
        _administrator(page)
        return _render(page)

    @router.post("/oidc/clients", response_class=HTMLResponse, tags=["oidc"])
    def add(
        page: PageDep,
        csrf_token: Annotated[str | None, Form()] = None,
        name: Annotated[str, Form(max_length=200)] = "",
        contact: Annotated[str, Form(max_length=200)] = "",
        redirect_uris: Annotated[str, Form(max_length=3000)] = "",
        scope: Annotated[list[str] | None, Form()] = None,
        auth: Annotated[str, Form(max_length=32)] = "client_secret_basic",
        jwks: Annotated[str, Form(max_length=MAX_JWKS)] = "",
    ) -> Response:
        """Register a client; a secret is shown here once."""
        _administrator(page, csrf_token or "")
        try:
            client, secret = oidc_of(page.request).clients.add(
                name,
                [u.strip() for u in redirect_uris.splitlines() if u.strip()],
                scopes=list(scope or []),
                auth_method=auth,
                jwks=jwks or None,
                contact=contact,
            )
        except (ClientInvalid, OpenMynaError) as exc:
            return _render(page, status=exc.http_status, error=exc.code)
        return _render(page, added=client, secret=secret)

    @router.post("/oidc/clients/{client_id}/remove", response_class=HTMLResponse, tags=["oidc"])
    def remove(
        page: PageDep, client_id: str, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        """Remove a client."""
        _administrator(page, csrf_token or "")
        oidc_of(page.request).clients.remove(client_id)
        return page.redirect("/oidc/clients")

    return list(router.routes)
