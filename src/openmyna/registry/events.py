"""The registry's events: their data, and staging them with each change.

Every change stages its bus message in the registry's ``outbox`` table (the bus's generic
transactional outbox, ``openmyna.bus.stage``) in the same transaction as the change itself
and its audit row. The facade relays the outbox to the bus after each commit
(``openmyna.bus.relay``); a crash before the relay loses nothing, and a repeated publish is
absorbed by event id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from openmyna.bus import Event, stage
from openmyna.registry.models import EventType, Resident
from openmyna.registry.tables import audit_log, outbox


def utc(moment: dt.datetime) -> dt.datetime:
    """A datetime as timezone-aware UTC (SQLite returns naive UTC values)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def source_of(lg_code: str) -> str:
    """The event source of a municipality's registry."""
    return f"registry.{lg_code}"


def person_data(r: Mapping[str, Any]) -> dict[str, Any]:
    """A person's part of event data: code, sequence number, names and the 4 basic items.

    ``r`` is a resident's fields (a ``residents`` row or ``vars(Resident)``). The individual
    number is never put on the bus: the index derives it from the code (J-LIS role). A foreign
    resident's end of stay (在留期間等の満了の日) goes with them, only when there is one.
    """
    data = {
        "resident_code": r["resident_code"],
        "seq": r["seq"],
        "family_name": r["family_name"],
        "given_name": r["given_name"],
        "family_name_kana": r["family_name_kana"],
        "given_name_kana": r["given_name_kana"],
        "former_surname": r["former_surname"],
        "date_of_birth": r["date_of_birth"].isoformat(),
        "sex": int(r["sex"]),
        "address": r["address"],
    }
    stay = r.get("stay_expires_on")
    if stay is not None:
        data["stay_expires_on"] = stay.isoformat()
    return data


def resident_data(
    r: Mapping[str, Any], lg_code: str, event_date: dt.date, **extra: Any
) -> dict[str, Any]:
    """The data of a one-person event: the person, the municipality and the event date."""
    data: dict[str, Any] = {"lg_code": lg_code, "event_date": event_date.isoformat()}
    data.update(person_data(r))
    data.update(extra)
    return data


def registered_data(
    people: Sequence[Mapping[str, Any]], lg_code: str, event_date: dt.date
) -> dict[str, Any]:
    """The data of a bulk ``registry.registered`` event: many people of one municipality."""
    return {
        "lg_code": lg_code,
        "event_date": event_date.isoformat(),
        "residents": [person_data(p) for p in people],
    }


def registry_event(
    event_type: EventType, lg_code: str, data: Mapping[str, Any], now: dt.datetime
) -> Event:
    """A new event of a municipality's registry, with a fresh id (checked when staged)."""
    # Not ``new_event``: its check would encode the data a second time (a bulk event holds
    # 500 people), and ``stage`` checks every event anyway.
    return Event(uuid.uuid4().hex, event_type.value, source_of(lg_code), now, data)


def audit_row(
    *,
    now: dt.datetime,
    event_date: dt.date,
    action: str,
    event_id: str | None,
    resident_code: str | None,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """One audit row: who, when, why and which record — never the content."""
    return {
        "recorded_at": now,
        "event_date": event_date,
        "action": action,
        "event_id": event_id,
        "resident_code": resident_code,
        "actor": actor,
        "reason": reason,
    }


def record_event(
    session: Session,
    event_type: EventType,
    resident: Resident,
    event_date: dt.date,
    *,
    now: dt.datetime,
    actor: str,
    reason: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Stage one event and write its audit row in the caller's transaction; its id."""
    data = resident_data(vars(resident), resident.lg_code, event_date, **dict(extra or {}))
    event = registry_event(event_type, resident.lg_code, data, now)
    stage(session, outbox, [event])
    session.execute(
        audit_log.insert(),
        audit_row(
            now=now,
            event_date=event_date,
            action=event_type.value,
            event_id=event.id,
            resident_code=resident.resident_code,
            actor=actor,
            reason=reason,
        ),
    )
    return event.id
