"""How the portal's pages are served: the page context, HTML errors and security headers.

Every page route uses ``PageRoute``: a domain error becomes an error page in the reader's
language with the error's status (never a traceback, never the input), a page that needs a
login sends the browser to ``/login`` (htmx requests get ``HX-Redirect``), and every answer
carries the headers a page holding personal data needs: a strict Content-Security-Policy
(scripts and styles from this site only, no inline script), no framing, no caching, no
referrer beyond this site, no MIME sniffing.

``Page`` is what a route asks for (``PageDep``): the request, the portal, the language and the
session, if any. A session acting for someone as their proxy (代理人) is checked here, once
for every page, against the proxy's grant and the one path map (``portal.proxy``): the page
gets the principal's session if the path is in the grant's scope, and never runs otherwise.
State-changing requests (POST) check the Origin and the session's CSRF token
(``Page.require_csrf``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from openmyna.errors import OpenMynaError
from openmyna.portal.errors import CsrfRefused, LoginRequired
from openmyna.portal.i18n import DEFAULT, LANGUAGES, environment
from openmyna.portal.nav import NavItem, visible
from openmyna.portal.proxy.scopes import allowed as proxy_allows
from openmyna.portal.service import Portal
from openmyna.portal.sessions import COOKIE, PortalSession, check_csrf
from openmyna.problems import invalid_request

LANGUAGE_COOKIE = "omyna_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def served_paths(request: Request) -> frozenset[str]:
    """The paths the app serves (read once from its routes, for the menu)."""
    state = request.app.state
    paths: frozenset[str] | None = getattr(state, "portal_paths", None)
    if paths is None:
        paths = frozenset(getattr(r, "path", "") for r in request.app.routes)
        state.portal_paths = paths
    return paths


def portal_of(request: Request) -> Portal:
    """The portal serving the app (``app.state.portal``)."""
    portal: Portal = request.app.state.portal
    return portal


def safe_next(target: str | None, default: str = "/") -> str:
    """A path on this site to go to after a step (never another site: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def is_loopback_http(request: Request) -> bool:
    """Whether the request came over plain HTTP to this machine (``http://127.0.0.1``)."""
    if request.url.scheme != "http":
        return False
    host = request.url.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request, portal: Portal) -> bool:
    """Whether cookies are sent with ``Secure`` (``PortalSettings.cookie_secure``)."""
    configured = portal.settings.cookie_secure
    return (not is_loopback_http(request)) if configured is None else configured


@dataclass
class Page:
    """One page request: who asks (a session, if logged in), in which language."""

    request: Request
    portal: Portal
    language: str
    session: PortalSession | None
    #: Why the session that came with the request ended (shown once), if it did.
    ended: str | None = None

    def require_login(self) -> PortalSession:
        """The session, or ``LOGIN_REQUIRED`` (the browser is sent to the login page)."""
        if self.session is None:
            raise LoginRequired("log in with your My Number Card")
        return self.session

    def require_csrf(self, presented: str | None) -> PortalSession:
        """The session, after checking the request's origin and CSRF token."""
        session = self.require_login()
        same_origin(self.request)
        check_csrf(session, presented or self.request.headers.get(CSRF_HEADER))
        return session

    @property
    def staff(self) -> bool:
        """Whether the logged-in account holds a back-office role (its menu entry shows)."""
        check = getattr(self.request.app.state, "staff_member", None)
        if self.session is None or self.session.acting is not None or check is None:
            return False
        return bool(check(self.session.account_id))

    def _menu(self) -> list[NavItem]:
        """The menu: while acting for someone, only the entries the grant opens."""
        items = visible(
            served_paths(self.request), logged_in=self.session is not None, staff=self.staff
        )
        acting = self.session.acting if self.session else None
        if acting is None:
            return items
        return [n for n in items if proxy_allows("GET", n.path, acting.scopes)[0]]

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """``template`` rendered in the page's language."""
        html = (
            environment(self.language)
            .get_template(template)
            .render(
                page=self,
                session=self.session,
                csrf=self.session.csrf_token if self.session else "",
                path=self.request.url.path,
                nav=self._menu(),
                badges=self.portal.menu_badges(self.session.account_id) if self.session else {},
                now=self.portal.clock.now(),
                **context,
            )
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, target: str) -> RedirectResponse:
        """See other: the browser goes to ``target`` (a path on this site)."""
        return RedirectResponse(safe_next(target), status_code=303)


def same_origin(request: Request) -> None:
    """Refuse a state-changing request whose Origin (or Referer) is another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return  # not a browser's cross-site form post (browsers send Origin with those)
    parts = urlsplit(origin)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        raise CsrfRefused("the form came from another site")


def _language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT


def page(request: Request) -> Page:
    """The page context of ``request`` (the dependency every page route takes).

    Made once per request: asked again (an error page of its own), it is the same context, or
    the same refusal, and a proxy's request is checked and recorded once.
    """
    made: Page | None = getattr(request.state, "portal_page", None)
    if made is not None:
        return made
    refused: OpenMynaError | None = getattr(request.state, "portal_refused", None)
    if refused is not None:
        raise refused
    portal = portal_of(request)
    token = request.cookies.get(COOKIE)
    session: PortalSession | None = None
    ended: str | None = None
    if token:
        try:
            session = portal.sessions.current(token)
        except LoginRequired as exc:
            ended = str(exc.context.get("reason") or "") or None
    if session is not None and session.acting_grant is not None:
        # The one check of a proxy's request: raises (a 403 page) unless the grant opens it.
        try:
            session = portal.proxies.admit(session, request.method, request.url.path)
        except OpenMynaError as exc:
            request.state.portal_refused = exc
            raise
    request.state.portal_session = session  # an error page later shows the same banner
    made = Page(request, portal, _language(request), session, ended)
    request.state.portal_page = made
    return made


PageDep = Annotated[Page, Depends(page)]


def error_page(request: Request, error: OpenMynaError) -> Response:
    """The answer to a page's domain error: the login page for a login, else an error page."""
    if isinstance(error, LoginRequired):
        target = "/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    # An error may name its own page and the session it happened in (a proxy's refused page
    # shows the acting banner and the way back to acting as oneself).
    session: PortalSession | None = getattr(error, "session", None)
    if session is None:
        seen: PortalSession | None = getattr(request.state, "portal_session", None)
        session = seen if seen is not None and seen.acting is not None else None
    template: str = getattr(error, "template", "error.html")
    context = Page(request, portal_of(request), _language(request), session)
    return context.render(template, status=error.http_status, error=error)


class PageRoute(APIRoute):
    """A route serving a page: HTML errors and the pages' security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped."""
        handler = super().get_route_handler()

        async def serve(request: Request) -> Response:
            try:
                response = await handler(request)
            except OpenMynaError as exc:
                response = error_page(request, exc)
            except RequestValidationError as exc:
                response = error_page(request, invalid_request(exc))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return serve
