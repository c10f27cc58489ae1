"""``openmyna portal …``: the portal's own processes (the agency-facing notice API)."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from openmyna.builder import Builder

app = typer.Typer(help="The citizen portal (マイナポータル).", no_args_is_help=True)


@app.command("notices-api")
def notices_api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8445,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the agency-facing notice API (お知らせ) over mutual TLS with the network's CA."""
    from openmyna.portal.notices.api import make_notices_server

    with Builder.from_environment() as parts:
        server = make_notices_server(
            parts.portal_notices(),
            parts.network_ca(),
            host,
            port,
            log_level=log_level,
            limits=parts.settings.http,
        )
        typer.echo(f"openmyna notice API on https://{host}:{port}/v1/notices (mutual TLS)")
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
