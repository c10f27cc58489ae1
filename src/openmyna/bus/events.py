"""Events, subjects and the ``Bus`` protocol shared by both bus implementations."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from openmyna.errors import Conflict, InvalidInput, OpenMynaError, Unavailable

# A subject token: what may stand between two dots of an event type. Kept to the characters
# that are safe everywhere an event type goes (a NATS subject, a SQL LIKE prefix, a log line).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_TYPE_LENGTH = 200
_MAX_SOURCE_LENGTH = 200


@dataclass(frozen=True)
class Event:
    """A fact that happened in one body, told to whoever subscribes (at least once)."""

    #: Globally unique (uuid4 hex); consumers de-duplicate on it.
    id: str
    #: Dotted subject, e.g. ``registry.moved_out``.
    type: str
    #: The emitting body, e.g. ``registry.102016``.
    source: str
    #: When it happened (timezone-aware), from the emitter's injected clock.
    occurred_at: dt.datetime
    #: JSON-serialisable payload. Never the 12-digit number; prefer codes and ids. Registry
    #: events carry the 4 items, so the payload stays out of ``repr`` (logs, tracebacks).
    data: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)


Handler = Callable[[Event], None]


class Bus(Protocol):
    """Durable publish/subscribe with at-least-once delivery and per-consumer order."""

    def publish(self, events: Sequence[Event]) -> None:
        """Append events to the log; durable once this returns."""
        ...

    def subscribe(self, consumer: str, subjects: Sequence[str], handler: Handler) -> None:
        """Attach ``handler`` to the durable consumer ``consumer`` for matching subjects."""
        ...

    def pump(self, *, timeout: float = 0.0) -> int:
        """Deliver pending events to every subscribed consumer; return handler calls made."""
        ...

    def close(self) -> None:
        """Release connections; the bus cannot be used afterwards."""
        ...


class InvalidSubject(InvalidInput):
    """An event type or subscription subject that is not a well-formed dotted subject."""

    code = "BUS_INVALID_SUBJECT"


class InvalidEvent(InvalidInput):
    """An event that cannot be published (bad id, naive time, data not JSON)."""

    code = "BUS_INVALID_EVENT"


class ConsumerConflict(Conflict):
    """The same consumer name is subscribed twice on one bus."""

    code = "BUS_CONSUMER_CONFLICT"


class BusClosed(Unavailable):
    """The bus was closed and cannot be used any more."""

    code = "BUS_CLOSED"


@dataclass(frozen=True)
class DeliveryFailure:
    """One consumer whose handler raised: delivery stopped at ``event`` for this pump."""

    consumer: str
    event: Event
    error: Exception


class HandlerError(OpenMynaError):
    """One or more handlers raised during ``pump``; their events will be delivered again."""

    code: ClassVar[str] = "BUS_HANDLER_FAILED"
    http_status: ClassVar[int] = 500

    def __init__(self, failures: Sequence[DeliveryFailure], handled: int) -> None:
        # Only ids, types and exception class names: event data and exception messages may
        # carry personal data and stay out of the message (they remain on ``failures``).
        summary = ", ".join(
            f"{f.consumer} at {f.event.type} {f.event.id} ({type(f.error).__name__})"
            for f in failures
        )
        super().__init__(
            f"{len(failures)} consumer(s) failed: {summary}",
            consumers=",".join(f.consumer for f in failures),
            handled=handled,
        )
        self.failures = tuple(failures)
        self.handled = handled


def _check_tokens(subject: str, what: str, *, wildcards: bool) -> list[str]:
    if not subject or len(subject) > _MAX_TYPE_LENGTH:
        raise InvalidSubject(f"{what} must be 1-{_MAX_TYPE_LENGTH} characters", subject=subject)
    parts = subject.split(".")
    for i, part in enumerate(parts):
        if wildcards and part == "*":
            continue
        if wildcards and part == ">" and i == len(parts) - 1:
            continue
        if not _TOKEN.match(part):
            raise InvalidSubject(
                f"{what} must be dot-separated tokens of A-Z a-z 0-9 _ -"
                + (" (with * for one token, > last for the rest)" if wildcards else ""),
                subject=subject,
            )
    return parts


def validate_type(event_type: str) -> str:
    """Check an event type (a subject without wildcards) and return it."""
    _check_tokens(event_type, "event type", wildcards=False)
    return event_type


def validate_subject(pattern: str) -> str:
    """Check a subscription subject (``*`` one token, ``>`` the rest) and return it."""
    _check_tokens(pattern, "subject", wildcards=True)
    return pattern


def validate_consumer(name: str) -> str:
    """Check a durable consumer name (1-64 of A-Z a-z 0-9 _ -) and return it."""
    if not _CONSUMER.match(name):
        raise InvalidInput("consumer name must be 1-64 of A-Z a-z 0-9 _ -", consumer=name)
    return name


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches the NATS-style ``pattern`` (``*`` one token, ``>`` rest)."""
    want = pattern.split(".")
    have = subject.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return len(have) > i
        if i >= len(have) or (part != "*" and part != have[i]):
            return False
    return len(have) == len(want)


def matches_any(patterns: Sequence[str], subject: str) -> bool:
    """Whether ``subject`` matches at least one of ``patterns``."""
    return any(subject_matches(p, subject) for p in patterns)


def new_event(
    type: str,
    source: str,
    occurred_at: dt.datetime,
    data: Mapping[str, Any],
) -> Event:
    """Make an event with a fresh unique id, after checking it can be published."""
    event = Event(
        id=uuid.uuid4().hex,
        type=type,
        source=source,
        occurred_at=occurred_at,
        data=dict(data),
    )
    check_event(event)
    return event


def check_event(event: Event) -> None:
    """Refuse an event that could not be stored or delivered faithfully."""
    if not isinstance(event.id, str) or not _EVENT_ID.match(event.id):
        raise InvalidEvent("event id must be 1-64 of A-Z a-z 0-9 _ - (uuid4 hex by default)")
    validate_type(event.type)
    if not event.source or len(event.source) > _MAX_SOURCE_LENGTH:
        raise InvalidEvent(f"event source must be 1-{_MAX_SOURCE_LENGTH} characters")
    if not isinstance(event.occurred_at, dt.datetime) or event.occurred_at.utcoffset() is None:
        raise InvalidEvent("occurred_at must be a timezone-aware datetime", id=event.id)
    encode_data(event)


def encode_data(event: Event) -> str:
    """The event's data as canonical JSON text (refusing what JSON cannot carry)."""
    try:
        return json.dumps(dict(event.data), ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        # The message names the event, not the offending value (it may be personal data).
        raise InvalidEvent("event data must be JSON-serialisable", id=event.id) from exc


def to_json(event: Event) -> bytes:
    """The whole event as UTF-8 JSON (the NATS message body)."""
    body = {
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "occurred_at": event.occurred_at.isoformat(),
        "data": json.loads(encode_data(event)),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def from_json(raw: bytes) -> Event:
    """Read an event written by ``to_json``."""
    body = json.loads(raw)
    return Event(
        id=body["id"],
        type=body["type"],
        source=body["source"],
        occurred_at=dt.datetime.fromisoformat(body["occurred_at"]),
        data=body["data"],
    )
