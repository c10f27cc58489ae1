"""The event bus: bodies tell each other what happened (a move, a death, a revocation).

Two implementations behind one ``Bus`` protocol: ``LocalBus`` (the embedded default, a
durable log in the bus's own database) and ``NatsBus`` (NATS JetStream, when
``OPENMYNA_BUS_URL`` is set). Delivery is at least once, in publish order per consumer;
consumers make their effects idempotent with the inbox helpers (``idempotent``,
``claim_event``, ``processed_events_table``); producers that must not lose an event stage it
in their own transaction with the outbox helpers (``outbox_table``, ``stage``, ``relay``).
Every domain uses these same helpers; none keeps an outbox of its own.
"""

from __future__ import annotations

from openmyna.bus.events import (
    Bus,
    BusClosed,
    ConsumerConflict,
    DeliveryFailure,
    Event,
    Handler,
    HandlerError,
    InvalidEvent,
    InvalidSubject,
    new_event,
    subject_matches,
)
from openmyna.bus.inbox import (
    AlreadyProcessed,
    already_processed,
    claim_event,
    idempotent,
    mark_processed,
    processed_events_columns,
    processed_events_table,
)
from openmyna.bus.local import LocalBus
from openmyna.bus.outbox import (
    Publisher,
    outbox_columns,
    outbox_rows,
    outbox_table,
    relay,
    stage,
    staged,
    staged_count,
)
from openmyna.config import Settings

__all__ = [
    "AlreadyProcessed",
    "Bus",
    "BusClosed",
    "ConsumerConflict",
    "DeliveryFailure",
    "Event",
    "Handler",
    "HandlerError",
    "InvalidEvent",
    "InvalidSubject",
    "LocalBus",
    "Publisher",
    "already_processed",
    "claim_event",
    "idempotent",
    "mark_processed",
    "new_event",
    "open_bus",
    "outbox_columns",
    "outbox_rows",
    "outbox_table",
    "processed_events_columns",
    "processed_events_table",
    "relay",
    "stage",
    "staged",
    "staged_count",
    "subject_matches",
]


def open_bus(settings: Settings, *, ack_wait: float = 30.0) -> Bus:
    """The bus ``settings`` select: ``LocalBus`` without ``bus_url``, else ``NatsBus``.

    ``ack_wait`` (NATS only): seconds before an unacknowledged delivery is sent again, e.g.
    after the consuming process died.
    """
    if settings.bus_url is None:
        return LocalBus(settings)
    # Imported here: nats-py is the optional [nats] extra.
    from openmyna.bus.nats import NatsBus

    return NatsBus(settings, ack_wait=ack_wait)
