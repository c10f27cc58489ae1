"""The hub and agency-node processes: opening their parts and serving them over mutual TLS.

``serve_hub`` and ``serve_node`` are what ``openmyna network hub`` and ``openmyna network node``
run: each opens its identity from the network CA in the data dir, its own database, and
serves its app (``service.create_hub_app`` / ``create_node_app``) with uvicorn over mutual
TLS. ``open_hub`` / ``open_node`` / ``make_server`` are the same steps for tests and tools.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from openmyna.clock import Clock, SystemClock
from openmyna.config import Settings
from openmyna.errors import Unavailable
from openmyna.network import tls
from openmyna.network.hub import Hub
from openmyna.network.netca import HUB_ID, NetworkCA, NodeIdentity
from openmyna.network.node import AgencyNode
from openmyna.network.service import create_hub_app, create_node_app
from openmyna.registry.index import IdentityIndex
from openmyna.registry.tables import INDEX_KIND, NATIONAL_BODY
from openmyna.store import open_store


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
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with mutual TLS as ``identity`` (not started)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        **tls.uvicorn_ssl_options(identity, str(ca.ca_path), ca.ca_certificate(), ca.crl_path),
    )
    return _Server(config)


class _NoNumbers:
    """The hub reads the identity index; it never derives numbers (no events applied)."""

    def individual_number_for(self, resident_code: str) -> str:
        raise Unavailable("the hub does not derive individual numbers")

    def individual_numbers_for(self, resident_codes: Any) -> Any:
        raise Unavailable("the hub does not derive individual numbers")


@dataclasses.dataclass
class HubProcess:
    """What a hub process holds open: the CA, the hub and the identity index's store."""

    ca: NetworkCA
    hub: Hub
    close: Callable[[], None]


def open_identity_index(settings: Settings, clock: Clock) -> IdentityIndex:
    """The national identity index for lookups only (close with ``index.store.close()``).

    The hub only reads it (``by_individual_number``): no bus subscription, no numbering
    authority, no registries opened.
    """
    return IdentityIndex(open_store(settings, INDEX_KIND, NATIONAL_BODY), clock, _NoNumbers)


def open_hub(settings: Settings, clock: Clock | None = None) -> HubProcess:
    """Open the hub of ``settings``: its identity, database and the identity index (read)."""
    clock = clock or SystemClock()
    ca = NetworkCA.open(settings, clock)
    identity = ca.node(HUB_ID)
    index = open_identity_index(settings, clock)
    try:
        hub = Hub.open(settings, clock, index, identity, ca.resolver())
    except BaseException:
        index.store.close()
        raise

    def close() -> None:
        hub.close()
        index.store.close()

    return HubProcess(ca, hub, close)


def serve_hub(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8440,
    *,
    clock: Clock | None = None,
    log_level: str = "warning",
) -> None:
    """Run the hub over mutual TLS until interrupted."""
    opened = open_hub(settings, clock)
    try:
        app = create_hub_app(opened.hub, opened.ca)
        make_server(app, opened.hub.identity, opened.ca, host, port, log_level=log_level).run()
    finally:
        opened.close()


@dataclasses.dataclass
class NodeProcess:
    """What a node process holds open: the CA and the node."""

    ca: NetworkCA
    node: AgencyNode


def open_node(settings: Settings, agency_id: str, clock: Clock | None = None) -> NodeProcess:
    """Open an agency's node: its identity and database, the hub's certificate to trust."""
    clock = clock or SystemClock()
    ca = NetworkCA.open(settings, clock)
    identity = ca.node(agency_id)
    resolve = ca.resolver()
    hub_public = resolve(HUB_ID)
    if hub_public is None:  # the hub has not started yet: its identity is issued now
        hub_public = ca.node(HUB_ID).certificate
    node = AgencyNode.open(settings, clock, identity, hub_public, resolve)
    return NodeProcess(ca, node)


def default_advertise_url(host: str, port: int) -> str:
    """The URL a node advertises when listening on ``host:port`` (wildcards -> loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"https://{shown}:{port}"


def serve_node(
    settings: Settings,
    agency_id: str,
    hub_url: str,
    host: str = "127.0.0.1",
    port: int = 8441,
    *,
    advertise: str | None = None,
    clock: Clock | None = None,
    log_level: str = "warning",
) -> None:
    """Run an agency's node over mutual TLS until interrupted; it registers with the hub."""
    opened = open_node(settings, agency_id, clock)
    try:
        url = advertise or default_advertise_url(host, port)
        app = create_node_app(opened.node, opened.ca, hub_url, advertise_url=url)
        make_server(app, opened.node.identity, opened.ca, host, port, log_level=log_level).run()
    finally:
        opened.node.close()
