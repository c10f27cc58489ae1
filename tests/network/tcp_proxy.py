"""A small TCP round-robin proxy for tests: one address in front of several backends.

Bytes are copied both ways untouched, so TLS passes through (the client's handshake is with
the backend). Each new connection goes to the next backend in turn; a backend that refuses
the connection is skipped (the next one is tried), as a load balancer's health check would.
Runs an asyncio loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence


class TcpProxy:
    """Round-robin TCP proxy on 127.0.0.1; ``connections[i]`` counts backend i's connections."""

    def __init__(self, backends: Sequence[tuple[str, int]], port: int = 0) -> None:
        self.backends = list(backends)
        self.connections = [0] * len(self.backends)
        self.refused = [0] * len(self.backends)
        self._next = 0
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self.port = 0

    def start(self) -> TcpProxy:
        """Start listening; returns when the port is bound."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every proxied connection."""
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(timeout=10)

    def drop(self) -> None:
        """Close every proxied connection now (clients must connect again: the next backend)."""
        done = threading.Event()

        def cancel() -> None:
            for task in list(self._tasks):
                task.cancel()
            done.set()

        self._loop.call_soon_threadsafe(cancel)
        done.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self._port)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

        async def done() -> None:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._loop.stop()

        self._loop.create_task(done())

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.backends)):
            i = self._next
            self._next = (self._next + 1) % len(self.backends)
            host, port = self.backends[i]
            try:
                pair = await asyncio.open_connection(host, port)
            except OSError:
                self.refused[i] += 1
                continue
            self.connections[i] += 1
            return pair
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            backend = await self._connect()
            if backend is None:
                return
            b_reader, b_writer = backend
            try:
                await asyncio.gather(_pipe(reader, b_writer), _pipe(b_reader, writer))
            finally:
                b_writer.close()
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or an error, then close the writing side (the peer sees the end)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
        writer.close()
