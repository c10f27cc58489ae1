"""The national identity index (本人確認情報, the 住基ネット role): one body, "national".

It holds, per person, the resident-record code, the individual number, the 4 basic items,
a status and the municipality, and is kept current only from the registries' events on the
bus. Events carry no individual number: the index derives it from the resident-record code
through the numbering authority, as J-LIS does.

It consumes the events as a durable, idempotent consumer: an event id already in its inbox
has no second effect, and an event older than what it holds (by the per-person sequence
number the registries carry across moves) does not overwrite newer data, so duplicates and
out-of-order delivery (a move-in relayed before the matching move-out) are both harmless.

The index body also keeps the directory of municipalities whose registries exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openmyna.bus import Bus, Event, claim_event
from openmyna.clock import Clock
from openmyna.errors import NotFound
from openmyna.numbers import to_strings, validate_individual_number, validate_resident_code
from openmyna.registry.events import utc
from openmyna.registry.models import EventType, IdentityEntry, IdentityStatus, MunicipalityInfo, Sex
from openmyna.registry.municipalities import Municipality
from openmyna.registry.tables import identities, municipalities, processed_events
from openmyna.store import Store
from openmyna.store.insert import insert_many

CONSUMER = "identity_index"
SUBJECTS = ("registry.>",)

_STATUS = {
    EventType.BIRTH.value: IdentityStatus.CURRENT,
    EventType.REGISTERED.value: IdentityStatus.CURRENT,
    EventType.MOVED_IN.value: IdentityStatus.CURRENT,
    EventType.MOVED_WITHIN.value: IdentityStatus.CURRENT,
    EventType.NAME_CHANGED.value: IdentityStatus.CURRENT,
    EventType.MOVED_OUT.value: IdentityStatus.MOVED_OUT,
    EventType.DIED.value: IdentityStatus.DIED,
    EventType.MOVED_ABROAD.value: IdentityStatus.ABROAD,
}
_LOOKUP_CHUNK = 500


class IdentityNotFound(NotFound):
    """No identity index entry for that code or number."""

    code = "IDENTITY_NOT_FOUND"


class NumberSource(Protocol):
    """Derives individual numbers from resident-record codes (the J-LIS role)."""

    def individual_number_for(self, resident_code: str) -> str:
        """The individual number of one code."""
        ...

    def individual_numbers_for(self, resident_codes: Any) -> Any:
        """The individual numbers of many codes (uint64 arrays)."""
        ...


def _values(
    person: Mapping[str, Any], lg_code: str, status: IdentityStatus, event_id: str, now: dt.datetime
) -> dict[str, Any]:
    stay = person.get("stay_expires_on")  # only a foreign resident with a period of stay
    return {
        "resident_code": person["resident_code"],
        "family_name": person["family_name"],
        "given_name": person["given_name"],
        "family_name_kana": person["family_name_kana"],
        "given_name_kana": person["given_name_kana"],
        "former_surname": person.get("former_surname"),
        "date_of_birth": dt.date.fromisoformat(person["date_of_birth"]),
        "sex": int(person["sex"]),
        "address": person["address"],
        "status": status.value,
        "lg_code": lg_code,
        "seq": int(person["seq"]),
        "last_event_id": event_id,
        "updated_at": now,
        "stay_expires_on": dt.date.fromisoformat(stay) if stay else None,
    }


def _entry(r: Any) -> IdentityEntry:
    return IdentityEntry(
        resident_code=r.resident_code,
        individual_number=r.individual_number,
        family_name=r.family_name,
        given_name=r.given_name,
        family_name_kana=r.family_name_kana,
        given_name_kana=r.given_name_kana,
        former_surname=r.former_surname,
        date_of_birth=r.date_of_birth,
        sex=Sex(r.sex),
        address=r.address,
        status=IdentityStatus(r.status),
        lg_code=r.lg_code,
        seq=r.seq,
        version=r.version,
        updated_at=utc(r.updated_at),
        stay_expires_on=r.stay_expires_on,
    )


class IdentityIndex:
    """The national identity index (本人確認情報) and the directory of municipalities."""

    def __init__(self, store: Store, clock: Clock, numbers: Callable[[], NumberSource]) -> None:
        self.store = store
        self._clock = clock
        self._numbers = numbers

    # --- consuming events ------------------------------------------------------------------

    def subscribe(self, bus: Bus) -> None:
        """Subscribe to the registries' events as the durable consumer ``identity_index``."""
        bus.subscribe(CONSUMER, list(SUBJECTS), self.handle)

    def handle(self, event: Event) -> None:
        """Bus handler: apply one event (idempotent)."""
        self.apply(event)

    def apply(self, event: Event) -> int:
        """Apply one registry event in one transaction; how many entries it changed.

        An event id seen before changes nothing (the inbox); so does a person's data older
        than what the index holds (lower sequence number).
        """
        now = self._clock.now()
        with self.store.transaction() as s:
            if not claim_event(s, processed_events, CONSUMER, event.id):
                return 0
            status = _STATUS.get(event.type)
            if status is None:
                return 0  # a registry event the index does not use
            data = event.data
            lg_code = str(data["lg_code"])
            people = data.get("residents", [data])
            rows = [_values(p, lg_code, status, event.id, now) for p in people]
            return self._upsert(s, rows)

    def _upsert(self, s: Session, rows: list[dict[str, Any]]) -> int:
        held: dict[str, tuple[int, int]] = {}
        codes = [r["resident_code"] for r in rows]
        for i in range(0, len(codes), _LOOKUP_CHUNK):
            part = codes[i : i + _LOOKUP_CHUNK]
            for code, seq, version in s.execute(
                select(identities.c.resident_code, identities.c.seq, identities.c.version)
                .where(identities.c.resident_code.in_(part))
                .with_for_update()
            ):
                held[code] = (seq, version)
        fresh = [r for r in rows if r["resident_code"] not in held]
        changed = 0
        if fresh:
            source = self._numbers()
            if len(fresh) == 1:
                numbers = [source.individual_number_for(fresh[0]["resident_code"])]
            else:
                arr = np.array([int(r["resident_code"]) for r in fresh], dtype=np.uint64)
                numbers = to_strings(source.individual_numbers_for(arr), 12)
            for r, number in zip(fresh, numbers, strict=True):
                r["individual_number"] = number
                r["version"] = 1
            insert_many(s, identities, fresh)
            changed += len(fresh)
        for r in rows:
            known = held.get(r["resident_code"])
            if known is None or r["seq"] <= known[0]:
                continue  # new (inserted above) or older than what we hold: keep the newer
            s.execute(
                update(identities)
                .where(identities.c.resident_code == r["resident_code"])
                .values(version=known[1] + 1, **r)
            )
            changed += 1
        return changed

    # --- lookups ---------------------------------------------------------------------------

    def by_resident_code(self, resident_code: str) -> IdentityEntry:
        """The entry of a resident-record code."""
        code = validate_resident_code(resident_code)
        with self.store.transaction() as s:
            row = s.execute(select(identities).where(identities.c.resident_code == code)).first()
        if row is None:
            raise IdentityNotFound("no identity index entry for that resident-record code")
        return _entry(row)

    def by_individual_number(self, individual_number: str) -> IdentityEntry:
        """The entry of an individual number."""
        number = validate_individual_number(individual_number)
        with self.store.transaction() as s:
            row = s.execute(
                select(identities).where(identities.c.individual_number == number)
            ).first()
        if row is None:
            raise IdentityNotFound("no identity index entry for that individual number")
        return _entry(row)

    def count(self, *, status: IdentityStatus | None = None, lg_code: str | None = None) -> int:
        """How many entries (optionally with a status, in a municipality)."""
        q = select(func.count()).select_from(identities)
        if status is not None:
            q = q.where(identities.c.status == IdentityStatus(status).value)
        if lg_code is not None:
            q = q.where(identities.c.lg_code == lg_code)
        with self.store.transaction() as s:
            return int(s.execute(q).scalar_one())

    def current_by_municipality(self) -> dict[str, int]:
        """How many current residents each municipality has (public statistics: counts only)."""
        q = (
            select(identities.c.lg_code, func.count())
            .where(identities.c.status == IdentityStatus.CURRENT.value)
            .group_by(identities.c.lg_code)
        )
        with self.store.transaction() as s:
            return {str(code): int(n) for code, n in s.execute(q)}

    def birth_sex_counts(
        self, resident_codes: Sequence[str] | None = None
    ) -> dict[tuple[dt.date, Sex], int]:
        """Entries grouped by date of birth and sex: every current resident, or those codes.

        Counts only leave the index (public statistics by age and sex); the codes are looked
        up ``_LOOKUP_CHUNK`` at a time.
        """
        by = (identities.c.date_of_birth, identities.c.sex)
        q = select(*by, func.count()).group_by(*by)
        out: dict[tuple[dt.date, Sex], int] = {}
        with self.store.transaction() as s:
            if resident_codes is None:
                parts = [q.where(identities.c.status == IdentityStatus.CURRENT.value)]
            else:
                codes = list(resident_codes)
                parts = [
                    q.where(identities.c.resident_code.in_(codes[i : i + _LOOKUP_CHUNK]))
                    for i in range(0, len(codes), _LOOKUP_CHUNK)
                ]
            for part in parts:
                for born, sex, n in s.execute(part):
                    key = (born, Sex(sex))
                    out[key] = out.get(key, 0) + int(n)
        return out

    # --- the directory of municipalities ---------------------------------------------------

    def register_municipality(self, m: Municipality) -> MunicipalityInfo:
        """Record that a municipality's registry exists (idempotent)."""
        with self.store.transaction() as s:
            row = s.execute(
                select(municipalities).where(municipalities.c.lg_code == m.lg_code)
            ).first()
            if row is None:
                s.execute(
                    municipalities.insert().values(
                        lg_code=m.lg_code,
                        prefecture=m.prefecture,
                        name=m.name,
                        registered_at=self._clock.now(),
                    )
                )
                row = s.execute(
                    select(municipalities).where(municipalities.c.lg_code == m.lg_code)
                ).one()
        return MunicipalityInfo(row.lg_code, row.prefecture, row.name, utc(row.registered_at))

    def municipalities(self) -> list[MunicipalityInfo]:
        """Every municipality with a registry, by code."""
        with self.store.transaction() as s:
            rows = s.execute(select(municipalities).order_by(municipalities.c.lg_code)).all()
        return [
            MunicipalityInfo(r.lg_code, r.prefecture, r.name, utc(r.registered_at)) for r in rows
        ]

    def has_municipality(self, lg_code: str) -> bool:
        """True if that municipality's registry exists."""
        with self.store.transaction() as s:
            row = s.execute(
                select(municipalities.c.lg_code).where(municipalities.c.lg_code == lg_code)
            ).first()
        return row is not None
