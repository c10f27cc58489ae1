"""Bulk initial registration (初期登録) for seeding a registry with many households at once.

Everything is validated first; then households are written in batches of a few thousand
residents, one transaction each: codes and numbers from ``issue_arrays``, the rows of all
tables inserted with ``executemany`` (``COPY`` on PostgreSQL), one ``registry.registered``
event per ``EVENT_CHUNK`` residents staged in the bus outbox. A failure part-way leaves whole
batches only (each one complete with its events).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from openmyna.bus import Event, stage
from openmyna.clock import Clock
from openmyna.numbers import to_strings
from openmyna.registry import events as ev
from openmyna.registry import rules
from openmyna.registry.errors import InvalidDate, InvalidResidentData
from openmyna.registry.models import (
    Arrival,
    BulkResult,
    EventType,
    HouseholdLike,
    NewPerson,
    NumberIssuer,
    Relationship,
    Status,
)
from openmyna.registry.tables import audit_log, households, outbox, residents
from openmyna.store import Store
from openmyna.store.insert import insert_many

#: Residents per ``registry.registered`` event (keeps a message well under 1 MB).
EVENT_CHUNK = 500


def _validated(
    items: Iterable[HouseholdLike], on: dt.date, today: dt.date
) -> list[tuple[str, list[NewPerson]]]:
    out: list[tuple[str, list[NewPerson]]] = []
    for i, h in enumerate(items):
        try:
            addr = rules.address(h.address)
            members = [rules.person(m, today) for m in h.members]
            if not members:
                raise InvalidResidentData("a household needs at least one member")
            heads = 0
            for j, m in enumerate(members):
                if m.relationship is None:
                    if j:
                        raise InvalidResidentData("members after the first need a relationship")
                    members[j] = m = replace(m, relationship=Relationship.HEAD)
                heads += m.relationship is Relationship.HEAD
                rules.not_before(on, m.date_of_birth, "on", "a member's date of birth")
            if heads != 1:
                raise InvalidResidentData("a household needs exactly one head (世帯主)")
        except (InvalidResidentData, InvalidDate) as exc:
            exc.context["household_index"] = i
            raise
        out.append((addr, members))
    return out


def _batches(
    planned: list[tuple[str, list[NewPerson]]], size: int
) -> Iterable[list[tuple[str, list[NewPerson]]]]:
    batch: list[tuple[str, list[NewPerson]]] = []
    n = 0
    for item in planned:
        batch.append(item)
        n += len(item[1])
        if n >= size:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def register_households(
    store: Store,
    lg_code: str,
    clock: Clock,
    issuer: Callable[[], NumberIssuer],
    items: Iterable[HouseholdLike],
    *,
    on: dt.date,
    batch_size: int,
    progress: Callable[[int], None] | None,
    actor: str,
    reason: str,
) -> BulkResult:
    """Register households in batches; see the module docstring."""
    actor, reason = rules.actor_and_reason(actor, reason)
    today = clock.today()
    on = rules.not_future(on, today, "on")
    if batch_size < 1:
        raise InvalidResidentData("batch_size must be at least 1")
    planned = _validated(items, on, today)
    total = sum(len(m) for _, m in planned)
    if total == 0:
        return BulkResult(households=0, residents=0, events=0)
    numbering = issuer()
    lg = lg_code
    done = 0
    events = 0
    for batch in _batches(planned, batch_size):
        n = sum(len(m) for _, m in batch)
        code_arr, number_arr = numbering.issue_arrays(n)
        codes = to_strings(code_arr, 11)
        numbers = to_strings(number_arr, 12)
        now = clock.now()
        hh_rows: list[dict[str, Any]] = []
        res_rows: list[dict[str, Any]] = []
        batch_events: list[Event] = []
        audit_rows: list[dict[str, Any]] = []
        k = 0
        for addr, members in batch:
            hid = secrets.token_hex(8)
            head_code: str | None = None
            for m in members:
                code, number = codes[k], numbers[k]
                k += 1
                rel = Relationship.parse(m.relationship or Relationship.HEAD)
                if rel is Relationship.HEAD:
                    head_code = code
                row = {
                    "resident_code": code,
                    "individual_number": number,
                    "family_name": m.family_name,
                    "given_name": m.given_name,
                    "family_name_kana": m.family_name_kana,
                    "given_name_kana": m.given_name_kana,
                    "former_surname": m.former_surname,
                    "former_surname_kana": m.former_surname_kana,
                    "date_of_birth": m.date_of_birth,
                    "sex": int(m.sex),
                    "address": addr,
                    "household_id": hid,
                    "relationship": rel.value,
                    "status": Status.CURRENT.value,
                    "arrival": Arrival.REGISTERED.value,
                    "resident_since": on,
                    "address_since": on,
                    "seq": 1,
                    "last_event_on": on,
                    "updated_at": now,
                    "stay_expires_on": m.stay_expires_on,
                }
                res_rows.append(row)
            hh_rows.append(
                {
                    "household_id": hid,
                    "address": addr,
                    "head_resident_code": head_code,
                    "status": "current",
                    "created_on": on,
                    "updated_at": now,
                }
            )
        for start in range(0, len(res_rows), EVENT_CHUNK):
            chunk = res_rows[start : start + EVENT_CHUNK]
            event = ev.registry_event(
                EventType.REGISTERED, lg, ev.registered_data(chunk, lg, on), now
            )
            batch_events.append(event)
            audit_rows.extend(
                ev.audit_row(
                    now=now,
                    event_date=on,
                    action=EventType.REGISTERED.value,
                    event_id=event.id,
                    resident_code=p["resident_code"],
                    actor=actor,
                    reason=reason,
                )
                for p in chunk
            )
        with store.transaction() as s:
            insert_many(s, households, hh_rows)
            insert_many(s, residents, res_rows)
            stage(s, outbox, batch_events)
            insert_many(s, audit_log, audit_rows)
        done += n
        events += len(batch_events)
        if progress is not None:
            progress(done)
    return BulkResult(households=len(planned), residents=total, events=events)
