"""The one ASGI app of openmyna: every domain mounts its routes here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from openmyna import __version__
from openmyna.errors import OpenMynaError
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
    return app
