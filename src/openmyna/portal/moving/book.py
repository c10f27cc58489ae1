"""The one-stop's records: recorded notices, planned move-ins told by the bus, booked visits.

``MoveBook`` reads and writes the moving store (``tables``); the steps that check who may
do what are in ``service``. A planned move-in (転入予定) is written only by the bus consumer
from the origin's ``registry.moved_out`` event naming the destination, and marked done by
the destination's ``registry.moved_in``: the destination learns of the move as the
registries tell each other, not from the portal's own record of the notice.

Booking a slot counts the slot's booked visits and inserts the new one in one transaction;
on PostgreSQL the table is locked for it, so two people cannot take a slot's last place.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.bus import Event
from openmyna.clock import JST, Clock
from openmyna.portal.moving.errors import (
    MoveAlreadyCompleted,
    SlotUnavailable,
    VisitAlreadyBooked,
)
from openmyna.portal.moving.hours import Hours, visit_window
from openmyna.portal.moving.tables import move_out_notices, planned_move_ins, visits
from openmyna.store import Store

RECORDING = "recording"
RECORDED = "recorded"
PLANNED = "planned"
MOVED_IN = "moved_in"
BOOKED = "booked"
CANCELLED = "cancelled"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class NoticeRecord:
    """A move-out notice the origin's back office recorded in its registry."""

    application_id: str
    account_id: str
    from_lg_code: str
    to_lg_code: str
    resident_code: str = field(repr=False)
    planned_on: dt.date = field(repr=False)
    state: str = RECORDING
    recorded_at: dt.datetime | None = None

    @property
    def recorded(self) -> bool:
        """Whether the registry holds the move-out and the notice was approved."""
        return self.state == RECORDED


@dataclass(frozen=True)
class PlannedMoveIn:
    """A planned move-in (転入予定) a destination was told of."""

    move_id: str
    to_lg_code: str
    from_lg_code: str
    resident_code: str = field(repr=False)
    name: str = field(repr=False)
    kana: str = field(repr=False)
    date_of_birth: dt.date = field(repr=False)
    from_address: str = field(repr=False)
    planned_on: dt.date = field(repr=False)
    told_at: dt.datetime = field(repr=False)
    status: str = PLANNED
    moved_in_on: dt.date | None = None
    new_address: str | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """Whether the move-in is registered at the destination."""
        return self.status == MOVED_IN


@dataclass(frozen=True)
class Visit:
    """A counter visit booked at the destination (来庁予約)."""

    visit_id: str
    move_id: str
    lg_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    booked_at: dt.datetime

    @property
    def booked(self) -> bool:
        """Whether it still stands (not cancelled)."""
        return self.status == BOOKED

    @property
    def hours(self) -> str:
        """``10:00〜10:30`` in Japan time."""
        return f"{self.starts_at.astimezone(JST):%H:%M}〜{self.ends_at.astimezone(JST):%H:%M}"


@dataclass(frozen=True)
class Slot:
    """One slot of a day at the counter, with the places left."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    free: int
    past: bool

    @property
    def hours(self) -> str:
        """``10:00〜10:30`` in Japan time."""
        return f"{self.starts_at.astimezone(JST):%H:%M}〜{self.ends_at.astimezone(JST):%H:%M}"

    @property
    def value(self) -> str:
        """The slot as a form sends it (its start, ISO 8601 in Japan time)."""
        return self.starts_at.astimezone(JST).isoformat()

    @property
    def bookable(self) -> bool:
        """Whether a visit can still be booked in it."""
        return self.free > 0 and not self.past


def _notice(row: RowMapping) -> NoticeRecord:
    return NoticeRecord(
        application_id=row["application_id"],
        account_id=row["account_id"],
        from_lg_code=row["from_lg_code"],
        to_lg_code=row["to_lg_code"],
        resident_code=row["resident_code"],
        planned_on=row["planned_on"],
        state=row["state"],
        recorded_at=_aware(row["recorded_at"]),
    )


def _planned(row: RowMapping) -> PlannedMoveIn:
    return PlannedMoveIn(
        move_id=row["move_id"],
        to_lg_code=row["to_lg_code"],
        from_lg_code=row["from_lg_code"],
        resident_code=row["resident_code"],
        name=row["name"],
        kana=row["kana"],
        date_of_birth=row["date_of_birth"],
        from_address=row["from_address"],
        planned_on=row["planned_on"],
        told_at=_aware(row["told_at"]),
        status=row["status"],
        moved_in_on=row["moved_in_on"],
        new_address=row["new_address"],
    )


class MoveBook:
    """The moving store's rows, read and written."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # --- the origin's recorded notices -------------------------------------------------------

    def notice(self, application_id: str) -> NoticeRecord | None:
        """The record of a notice, if its recording began."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(move_out_notices).where(
                        move_out_notices.c.application_id == application_id[:32]
                    )
                )
                .mappings()
                .first()
            )
        return _notice(row) if row is not None else None

    def begin(self, record: NoticeRecord, actor: str) -> NoticeRecord:
        """Claim the recording of a notice (the first claim stands; a repeat returns it)."""
        with self.store.transaction() as s:
            found = (
                s.execute(
                    select(move_out_notices)
                    .where(move_out_notices.c.application_id == record.application_id)
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if found is not None:
                return _notice(found)
            s.execute(
                insert(move_out_notices).values(
                    application_id=record.application_id,
                    account_id=record.account_id,
                    from_lg_code=record.from_lg_code,
                    to_lg_code=record.to_lg_code,
                    resident_code=record.resident_code,
                    planned_on=record.planned_on,
                    state=RECORDING,
                    recorded_at=self.clock.now(),
                    actor=actor[:40],
                )
            )
        found_now = self.notice(record.application_id)
        assert found_now is not None
        return found_now

    def finish(self, application_id: str) -> NoticeRecord:
        """Mark a notice recorded."""
        with self.store.transaction() as s:
            s.execute(
                update(move_out_notices)
                .where(move_out_notices.c.application_id == application_id)
                .values(state=RECORDED, recorded_at=self.clock.now())
            )
        done = self.notice(application_id)
        assert done is not None
        return done

    def notices_of(self, account_id: str) -> list[NoticeRecord]:
        """An account's recorded notices."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(move_out_notices).where(move_out_notices.c.account_id == account_id)
            ).mappings()
            return [_notice(r) for r in rows]

    # --- planned move-ins, from the bus -------------------------------------------------------

    def apply(self, s: Session, event: Event) -> None:
        """Apply one registry event (inside the inbox's transaction)."""
        data = event.data
        if event.type == "registry.moved_out":
            to = data.get("destination_lg_code")
            if not to:
                return  # no destination named: no one to tell
            s.execute(
                insert(planned_move_ins).values(
                    move_id=secrets.token_hex(16),
                    event_id=event.id,
                    to_lg_code=str(to),
                    from_lg_code=str(data["lg_code"]),
                    resident_code=str(data["resident_code"]),
                    name=f"{data['family_name']} {data['given_name']}"[:200],
                    kana=f"{data['family_name_kana']} {data['given_name_kana']}"[:200],
                    date_of_birth=dt.date.fromisoformat(str(data["date_of_birth"])),
                    from_address=str(data["address"])[:200],
                    planned_on=dt.date.fromisoformat(
                        str(data.get("planned_on") or data["event_date"])
                    ),
                    told_at=event.occurred_at,
                    status=PLANNED,
                )
            )
        elif event.type == "registry.moved_in" and data.get("from_lg_code"):
            s.execute(
                update(planned_move_ins)
                .where(
                    planned_move_ins.c.to_lg_code == str(data["lg_code"]),
                    planned_move_ins.c.from_lg_code == str(data["from_lg_code"]),
                    planned_move_ins.c.resident_code == str(data["resident_code"]),
                    planned_move_ins.c.status == PLANNED,
                )
                .values(
                    status=MOVED_IN,
                    moved_in_on=dt.date.fromisoformat(str(data["event_date"])),
                    new_address=str(data["address"])[:200],
                )
            )

    def planned(self, move_id: str) -> PlannedMoveIn | None:
        """One planned move-in."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(planned_move_ins).where(planned_move_ins.c.move_id == move_id[:32])
                )
                .mappings()
                .first()
            )
        return _planned(row) if row is not None else None

    def planned_for(self, notice: NoticeRecord) -> PlannedMoveIn | None:
        """The planned move-in the notice's recording told its destination of."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(planned_move_ins)
                    .where(
                        planned_move_ins.c.resident_code == notice.resident_code,
                        planned_move_ins.c.from_lg_code == notice.from_lg_code,
                        planned_move_ins.c.to_lg_code == notice.to_lg_code,
                        planned_move_ins.c.planned_on == notice.planned_on,
                    )
                    .order_by(planned_move_ins.c.told_at.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _planned(row) if row is not None else None

    def expected_at(self, lg_code: str, *, limit: int = 200) -> list[PlannedMoveIn]:
        """The planned move-ins a destination was told of: waiting ones first, by date."""
        with self.store.transaction() as s:
            rows = s.execute(
                select(planned_move_ins)
                .where(planned_move_ins.c.to_lg_code == lg_code)
                .order_by(
                    (planned_move_ins.c.status == MOVED_IN),
                    planned_move_ins.c.planned_on,
                    planned_move_ins.c.move_id,
                )
                .limit(limit)
            ).mappings()
            return [_planned(r) for r in rows]

    # --- visits ---------------------------------------------------------------------------

    def _visit(self, row: RowMapping, hours: Hours) -> Visit:
        start = _aware(row["starts_at"])
        return Visit(
            visit_id=row["visit_id"],
            move_id=row["move_id"],
            lg_code=row["lg_code"],
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=hours.slot_minutes),
            status=row["status"],
            booked_at=_aware(row["booked_at"]),
        )

    def visit_of(self, move_id: str, hours: Hours) -> Visit | None:
        """The booked visit of a planned move-in, if any."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(visits).where(visits.c.move_id == move_id, visits.c.status == BOOKED)
                )
                .mappings()
                .first()
            )
        return self._visit(row, hours) if row is not None else None

    def slots(self, lg_code: str, day: dt.date, hours: Hours) -> list[Slot]:
        """A day's slots at ``lg_code``'s counter with the places left."""
        starts = hours.starts(day)
        if not starts:
            return []
        with self.store.transaction() as s:
            taken: dict[dt.datetime, int] = dict(
                s.execute(
                    select(visits.c.starts_at, func.count())
                    .where(
                        visits.c.lg_code == lg_code,
                        visits.c.status == BOOKED,
                        visits.c.starts_at >= starts[0].astimezone(dt.UTC),
                        visits.c.starts_at <= starts[-1].astimezone(dt.UTC),
                    )
                    .group_by(visits.c.starts_at)
                ).all()
            )
        counts = {_aware(k): int(v) for k, v in taken.items()}
        now = self.clock.now()
        step = dt.timedelta(minutes=hours.slot_minutes)
        return [Slot(at, at + step, hours.capacity - counts.get(at, 0), at <= now) for at in starts]

    def book(
        self, move: PlannedMoveIn, account_id: str, starts_at: dt.datetime, hours: Hours
    ) -> Visit:
        """Book a visit for ``move`` in the slot starting ``starts_at``."""
        if move.done:
            raise MoveAlreadyCompleted("the move-in is registered already")
        first, last = visit_window(move.planned_on, self.clock.today())
        local = starts_at.astimezone(JST)
        if not hours.offers(starts_at) or not first <= local.date() <= last:
            raise SlotUnavailable("that slot is not offered for this move-in")
        if starts_at <= self.clock.now():
            raise SlotUnavailable("that slot has begun or is past")
        with self.store.transaction() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("LOCK TABLE visits IN EXCLUSIVE MODE"))
            standing = s.execute(
                select(visits.c.visit_id).where(
                    visits.c.move_id == move.move_id, visits.c.status == BOOKED
                )
            ).first()
            if standing is not None:
                raise VisitAlreadyBooked("a visit is booked for this move-in already")
            taken = s.execute(
                select(func.count()).where(
                    visits.c.lg_code == move.to_lg_code,
                    visits.c.status == BOOKED,
                    visits.c.starts_at == starts_at.astimezone(dt.UTC),
                )
            ).scalar_one()
            if int(taken) >= hours.capacity:
                raise SlotUnavailable("that slot is full")
            visit_id = secrets.token_hex(16)
            s.execute(
                insert(visits).values(
                    visit_id=visit_id,
                    move_id=move.move_id,
                    lg_code=move.to_lg_code,
                    account_id=account_id,
                    starts_at=starts_at.astimezone(dt.UTC),
                    status=BOOKED,
                    booked_at=self.clock.now(),
                )
            )
        found = self.visit_of(move.move_id, hours)
        assert found is not None
        return found

    def cancel(self, move_id: str, hours: Hours) -> Visit | None:
        """Cancel the booked visit of a planned move-in; None if none stood."""
        found = self.visit_of(move_id, hours)
        if found is None:
            return None
        with self.store.transaction() as s:
            s.execute(
                update(visits)
                .where(visits.c.visit_id == found.visit_id, visits.c.status == BOOKED)
                .values(status=CANCELLED, cancelled_at=self.clock.now())
            )
        return found

    def visits_at(self, lg_code: str, move_ids: Sequence[str], hours: Hours) -> dict[str, Visit]:
        """The booked visits of these planned move-ins, by move id."""
        if not move_ids:
            return {}
        with self.store.transaction() as s:
            rows = s.execute(
                select(visits).where(
                    visits.c.lg_code == lg_code,
                    visits.c.status == BOOKED,
                    visits.c.move_id.in_(list(move_ids)),
                )
            ).mappings()
            return {r["move_id"]: self._visit(r, hours) for r in rows}
