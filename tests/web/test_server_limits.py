"""Half-sent requests are dropped: a real uvicorn server on 127.0.0.1, real sockets.

Both HTTP/1.1 protocols openmyna serves with (httptools for the one app and the PKI server,
h11 under the network's mutual TLS) hold a client to the header and body deadlines and the
header size bound of ``HttpSettings``, and answer what they refuse as problem+json.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from edge_helpers import connect, free_port, problem_of, until_closed
from fastapi import FastAPI, Request

from openmyna import problems
from openmyna.config import HttpSettings
from openmyna.server import BoundedH11Protocol, BoundedHttptoolsProtocol, make_server

LIMITS = HttpSettings(header_timeout=1.0, body_timeout=1.5, keep_alive=5, max_header_bytes=4096)
#: How long past a deadline the server may take to close (a loaded machine, 2 cores).
SLACK = 2.0


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/ok")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(LIMITS.body_timeout + 1)  # the application, not the client, is slow
        return {"ok": True}

    return app


@pytest.fixture(params=[BoundedHttptoolsProtocol, BoundedH11Protocol], ids=["httptools", "h11"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A real uvicorn server with the bounded protocol, in a thread."""
    found = free_port()
    sock = socket.create_server(("127.0.0.1", found))
    server = make_server(_app(), "127.0.0.1", found, LIMITS, http=request.param, lifespan="off")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield found
    server.should_exit = True
    thread.join(timeout=10)


def _get(port: int, path: str = "/ok") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return int(r.status)


def _timed_out(answer: bytes, phase: str) -> None:
    status, headers, body = problem_of(answer)
    assert status == 408
    assert headers["content-type"] == problems.PROBLEM_JSON
    assert headers["connection"] == "close"
    assert body["title"] == "REQUEST_TIMEOUT"
    assert body["phase"] == phase


@pytest.mark.parametrize(
    "sent",
    [b"GET /o", b"GET /ok HTTP/1.1\r\nHost: x\r\n", b"GET /ok HTTP/1.1\r\nHost: x\r\nX-A: 1"],
    ids=["half-request-line", "half-headers", "half-header-line"],
)
def test_half_sent_headers_are_dropped(port: int, sent: bytes) -> None:
    with connect(port) as sock:
        sock.sendall(sent)
        answer, after = until_closed(sock, LIMITS.header_timeout + SLACK)
    assert after >= LIMITS.header_timeout - 0.1
    _timed_out(answer, "headers")


def test_a_connection_that_sends_nothing_is_closed_quietly(port: int) -> None:
    with connect(port) as sock:
        answer, _ = until_closed(sock, LIMITS.header_timeout + SLACK)
    assert answer == b""


def test_headers_trickling_in_do_not_restart_the_deadline(port: int) -> None:
    """A byte every 0.2 s (slowloris): the bound is on the whole headers, not on each read."""
    request = b"GET /ok HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100
    with connect(port) as sock:
        stop = threading.Event()

        def trickle() -> None:
            for byte in request:
                if stop.wait(0.2):
                    return
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    return

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            answer, after = until_closed(sock, LIMITS.header_timeout + SLACK)
        finally:
            stop.set()
            sender.join(timeout=5)
    assert after < LIMITS.header_timeout + SLACK
    _timed_out(answer, "headers")


def test_a_half_sent_body_is_dropped(port: int) -> None:
    head = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
    )
    with connect(port) as sock:
        sock.sendall(head + b"x" * 10)
        answer, after = until_closed(sock, LIMITS.body_timeout + SLACK)
    assert after >= LIMITS.body_timeout - 0.1
    _timed_out(answer, "body")


def test_forty_half_sent_requests_are_all_dropped_while_others_are_served(port: int) -> None:
    """The issue's probe: 40 of 40 stayed open after 40 s."""
    halves = [
        b"GET /ok HTTP/1.1\r\nHost: x\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n" + b"y" * 5,
        b"GET /o",
    ]
    socks = [connect(port) for _ in range(40)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(halves[i % len(halves)])
        assert _get(port) == 200  # served while the 40 hang
        for sock in socks:
            until_closed(sock, LIMITS.header_timeout + LIMITS.body_timeout + SLACK)
    finally:
        for sock in socks:
            sock.close()
    assert _get(port) == 200


def test_whole_requests_and_slow_applications_are_not_cut(port: int) -> None:
    """The deadline is the client's: a request sent whole is answered, however long it takes."""
    assert _get(port, "/slow") == 200
    body = b"z" * 200_000  # more than uvicorn buffers before pausing reads
    with connect(port) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        sock.settimeout(10)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"received":200000' in answer


def test_keep_alive_requests_each_get_their_own_deadline(port: int) -> None:
    with connect(port) as sock:
        for _ in range(3):  # each whole request, spaced by less than the keep-alive
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(LIMITS.header_timeout * 0.7)
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost")  # then half a request
        answer, _ = until_closed(sock, LIMITS.header_timeout + SLACK)
    _timed_out(answer, "headers")


def test_too_large_headers_are_refused(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(
            b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * LIMITS.max_header_bytes)
        )
        answer, _ = until_closed(sock, SLACK)
    status, _, body = problem_of(answer)
    assert (status, body["title"]) == (431, "REQUEST_HEADERS_TOO_LARGE")


def test_bytes_that_are_not_http_are_a_problem_not_text(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
        answer, _ = until_closed(sock, SLACK)
    status, headers, body = problem_of(answer)
    assert (status, body["title"]) == (400, "MALFORMED_REQUEST")
    assert headers["content-type"] == problems.PROBLEM_JSON
    assert "not http" not in answer.decode("latin-1")
