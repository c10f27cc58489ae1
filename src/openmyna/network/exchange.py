"""What the hub (``hub.Hub``) and the agency nodes (``node.AgencyNode``) share about an exchange.

A requester node signs an ``ExchangeRequest`` naming the person by its own agency-specific
code; the ``Hub`` verifies it against the requester's node certificate, checks the
allow-list (別表第二) by agency kinds, translates the code to the provider's and signs a
``ForwardedRequest``; the provider node looks the item up under its own code and answers with
the item encrypted for the requester's certified key only; the hub records the outcome and
relays the provider's signed answer, without being able to read it, in an ``ExchangeResult``;
the requester verifies both signatures, decrypts and validates the item against its layout.
Requester, provider and hub each record every exchange and every refusal (never the content),
once per exchange: a retry under the same idempotency key continues the same exchange.

The hub keeps its state in its database only (``HubStore``), so any number of hub processes
can serve one network. How a forwarded request reaches the provider is a ``Deliver``
function: a direct call in one process (``LocalNetwork``), HTTPS with mutual TLS between
processes (``service``). Batches go through the same code: one database transaction per
phase and one signature per batch (``signing.sign_many``).

This module holds the pieces both sides use: ``Deliver``, ``RequestSpec``, how an
exchange is named (``exchange_ref``, ``exchange_id_of``) and the envelopes' validity window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from openmyna.clock import Clock
from openmyna.errors import OpenMynaError
from openmyna.network import messages as m
from openmyna.network import signing
from openmyna.network.netca import NodeIdentity

#: How long a message stays valid after it is signed.
MESSAGE_VALIDITY: Final = dt.timedelta(minutes=2)


#: How a hub hands forwarded requests to a provider's node: (provider agency id, forwarded
#: tokens) → one answer token (or the provider's error) per token, in order. It raises
#: ``ProviderUnavailable`` when the node cannot be reached.
Deliver = Callable[[str, list[str]], "Sequence[str | OpenMynaError]"]


@dataclass(frozen=True)
class RequestSpec:
    """What a requester asks for: an item of the person it knows by ``code``, for ``affair``."""

    code: str
    affair: str
    item: str
    provider_kind: str | None = None
    provider_agency: str | None = None
    idempotency_key: str | None = None


def exchange_ref(requester: str, idempotency_key: str) -> str:
    """The id of the exchange a requester opens under an idempotency key (32 hex digits).

    Both the requester and the hub derive it, so every attempt (retry) of one request is bound
    to the same exchange: the forwarded request, the provider's answer and the encrypted
    content all carry it.
    """
    return hashlib.sha256(f"{requester}\0{idempotency_key}".encode()).hexdigest()[:32]


def exchange_id_of(ref: str) -> str:
    """The exchange id in records: the exchange ref, dashed every 8 hex digits.

    Records refuse any value with twelve decimal digits in a row (no individual number may
    slip in); a bare 32-digit hex id has such a run about once in twelve exchanges.
    """
    return "-".join(ref[i : i + 8] for i in range(0, len(ref), 8))


def envelope_times(clock: Clock) -> dict[str, Any]:
    """A fresh message id and a validity window from now (``MESSAGE_VALIDITY``)."""
    now = clock.now()
    return {
        "message_id": m.new_message_id(),
        "issued_at": now,
        "expires_at": now + MESSAGE_VALIDITY,
    }


def sign_all(envelopes: Sequence[m.Envelope], identity: NodeIdentity) -> list[str]:
    """One plain signature for one envelope, one batch signature for several."""
    if not envelopes:
        return []
    if len(envelopes) == 1:
        return [signing.sign(envelopes[0], identity.private_key, identity.agency_id)]
    return signing.sign_many(list(envelopes), identity.private_key, identity.agency_id)
