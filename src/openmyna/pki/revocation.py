"""Revocation driven by events (J2): registry facts and card lifecycle facts on the bus.

- ``registry.moved_out``, ``moved_in``, ``moved_within``, ``name_changed``: the 4 items
  changed, so the signature certificate is revoked (affiliationChanged);
- ``registry.died``, ``registry.moved_abroad``: both are revoked (cessationOfOperation);
- ``card.lost``: both are suspended (certificateHold, 一時停止); ``card.found``: resumed;
- ``card.returned``, ``card.revoked``: both are revoked (cessationOfOperation).

Only certificates issued at or before the event's ``occurred_at`` are affected, so a
certificate issued after the fact (a new signature certificate at the destination's counter)
is not revoked by a late delivery of that fact. Card events name the card (``card_id``); a
certificate issued with a card id is affected only by events of that card.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from openmyna.bus import Event
from openmyna.numbers.redaction import masked_repr
from openmyna.pki import records
from openmyna.pki.errors import CertificateAlreadyRevoked
from openmyna.pki.profiles import CertKind
from openmyna.pki.records import Action, CertStatus, RevocationReason

log = logging.getLogger(__name__)

#: The durable bus consumer name of the JPKI revoker.
CONSUMER = "pki-revoker"

BOTH = (CertKind.AUTH, CertKind.SIGN)
SIGN_ONLY = (CertKind.SIGN,)


@dataclass(frozen=True)
class Rule:
    """What an event does to a resident's certificates."""

    action: Action
    kinds: tuple[CertKind, ...]
    reason: RevocationReason | None


_CHANGED = Rule(Action.REVOKE, SIGN_ONLY, RevocationReason.AFFILIATION_CHANGED)
_ENDED = Rule(Action.REVOKE, BOTH, RevocationReason.CESSATION_OF_OPERATION)

RULES: dict[str, Rule] = {
    "registry.moved_out": _CHANGED,
    "registry.moved_in": _CHANGED,
    "registry.moved_within": _CHANGED,
    "registry.name_changed": _CHANGED,
    "registry.died": _ENDED,
    "registry.moved_abroad": _ENDED,
    "card.lost": Rule(Action.SUSPEND, BOTH, RevocationReason.CERTIFICATE_HOLD),
    "card.found": Rule(Action.RESUME, BOTH, None),
    "card.returned": _ENDED,
    "card.revoked": _ENDED,
}

#: The subjects the revoker subscribes to.
SUBJECTS = tuple(RULES)

#: Which statuses an action starts from.
SOURCES = {
    Action.REVOKE: (CertStatus.GOOD, CertStatus.SUSPENDED),
    Action.SUSPEND: (CertStatus.GOOD,),
    Action.RESUME: (CertStatus.SUSPENDED,),
}


@dataclass(frozen=True)
class Target:
    """The certificates an event acts on: whose, which kinds, issued up to when, which card."""

    rule: Rule
    resident_code: str
    card_id: str | None
    event: Event

    def __repr__(self) -> str:
        return masked_repr(self)


def target_of(event: Event) -> Target | None:
    """What ``event`` asks the issuer to do, or None if it is not about one resident's certs."""
    rule = RULES.get(event.type)
    if rule is None:
        return None
    code = event.data.get("resident_code")
    if not isinstance(code, str) or not code:
        # e.g. a batch event, or a malformed one: nothing to act on, and nothing to retry.
        log.warning("event %s (%s) names no resident; ignored", event.id, event.type)
        return None
    card_id = event.data.get("card_id") if event.type.startswith("card.") else None
    return Target(
        rule=rule,
        resident_code=code,
        card_id=card_id if isinstance(card_id, str) and card_id else None,
        event=event,
    )


def change_for_resident(
    s: Session,
    resident_code: str,
    kinds: Iterable[CertKind],
    action: Action,
    reason: RevocationReason | None,
    *,
    at: dt.datetime,
    issued_up_to: dt.datetime | None,
    card_id: str | None,
    actor: str,
    event_id: str | None,
) -> list[int]:
    """Apply ``action`` to a resident's certificates of ``kinds`` it applies to; their serials.

    Only certificates in one of the action's source statuses change (``SOURCES``); with
    ``issued_up_to``, only those issued by then (a card issued after the event keeps its
    certificates); with ``card_id``, only that card's.
    """
    targets = records.records_of(
        s,
        resident_code,
        [CertKind(k) for k in kinds],
        statuses=SOURCES[action],
        issued_up_to=issued_up_to,
        card_id=card_id,
    )
    done = []
    for record in targets:
        try:
            if records.change_status(
                s, record, action, reason=reason, at=at, actor=actor, event_id=event_id
            ):
                done.append(record.serial)
        except CertificateAlreadyRevoked:
            continue  # revoked meanwhile: nothing left to suspend or resume
    return done
