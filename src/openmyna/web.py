"""The one ASGI app of openmyna: every domain mounts its routes here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from openmyna import __version__
from openmyna.errors import InvalidInput, NotFound, OpenMynaError
from openmyna.network.agencies import AgencyKind
from openmyna.platform import Platform

PROBLEM_JSON = "application/problem+json"


def create_app(platform: Platform) -> FastAPI:
    """The web app serving everything that exists, backed by ``platform``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        platform.start_background()
        try:
            yield
        finally:
            platform.stop_background()

    app = FastAPI(title="openmyna", version=__version__, lifespan=lifespan)
    app.state.platform = platform

    @app.exception_handler(OpenMynaError)
    async def _problem(_request: Request, exc: OpenMynaError) -> JSONResponse:
        return JSONResponse(exc.problem(), status_code=exc.http_status, media_type=PROBLEM_JSON)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness and which backends are in use (no personal data)."""
        return platform.health()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        """A landing page listing what this server offers."""
        rows = "".join(
            f'<li><a href="{path}">{path}</a> — {what}</li>' for path, what in platform.endpoints()
        )
        return (
            '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            "<title>openmyna</title></head><body><h1>openmyna</h1>"
            f"<p>version {__version__}</p><ul>{rows}</ul></body></html>"
        )

    from openmyna.pki.api import router as pki_router
    from openmyna.registry.api import router as registry_router

    app.include_router(registry_router(platform.registries), prefix="/api/registry")
    app.include_router(pki_router(platform.jpki))
    _network_routes(app, platform)
    return app


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
