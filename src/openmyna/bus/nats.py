"""The multi-process bus: NATS JetStream (``OPENMYNA_BUS_URL=nats://host:4222``).

One stream (``settings.bus_stream``) holds every event under the subject prefix
``<stream in lowercase>.``; an event of type ``registry.moved_out`` is published on
``openmyna.registry.moved_out`` with ``Nats-Msg-Id`` = event id, so JetStream drops a repeat
inside its duplicate window. Each consumer name is a durable pull consumer with explicit acks.

nats-py is asyncio; this class offers the synchronous ``Bus`` interface by running one event
loop in a background thread and submitting coroutines to it. Handlers run in the caller's
thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext

from openmyna.bus.events import (
    BusClosed,
    ConsumerConflict,
    DeliveryFailure,
    Event,
    Handler,
    HandlerError,
    InvalidSubject,
    check_event,
    from_json,
    matches_any,
    to_json,
    validate_consumer,
    validate_subject,
)
from openmyna.config import Settings
from openmyna.errors import Conflict, InvalidInput, Unavailable

log = logging.getLogger("openmyna.bus")

T = TypeVar("T")

_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DESCRIPTION = "openmyna bus consumer; subjects: "
# Statuses JetStream puts on a pull request's reply subject.
_HEARTBEAT = "100"
_NO_RESPONDERS = "503"


def safe_url(url: str) -> str:
    """The URL without user info (credentials never go into errors or logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


@dataclass
class _Subscription:
    name: str
    subjects: tuple[str, ...]
    handler: Handler
    inbox: str = ""
    nsub: Subscription | None = None
    requests: int = 0


class NatsBus:
    """The bus on NATS JetStream: a durable stream, durable pull consumers, explicit acks."""

    def __init__(
        self,
        settings: Settings,
        *,
        ack_wait: float = 30.0,
        batch: int = 64,
        connect_timeout: float = 3.0,
        request_timeout: float = 5.0,
        duplicate_window: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        if settings.bus_url is None:
            raise InvalidInput("NatsBus needs settings.bus_url (nats://host:port)")
        if not _STREAM.match(settings.bus_stream):
            raise InvalidInput(
                "bus stream name must be 1-32 of A-Z a-z 0-9 _ -", stream=settings.bus_stream
            )
        if batch < 1 or ack_wait <= 0:
            raise ValueError("batch must be >= 1 and ack_wait > 0")
        self._url = settings.bus_url
        self._where = safe_url(settings.bus_url)
        self._stream = settings.bus_stream
        self._prefix = settings.bus_stream.lower()
        self._ack_wait = ack_wait
        self._batch = batch
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._duplicate_window = duplicate_window
        self._poll_interval = poll_interval
        self._subs: dict[str, _Subscription] = {}
        self._pump_lock = threading.Lock()
        self._closed = False
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"openmyna-bus-{self._prefix}", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._connect(), connect_timeout + request_timeout)
        except BaseException:
            self._closed = True
            self._stop_loop()
            raise

    # -- plumbing between the caller's thread and the loop ----------------------------

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        wait = timeout if timeout is not None else self._request_timeout * 2
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise Unavailable("the NATS bus did not answer in time", url=self._where) from None
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise Unavailable(
                f"the NATS bus failed ({type(exc).__name__})", url=self._where
            ) from exc

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    @property
    def _client(self) -> Client:
        if self._nc is None:
            raise BusClosed("the bus is closed")
        return self._nc

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS bus %s: %s", self._where, type(exc).__name__)

    async def _on_disconnect(self) -> None:
        if not self._closed:
            log.warning("NATS bus %s: disconnected", self._where)

    async def _on_reconnect(self) -> None:
        log.info("NATS bus %s: reconnected", self._where)

    async def _connect(self) -> None:
        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self._url,
                    name=f"openmyna-{self._prefix}",
                    connect_timeout=max(1, int(self._connect_timeout)),
                    # Bounded: a dead server becomes an error, not an endless retry.
                    max_reconnect_attempts=20,
                    reconnect_time_wait=0.5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                ),
                self._connect_timeout,
            )
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise Unavailable(
                f"cannot connect to the NATS bus ({type(exc).__name__})", url=self._where
            ) from None
        try:
            await self._ensure_stream()
        except BaseException:
            await self._nc.close()
            self._nc = None
            raise

    async def _ensure_stream(self) -> None:
        jsm = self._client.jsm(timeout=self._request_timeout)
        subject = f"{self._prefix}.>"
        try:
            info = await jsm.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            pass
        except nats.errors.NoRespondersError:
            raise Unavailable(
                "NATS answers but JetStream is not enabled", url=self._where
            ) from None
        else:
            if subject not in (info.config.subjects or []):
                raise Conflict(
                    "the bus stream exists with other subjects",
                    stream=self._stream,
                    expected=subject,
                )
            return
        try:
            await jsm.add_stream(
                StreamConfig(
                    name=self._stream,
                    description="openmyna event bus",
                    subjects=[subject],
                    storage=StorageType.FILE,
                    retention=RetentionPolicy.LIMITS,
                    discard=DiscardPolicy.OLD,
                    duplicate_window=self._duplicate_window,
                )
            )
        except nats.errors.NoRespondersError:
            raise Unavailable(
                "NATS answers but JetStream is not enabled", url=self._where
            ) from None
        except nats.js.errors.BadRequestError as exc:
            raise Conflict(
                "cannot create the bus stream (subjects overlap another stream?)",
                stream=self._stream,
                api_code=exc.err_code or 0,
            ) from None

    # -- publishing -------------------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """Publish in order, each acknowledged by JetStream (stored) before the next."""
        self._check_open()
        for event in events:
            check_event(event)
        if events:
            self._call(self._publish(list(events)), self._request_timeout * 2)

    async def _publish(self, events: list[Event]) -> None:
        if self._js is None:
            self._js = self._client.jetstream(timeout=self._request_timeout)
        # Sent in order on one connection (so stored in order), acknowledgements awaited
        # together: one round trip per batch instead of one per event.
        pending = [
            await self._js.publish_async(
                f"{self._prefix}.{event.type}",
                to_json(event),
                stream=self._stream,
                headers={"Nats-Msg-Id": event.id},
            )
            for event in events
        ]
        acks = await asyncio.wait_for(asyncio.gather(*pending), self._request_timeout)
        for event, ack in zip(events, acks, strict=True):
            if ack.duplicate:
                log.debug("bus event %s was already in the stream", event.id)

    # -- subscribing ------------------------------------------------------------------

    def subscribe(self, consumer: str, subjects: Sequence[str], handler: Handler) -> None:
        """Attach ``handler`` to the durable pull consumer ``consumer`` (created if missing)."""
        self._check_open()
        validate_consumer(consumer)
        if isinstance(subjects, str) or not subjects:
            raise InvalidSubject("subjects must be a non-empty list of subject patterns")
        wanted = tuple(validate_subject(s) for s in subjects)
        if consumer in self._subs:
            raise ConsumerConflict("consumer already subscribed on this bus", consumer=consumer)
        sub = _Subscription(consumer, wanted, handler)
        self._call(self._subscribe(sub))
        self._subs[consumer] = sub

    def _consumer_config(self, sub: _Subscription) -> ConsumerConfig:
        # One pattern: the server filters. Several: the whole prefix, filtered here (one
        # consumer keeps one order; NATS 2.9 has no multi-subject filter).
        if len(sub.subjects) == 1:
            filter_subject = f"{self._prefix}.{sub.subjects[0]}"
        else:
            filter_subject = f"{self._prefix}.>"
        return ConsumerConfig(
            durable_name=sub.name,
            description=_DESCRIPTION + " ".join(sub.subjects),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            # At most one batch in flight per consumer.
            max_ack_pending=self._batch,
            filter_subject=filter_subject,
        )

    async def _subscribe(self, sub: _Subscription) -> None:
        jsm = self._client.jsm(timeout=self._request_timeout)
        config = self._consumer_config(sub)
        try:
            info = await jsm.consumer_info(self._stream, sub.name)
        except nats.js.errors.NotFoundError:
            await jsm.add_consumer(self._stream, config)
        else:
            have = info.config
            changed = (have.filter_subject, have.description) != (
                config.filter_subject,
                config.description,
            )
            if changed or info.num_ack_pending:
                # Resume at the first unacknowledged event, as the local bus resumes at its
                # cursor. Deliveries still unacknowledged belong to a process that died (one
                # process pumps a consumer at a time); waiting out their ack_wait would let
                # newer events overtake them.
                start = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
                log.info(
                    "bus consumer %s resumes at stream sequence %d (%s)",
                    sub.name,
                    start,
                    "new subjects" if changed else "unacknowledged deliveries",
                )
                await jsm.delete_consumer(self._stream, sub.name)
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = start
                await jsm.add_consumer(self._stream, config)
            elif (have.ack_wait, have.max_ack_pending) != (config.ack_wait, config.max_ack_pending):
                await jsm.add_consumer(self._stream, config)  # updates these two in place
        sub.inbox = self._client.new_inbox()
        sub.nsub = await self._client.subscribe(f"{sub.inbox}.*")

    # -- delivering -------------------------------------------------------------------

    def pump(self, *, timeout: float = 0.0) -> int:
        """Deliver pending events to every consumer; wait up to ``timeout`` s if none are.

        A handler that raises stops its consumer at that event (it and the rest of the batch
        are negatively acknowledged, so delivered again next time); the other consumers still
        get theirs, then ``HandlerError`` is raised.
        """
        self._check_open()
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._pump_lock:
            while True:
                handled = 0
                failures: list[DeliveryFailure] = []
                for sub in list(self._subs.values()):
                    count, failure = self._drain(sub)
                    handled += count
                    if failure is not None:
                        failures.append(failure)
                if failures:
                    raise HandlerError(failures, handled) from failures[0].error
                remaining = deadline - time.monotonic()
                if handled or remaining <= 0:
                    return handled
                time.sleep(min(self._poll_interval, remaining))

    def _drain(self, sub: _Subscription) -> tuple[int, DeliveryFailure | None]:
        handled = 0
        while True:
            msgs = self._call(self._pull(sub))
            if not msgs:
                return handled, None
            for index, msg in enumerate(msgs):
                event = self._decode(msg)
                if event is not None and matches_any(sub.subjects, event.type):
                    try:
                        sub.handler(event)
                    except Exception as exc:  # noqa: BLE001 - reported by pump as HandlerError
                        log.warning(
                            "bus consumer %s failed at event %s (%s): %s",
                            sub.name,
                            event.id,
                            event.type,
                            type(exc).__name__,
                        )
                        # It and the rest of the batch go back, in order, for the next pump.
                        self._call(self._nak(msgs[index:]))
                        return handled, DeliveryFailure(sub.name, event, exc)
                    handled += 1
                # Each ack waits for the server before the next handler runs: a process that
                # dies in a handler has every earlier event acknowledged, so only the event
                # in hand is delivered again (one loopback round trip per event).
                self._call(msg.ack_sync(timeout=self._request_timeout))

    def _decode(self, msg: Msg) -> Event | None:
        try:
            return from_json(msg.data)
        except (ValueError, KeyError, TypeError):
            # Not written by openmyna: acknowledged and skipped so it cannot block the stream.
            log.error("bus: skipping a message that is not an openmyna event on %s", msg.subject)
            return None

    async def _pull(self, sub: _Subscription) -> list[Msg]:
        assert sub.nsub is not None
        sub.requests += 1
        reply = f"{sub.inbox}.{sub.requests}"
        request = json.dumps({"batch": self._batch, "no_wait": True}).encode()
        await self._client.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{sub.name}", request, reply=reply
        )
        msgs: list[Msg] = []
        deadline = time.monotonic() + self._request_timeout
        while len(msgs) < self._batch:
            try:
                msg = await sub.nsub.next_msg(timeout=max(deadline - time.monotonic(), 0.001))
            except nats.errors.TimeoutError:
                if msgs:
                    return msgs
                raise
            status = msg.headers.get("Status") if msg.headers else None
            if status is None:
                msgs.append(msg)
            elif msg.subject != reply or status == _HEARTBEAT:
                continue  # left over from an earlier request, or a heartbeat
            elif status == _NO_RESPONDERS:
                raise Unavailable("JetStream does not answer", url=self._where)
            else:
                break  # 404 no messages, 408 request expired, 409 a consumer limit
        return msgs

    async def _nak(self, msgs: list[Msg]) -> None:
        for msg in msgs[:-1]:
            await msg.nak()
        # The last one as a request: the server answers once it has processed it, and with
        # it every ack and nak before it, so the next pull starts at the failed event.
        last = msgs[-1]
        assert last.reply
        await self._client.request(last.reply, b"-NAK", timeout=self._request_timeout)

    # -- lifecycle --------------------------------------------------------------------

    def drop(self) -> None:
        """Delete the whole stream with its consumers (tests and ``demo --reset``), then close."""
        self._check_open()
        try:
            self._call(self._drop())
        finally:
            self.close()

    async def _drop(self) -> None:
        jsm = self._client.jsm(timeout=self._request_timeout)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await jsm.delete_stream(self._stream)

    def close(self) -> None:
        """Flush, disconnect and stop the background loop; later calls raise ``BusClosed``."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._nc is not None:
                self._call(self._close(), self._request_timeout + 1)
        finally:
            self._subs.clear()
            self._stop_loop()

    async def _close(self) -> None:
        nc = self._client
        self._nc = None
        if nc.is_connected:
            try:
                await nc.flush(timeout=int(self._request_timeout))
            except (TimeoutError, nats.errors.Error):
                log.warning("NATS bus %s: could not flush before closing", self._where)
        await nc.close()
