"""Real sockets against real servers: half-sent requests and how long they stay open."""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def connect(
    port: int, *, context: ssl.SSLContext | None = None, timeout: float = 10
) -> socket.socket:
    """A connection to 127.0.0.1:``port`` (TLS with ``context``)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if context is not None:
        try:
            return context.wrap_socket(sock, server_hostname="127.0.0.1")
        except BaseException:
            sock.close()  # a failed handshake must not leave the plain socket behind
            raise
    return sock


def until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and after how long.

    Fails if the connection is still open after ``within`` seconds.
    """
    start = time.monotonic()
    received = bytearray()
    while True:
        left = within - (time.monotonic() - start)
        if left <= 0:
            raise AssertionError(f"still open after {within} s")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"still open after {within} s") from None
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        received.extend(chunk)
    return bytes(received), time.monotonic() - start


def problem_of(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The status, headers and problem+json body of a raw HTTP/1.1 answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, headers, json.loads(body)
