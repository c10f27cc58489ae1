"""Serving an ASGI app with uvicorn, holding every client to the installation's limits.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``): a client that
opens a connection and sends half a request line, half its headers or half its body keeps
the connection (and its memory) for ever. ``BoundedHttptoolsProtocol`` and
``BoundedH11Protocol`` add what a front server (Apache's mod_reqtimeout, nginx's
``client_header_timeout`` / ``client_body_timeout``) gives:

- the request line and headers must arrive within ``header_timeout`` of the connection opening
  or of the request's first byte, and may not exceed ``max_header_bytes``;
- the body must arrive within ``body_timeout`` of the headers.

A late request is answered 408 (RFC 9110 §15.5.9, with ``Connection: close``) and its
connection closed; a connection that sent nothing is closed without an answer. A deadline
counts only while the server is reading (uvicorn pauses reading while the application is
busy), so a slow application does not make its client late. A request uvicorn cannot parse is
answered 400, too large headers 431 (RFC 6585 §5): problem+json like every other error.

The TLS handshake of the network's servers is bounded by asyncio (60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from openmyna.config import HttpSettings
from openmyna.errors import OpenMynaError
from openmyna.problems import PROBLEM_JSON

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is installed with uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


class RequestTimeout(OpenMynaError):
    """The request did not arrive whole within the server's bound."""

    code = "REQUEST_TIMEOUT"
    http_status = 408


class HeadersTooLarge(OpenMynaError):
    """The request line and headers are larger than the server accepts."""

    code = "REQUEST_HEADERS_TOO_LARGE"
    http_status = 431


class MalformedRequest(OpenMynaError):
    """The bytes received are not an HTTP/1.1 request."""

    code = "MALFORMED_REQUEST"


def raw_problem(error: OpenMynaError) -> bytes:
    """A whole HTTP/1.1 response carrying ``error`` as problem+json, closing the connection."""
    body = json.dumps(error.problem(), ensure_ascii=False).encode("utf-8")
    status = http.HTTPStatus(error.http_status)
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the installation's HTTP limits (read by the protocols)."""

    def __init__(self, app: Any, *, limits: HttpSettings, **kwargs: Any) -> None:
        self.limits = limits
        kwargs.setdefault("http", default_protocol())
        kwargs.setdefault("timeout_keep_alive", limits.keep_alive)
        # h11's own bound on a buffered, incomplete event (the headers); ours answers 431 first.
        kwargs.setdefault("h11_max_incomplete_event_size", 2 * limits.max_header_bytes)
        super().__init__(app, **kwargs)


#: The limits of a server not configured through ``ServerConfig`` (the settings' defaults).
DEFAULT_LIMITS = HttpSettings.model_validate({})


def _limits_of(config: uvicorn.Config) -> HttpSettings:
    return config.limits if isinstance(config, ServerConfig) else DEFAULT_LIMITS


class _BoundedReads:
    """The read deadlines of one connection, shared by both HTTP/1.1 protocols.

    ``phase`` is ``"headers"`` (a request is expected or has begun), ``"body"`` (its headers
    are in) or ``None`` (the request is whole; the keep-alive timer takes over after the answer).
    """

    # Set by uvicorn's protocol classes, which this mixes into.
    transport: Any
    loop: Any
    flow: Any
    cycle: Any

    def _bounded_init(self, config: uvicorn.Config) -> None:
        self._limits = _limits_of(config)
        self._phase: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def _begin(self, phase: str) -> None:
        self._stop()
        self._phase = phase
        if phase == "headers":
            self._header_bytes = 0
        self._arm()

    def _arm(self) -> None:
        limits = self._limits
        seconds = limits.header_timeout if self._phase == "headers" else limits.body_timeout
        self._timer = self.loop.call_later(seconds, self._expired)

    def _stop(self) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _count_header_bytes(self, n: int) -> None:
        """Count bytes received while the headers are still incomplete; refuse too many."""
        if self._phase != "headers" or self.transport.is_closing():
            return
        self._header_bytes += n
        if self._header_bytes > self._limits.max_header_bytes:
            self._refuse(HeadersTooLarge("the request headers are too large"))

    def _refuse(self, error: OpenMynaError) -> None:
        self._stop()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(raw_problem(error))
        if cycle is not None:
            # The application (if it waits for the body) sees the client gone; whatever it
            # sends afterwards is dropped by uvicorn.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _expired(self) -> None:
        phase, self._timer = self._phase, None
        if phase is None or self.transport.is_closing():
            return
        cycle = self.cycle
        busy = phase == "headers" and cycle is not None and not cycle.response_complete
        if self.flow.read_paused or busy:
            # The server is not reading (the application has not taken what came, or is
            # answering an earlier request): not the client's delay.
            self._arm()
            return
        if phase == "headers" and self._header_bytes == 0:
            self._stop()
            self.transport.close()  # nothing was asked: close quietly, as for keep-alive
            return
        self._refuse(RequestTimeout("the request did not arrive in time", phase=phase))


class BoundedH11Protocol(_BoundedReads, H11Protocol):
    """uvicorn's h11 protocol with read deadlines and a header size bound."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        """The protocol for one connection, bounded by the config's limits."""
        super().__init__(config, *args, **kwargs)
        self._bounded_init(config)
        self._feeding = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the deadline for the first request."""
        super().connection_made(transport)
        self._begin("headers")

    def data_received(self, data: bytes) -> None:
        """Feed h11, then follow where the request stands."""
        if self._phase is None and data:
            self._begin("headers")
        self._feeding = len(data)
        super().data_received(data)
        self._feeding = 0
        self._follow()
        self._count_header_bytes(len(data))

    def _follow(self) -> None:
        if self.transport.is_closing():
            self._stop()
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._phase == "headers":
            self._begin("body")
        elif state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._stop()

    def on_response_complete(self) -> None:
        """After an answer: a pipelined request already buffered gets its own deadline."""
        super().on_response_complete()
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.trailing_data[0]:
            self._begin("headers")
            self._count_header_bytes(len(self.conn.trailing_data[0]))
        else:
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancel the deadline."""
        self._stop()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot parse: 400 problem+json (never the bytes received)."""
        pending = self._header_bytes + self._feeding
        if self._phase == "headers" and pending > self._limits.max_header_bytes:
            # h11's own bound on its buffer (twice ours) was hit within one read.
            self._refuse(HeadersTooLarge("the request headers are too large"))
            return
        self._refuse(MalformedRequest("the request is not valid HTTP/1.1"))


if HttpToolsProtocol is not None:

    class BoundedHttptoolsProtocol(_BoundedReads, HttpToolsProtocol):
        """uvicorn's httptools protocol with read deadlines and a header size bound."""

        def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
            """The protocol for one connection, bounded by the config's limits."""
            super().__init__(config, *args, **kwargs)
            self._bounded_init(config)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            """Start the deadline for the first request."""
            super().connection_made(transport)
            self._begin("headers")

        def data_received(self, data: bytes) -> None:
            """Feed the parser (its callbacks move the deadline), then count header bytes."""
            if self._phase is None and data:
                self._begin("headers")
            super().data_received(data)
            if self.transport.is_closing():
                self._stop()
                return
            self._count_header_bytes(len(data))

        def on_message_begin(self) -> None:
            """A (pipelined) request begins: it gets a header deadline."""
            super().on_message_begin()
            if self._phase is None:
                self._begin("headers")

        def on_headers_complete(self) -> None:
            """The headers are in: the body's deadline starts."""
            super().on_headers_complete()
            if not self.transport.is_closing():
                self._begin("body")

        def on_message_complete(self) -> None:
            """The request is whole: no deadline until the next one."""
            super().on_message_complete()
            self._stop()

        def connection_lost(self, exc: Exception | None) -> None:
            """Cancel the deadline."""
            self._stop()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            """A request httptools cannot parse: 400 problem+json (never the bytes received)."""
            self._refuse(MalformedRequest("the request is not valid HTTP/1.1"))


def default_protocol() -> type[asyncio.Protocol]:
    """The bounded httptools protocol where httptools is installed, else the h11 one."""
    if HttpToolsProtocol is not None:
        return BoundedHttptoolsProtocol
    return BoundedH11Protocol  # pragma: no cover


def make_server(
    app: Any, host: str, port: int, limits: HttpSettings, **kwargs: Any
) -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``host:port`` holding clients to ``limits`` (not started)."""
    kwargs.setdefault("log_level", "warning")
    return uvicorn.Server(ServerConfig(app, host=host, port=port, limits=limits, **kwargs))


def serve(app: Any, host: str, port: int, limits: HttpSettings, **kwargs: Any) -> None:
    """Serve ``app`` on ``host:port`` until interrupted, holding clients to ``limits``."""
    # uvicorn re-raises the signal it caught (as uvicorn.run swallows): stopping is the intent.
    with contextlib.suppress(KeyboardInterrupt):
        make_server(app, host, port, limits, **kwargs).run()
