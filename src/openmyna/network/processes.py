"""The hub and agency-node processes: serving their apps over mutual TLS.

``serve_hub`` and ``serve_node`` are what ``openmyna network hub`` and ``openmyna network node``
run, given the hub or node the builder opened (``openmyna.builder.Builder.hub`` / ``node``:
its identity from the network CA in the data dir and its own database): each serves its app
(``service.create_hub_app`` / ``create_node_app``) with uvicorn over mutual TLS.
``make_server`` is the same step for tests and tools. Clients are held to the installation's
HTTP limits (``openmyna.server``: header and body deadlines, header size).
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from openmyna.config import HttpSettings
from openmyna.network import tls
from openmyna.network.hub import Hub
from openmyna.network.netca import NetworkCA, NodeIdentity
from openmyna.network.node import AgencyNode
from openmyna.network.service import create_hub_app, create_node_app
from openmyna.server import DEFAULT_LIMITS, ServerConfig


class _Server(uvicorn.Server):
    """uvicorn's server, dropping idle keep-alive connections at once when it stops.

    A TLS connection closed politely waits for the peer's close_notify, which an idle pooled
    client never sends (up to 30 s per connection); an idle connection has nothing to lose.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Abort the idle connections, then shut down as uvicorn does."""
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await super().shutdown(sockets)


def make_server(
    app: FastAPI,
    identity: NodeIdentity,
    ca: NetworkCA,
    host: str,
    port: int,
    *,
    log_level: str = "warning",
    limits: HttpSettings | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with mutual TLS as ``identity`` (not started)."""
    config = ServerConfig(
        app,
        limits=limits or DEFAULT_LIMITS,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # Longer than the installation's default: nodes and the hub keep pooled connections.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        **tls.uvicorn_ssl_options(identity, str(ca.ca_path), ca.ca_certificate(), ca.crl_path),
    )
    return _Server(config)


def serve_hub(
    hub: Hub,
    ca: NetworkCA,
    host: str = "127.0.0.1",
    port: int = 8440,
    *,
    log_level: str = "warning",
    limits: HttpSettings | None = None,
) -> None:
    """Run the hub over mutual TLS until interrupted (the caller closes it)."""
    app = create_hub_app(hub, ca)
    make_server(app, hub.identity, ca, host, port, log_level=log_level, limits=limits).run()


def default_advertise_url(host: str, port: int) -> str:
    """The URL a node advertises when listening on ``host:port`` (wildcards -> loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"https://{shown}:{port}"


def serve_node(
    node: AgencyNode,
    ca: NetworkCA,
    hub_url: str,
    host: str = "127.0.0.1",
    port: int = 8441,
    *,
    advertise: str | None = None,
    log_level: str = "warning",
    limits: HttpSettings | None = None,
) -> None:
    """Run an agency's node over mutual TLS until interrupted; it registers with the hub."""
    url = advertise or default_advertise_url(host, port)
    app = create_node_app(node, ca, hub_url, advertise_url=url)
    make_server(app, node.identity, ca, host, port, log_level=log_level, limits=limits).run()
