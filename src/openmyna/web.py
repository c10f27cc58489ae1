"""The one ASGI app of openmyna: every domain mounts its routes here.

Errors of every route are problem+json (``openmyna.problems``). ``endpoints(app)`` lists what
the app serves from its mounted routes, for the landing page and ``openmyna serve``.

Routes under ``PERSONAL_DATA_PREFIXES`` return personal data: each carries a guard
(``openmyna.guard``: the operator token, or a staff session with a role at the route's
municipality), and the app refuses to be built with one that does not. Public
routes (the landing page, health, municipality names and counts, the allow-list, agencies,
OCSP and CRLs) serve nothing about a person. ``refuse_unprotected_exposure`` keeps
``openmyna serve`` from offering personal data beyond this machine with no operator token.
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.routing import Route

from openmyna import __version__, problems
from openmyna.config import Settings
from openmyna.errors import InvalidInput, NotFound, OpenMynaError
from openmyna.guard import BARE_GET, OperatorOrStaffGuard, unguarded_routes
from openmyna.network.agencies import AgencyKind
from openmyna.operator import MIN_TOKEN_LENGTH, operator_configured
from openmyna.pki import CertKind
from openmyna.platform import Platform

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: What FastAPI's own documentation routes are for (they carry no docstring of ours).
_FRAMEWORK_ROUTES = {
    "/docs": "the HTTP API, interactive (OpenAPI)",
    "/openapi.json": "the HTTP API as an OpenAPI document",
}


#: Paths that return personal data: every route under them needs the operator token or a
#: staff role, except those in ``PUBLIC_PATHS`` (which serve counts and names of places).
PERSONAL_DATA_PREFIXES = ("/api/registry/",)
PUBLIC_PATHS = frozenset({"/api/registry/municipalities"})


class UnguardedRoute(OpenMynaError):
    """A route under a personal-data prefix lacks a guard (a programming error)."""

    code = "UNGUARDED_PERSONAL_ROUTE"
    http_status = 500


class ExposedWithoutOperator(OpenMynaError):
    """Serving personal-data routes beyond this machine with no operator token configured."""

    code = "EXPOSED_WITHOUT_OPERATOR"


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name (or "" for every address) may be reached from anywhere


def refuse_unprotected_exposure(host: str, settings: Settings) -> None:
    """Refuse to serve personal-data routes beyond this machine with no operator token."""
    # Each such route would answer 503 anyway; listening on the network so is a mistake the
    # operator should hear of at once, not from a client.
    if is_loopback(host) or operator_configured(settings):
        return
    raise ExposedWithoutOperator(
        f"refusing to serve personal data on {host} with no operator token configured: "
        f"set OPENMYNA_OPERATOR_TOKEN (at least {MIN_TOKEN_LENGTH} characters), "
        "or serve on 127.0.0.1",
        host=host,
    )


@dataclass(frozen=True)
class Endpoint:
    """One path the app serves: its methods, what it is for, and which part serves it."""

    path: str
    methods: tuple[str, ...]
    summary: str
    part: str
    #: False for a GET that answers only with credentials or query parameters.
    bare_get: bool = True

    @property
    def linkable(self) -> bool:
        """A plain GET without path parameters or credentials: what a browser can open."""
        return "GET" in self.methods and "{" not in self.path and self.bare_get


def _summary(endpoint: Any) -> str:
    doc = inspect.getdoc(endpoint) or ""
    first = doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""
    return first.replace("``", "")


def _part_of(endpoint: Any) -> str:
    """The package serving a route: ``openmyna.pki.api`` -> ``pki``; this module -> ``platform``."""
    module = getattr(endpoint, "__module__", None) or type(endpoint).__module__
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "platform"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every path ``app`` serves, read from its mounted routes (not a hand-kept list)."""
    found: list[Endpoint] = []
    for route in app.routes:
        if not isinstance(route, APIRoute | Route):
            continue
        methods = tuple(sorted((route.methods or set()) - {"HEAD", "OPTIONS"}))
        if route.path in _FRAMEWORK_ROUTES:
            found.append(Endpoint(route.path, methods, _FRAMEWORK_ROUTES[route.path], "api"))
            continue
        summary = _summary(route.endpoint)
        if not summary:
            continue
        extra = getattr(route, "openapi_extra", None) or {}
        bare = bool(extra.get(BARE_GET, True))
        found.append(Endpoint(route.path, methods, summary, _part_of(route.endpoint), bare))
    return found


def create_app(platform: Platform) -> FastAPI:
    """The web app serving everything that exists, backed by ``platform``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        platform.start_background()
        try:
            yield
        finally:
            platform.stop_background()

    app = FastAPI(
        title="openmyna",
        version=__version__,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.platform = platform
    problems.install(app)

    @app.get("/healthz", tags=["platform"])
    def healthz() -> dict[str, Any]:
        """Liveness and which backends are in use (no personal data)."""
        return platform.health()

    @app.get("/platform", response_class=HTMLResponse, tags=["platform"])
    def index(request: Request) -> str:
        """This installation: what it runs, links to each part, its health."""
        return _landing_page(platform, endpoints(request.app))

    from openmyna.ekyc.api import routes as ekyc_routes
    from openmyna.identity.oidc.admin import routes as oidc_admin_routes
    from openmyna.identity.oidc.web import routes as oidc_routes
    from openmyna.pki.api import routes as pki_routes
    from openmyna.portal.backoffice.access import StaffApiAccess
    from openmyna.portal.web import routes as portal_routes
    from openmyna.registry.api import routes as registry_routes

    # Each domain's routes go straight into the app's route list (not include_router, which
    # newer FastAPI keeps as an opaque branch), so ``endpoints`` sees every one of them.
    staff = StaffApiAccess(platform.backoffice, platform.portal.sessions)
    guard = OperatorOrStaffGuard(platform.settings, staff)
    app.router.routes.extend(registry_routes(platform.registries, guard))
    app.router.routes.extend(pki_routes(platform.jpki))
    app.router.routes.extend(ekyc_routes(platform.builder.ekyc()))  # /api/ekyc
    app.state.portal = platform.portal
    app.state.backoffice = platform.backoffice
    app.state.application_desk = platform.application_desk
    app.state.staff_member = platform.backoffice.is_staff  # the menu's back-office entry
    app.router.routes.extend(portal_routes(demo_wallet=platform.settings.portal.demo_wallet))
    app.state.oidc = platform.oidc
    app.router.routes.extend([*oidc_routes(), *oidc_admin_routes()])
    from openmyna.latest_items.api import routes as latest_items_routes

    app.state.latest_items = platform.latest_items
    app.router.routes.extend(latest_items_routes())
    _network_routes(app, platform)
    unguarded = unguarded_routes(app.routes, PERSONAL_DATA_PREFIXES, PUBLIC_PATHS)
    if unguarded:
        raise UnguardedRoute("personal-data routes without a guard", paths=", ".join(unguarded))
    return app


def _landing_page(platform: Platform, served: list[Endpoint]) -> str:
    """The landing page, rendered on the server from the platform's state (no personal data)."""
    health = platform.health()
    registries = platform.registries
    municipalities = [
        (m, registries.municipality(m.lg_code).count()) for m in registries.list_municipalities()
    ]
    now = platform.clock.now()
    by_part: dict[str, list[Endpoint]] = {}
    for e in served:
        by_part.setdefault(e.part, []).append(e)
    return _TEMPLATES.get_template("index.html").render(
        version=__version__,
        health=health,
        municipalities=municipalities,
        residents=sum(count for _, count in municipalities),
        cas={kind.value: platform.jpki.ca_certificate(kind) for kind in CertKind},
        agencies=len(platform.network.directory),
        allow_list=platform.network.allow_list,
        clock_setting=platform.settings.clock,
        now=now,
        by_part=by_part,
    )


def _network_routes(app: FastAPI, platform: Platform) -> None:
    """Public, read-only views of the network: who is on it and what the law permits.

    Nothing here concerns a person (the portal adds authenticated access to one's records).
    """
    network = platform.network

    @app.get("/api/network/agencies", tags=["network"])
    def agencies(kind: str | None = None) -> list[dict[str, Any]]:
        """The agencies on the Information Provision Network (of one ``kind``, if given)."""
        if kind is not None and kind not in {k.value for k in AgencyKind}:
            raise InvalidInput("unknown agency kind", kind=kind[:40])
        return [
            {"id": a.id, "kind": a.kind.value, "name": a.name, "lg_code": a.lg_code}
            for a in network.agencies(kind)
        ]

    @app.get("/api/network/allow-list", tags=["network"])
    def allow_list(affair: str | None = None) -> dict[str, Any]:
        """The allow-list (別表第二): every permitted (requester, affair, provider, item)."""
        allowed = network.allow_list
        if affair is not None and affair not in allowed.affairs:
            raise NotFound("no such affair on the allow-list", affair=affair[:64])
        affairs = {
            key: value.model_dump()
            for key, value in sorted(allowed.affairs.items())
            if affair is None or key == affair
        }
        return {
            "version": allowed.version,
            "digest": allowed.digest,
            "affairs": affairs,
            "entries": [
                {
                    "requester": e.requester.value,
                    "affair": e.affair,
                    "provider": e.provider.value,
                    "item": e.item,
                    "basis": e.basis,
                }
                for e in allowed.entries
                if affair is None or e.affair == affair
            ],
        }
