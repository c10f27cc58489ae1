"""Registry events as they affect cards (SPEC C1, C2).

| event | effect on the card register |
|---|---|
| ``registry.birth`` with ``card_application`` | a card application (channel ``birth``) |
| ``registry.died`` | the valid card is revoked (``died``); pending applications cancelled |
| ``registry.moved_abroad`` | the valid card is revoked (``moved_abroad``) |
| ``registry.moved_out`` | a move awaiting its move-in is recorded for the card holder |
| ``registry.moved_in`` | too late (``rules.move_in_late``): revoked; else awaiting continued use, |
| | and the chip's address is stale |
| ``registry.moved_within`` | the chip's address is stale |
| ``registry.name_changed`` | the chip's name is stale |

Stale data (``cards.data_stale_since`` / ``data_stale_items``) is what ``openmyna card status``
reports until the counter rewrites the chip (``CardLifecycle.update_card_data``).

The continued-use step at the new municipality (``continue_after_move``,
``CardLifecycle.record_continued_use``) ends the wait after a move-in. The deadlines that pass
without an event (no move-in at all, no continued use) and the end of validity are applied by
``apply_deadlines`` (``CardLifecycle.check_deadlines``) against the clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from openmyna.bus import Event
from openmyna.card import rules
from openmyna.card.errors import CardTransitionRefused
from openmyna.card.models import (
    ApplicationChannel,
    ApplicationStatus,
    CardEventType,
    CardStatus,
    StatusReason,
)
from openmyna.card.register import Register, Row
from openmyna.card.tables import applications, cards, moves
from openmyna.clock import JST

SUBJECTS = (
    "registry.birth",
    "registry.died",
    "registry.moved_abroad",
    "registry.moved_out",
    "registry.moved_in",
    "registry.moved_within",
    "registry.name_changed",
)
#: The chip's items each registry event changes.
STALE_ITEMS = {
    "registry.moved_in": "address",
    "registry.moved_within": "address",
    "registry.name_changed": "name",
}
AWAITING_MOVE_IN = "awaiting_move_in"
AWAITING_CONTINUATION = "awaiting_continuation"


class RegistryEffects:
    """Applies registry events to the card register."""

    def __init__(self, register: Register) -> None:
        self.register = register

    def apply(self, s: Session, event: Event) -> None:
        """Apply one registry event inside the inbox transaction ``s``."""
        data = event.data
        code = data.get("resident_code")
        if not isinstance(code, str):
            return
        if event.type == "registry.birth":
            if data.get("card_application"):
                self.register.insert_application(
                    s,
                    code,
                    str(data["lg_code"]),
                    ApplicationChannel.BIRTH,
                    dt.date.fromisoformat(data["event_date"]),
                )
                self.register.audit(
                    s,
                    "card.applied",
                    actor="registry",
                    reason="applied with the birth registration",
                    resident_code=code,
                    event_id=event.id,
                )
            return
        if event.type in ("registry.died", "registry.moved_abroad"):
            why = StatusReason.DIED if event.type == "registry.died" else StatusReason.MOVED_ABROAD
            s.execute(delete(moves).where(moves.c.resident_code == code))
            s.execute(
                update(applications)
                .where(
                    applications.c.resident_code == code,
                    applications.c.status == ApplicationStatus.PENDING.value,
                )
                .values(
                    status=ApplicationStatus.CANCELLED.value, updated_at=self.register.clock.now()
                )
            )
            row = self.register.valid_row(s, code)
            if row is not None:
                self.register.revoke(
                    s, row, why, actor="registry", reason=why.value, cause_event_id=event.id
                )
            return
        row = self.register.valid_row(s, code)
        if event.type == "registry.moved_out":
            s.execute(delete(moves).where(moves.c.resident_code == code))
            if row is not None:
                s.execute(
                    insert(moves).values(
                        resident_code=code,
                        state=AWAITING_MOVE_IN,
                        from_lg_code=str(data["lg_code"]),
                        planned_on=dt.date.fromisoformat(data["planned_on"]),
                    )
                )
            return
        if event.type == "registry.moved_in":
            self._moved_in(s, event, code, row)
            row = self.register.valid_row(s, code)  # not if the move-in came too late
        if row is not None and event.type in STALE_ITEMS and not data.get("from_abroad"):
            self.mark_stale(
                s, row, STALE_ITEMS[event.type], dt.date.fromisoformat(data["event_date"])
            )

    def mark_stale(self, s: Session, row: Row, item: str, on: dt.date) -> None:
        """Record that the registry changed ``item`` of the card holder on ``on``."""
        items = {i for i in (row["data_stale_items"] or "").split(",") if i} | {item}
        since = row["data_stale_since"]
        s.execute(
            update(cards)
            .where(cards.c.card_id == row["card_id"])
            .values(
                data_stale_since=on if since is None else min(since, on),
                data_stale_items=",".join(sorted(items)),
                updated_at=self.register.clock.now(),
            )
        )

    def _moved_in(self, s: Session, event: Event, code: str, row: Row | None) -> None:
        data = event.data
        pending = s.execute(select(moves).where(moves.c.resident_code == code)).mappings().first()
        s.execute(delete(moves).where(moves.c.resident_code == code))
        if row is None or data.get("from_abroad"):
            return
        planned_text = data.get("move_out_planned_on")
        if planned_text:
            planned_on = dt.date.fromisoformat(planned_text)
        elif pending is not None:
            planned_on = pending["planned_on"]
        else:
            return  # no move-out known: nothing to time
        moved_in_on = dt.date.fromisoformat(data["event_date"])
        registered_on = event.occurred_at.astimezone(JST).date()
        if rules.move_in_late(
            planned_on=planned_on, moved_in_on=moved_in_on, registered_on=registered_on
        ):
            self.register.revoke(
                s,
                row,
                StatusReason.MOVE_IN_LATE,
                actor="registry",
                reason="move-in registered too late",
                cause_event_id=event.id,
            )
            return
        s.execute(
            insert(moves).values(
                resident_code=code,
                state=AWAITING_CONTINUATION,
                from_lg_code=(pending["from_lg_code"] if pending else data.get("from_lg_code"))
                or "",
                planned_on=planned_on,
                moved_in_on=moved_in_on,
                registered_on=registered_on,
                to_lg_code=str(data["lg_code"]),
                continuation_due=rules.continuation_due(registered_on),
            )
        )

    def pending_move(self, s: Session, resident_code: str) -> Row | None:
        """The move in progress of a card holder, if any (its ``state`` says which wait)."""
        return (
            s.execute(select(moves).where(moves.c.resident_code == resident_code))
            .mappings()
            .first()
        )

    def continue_after_move(self, s: Session, card_id: str, *, actor: str, reason: str) -> None:
        """The continued-use step (継続利用): the move-in awaiting it no longer ends the card."""
        row = self.register.card_row(s, card_id)
        if row["status"] != CardStatus.ACTIVE.value:
            raise CardTransitionRefused("only an active card continues after a move")
        move = self.pending_move(s, row["resident_code"])
        if move is None or move["state"] != AWAITING_CONTINUATION:
            raise CardTransitionRefused("no registered move-in awaits the card")
        s.execute(delete(moves).where(moves.c.resident_code == row["resident_code"]))
        self.register.audit(
            s,
            "card.continued",
            actor=actor,
            reason=reason,
            card_id=card_id,
            resident_code=row["resident_code"],
        )

    def apply_deadlines(self, s: Session, today: dt.date) -> list[str]:
        """Expire cards past validity and end cards whose move deadlines passed; their ids."""
        changed: list[str] = []
        valid = [CardStatus.ACTIVE.value, CardStatus.SUSPENDED.value]
        for row in (
            s.execute(select(cards).where(cards.c.status.in_(valid), cards.c.expires_on < today))
            .mappings()
            .all()
        ):
            self.register.transition(
                s,
                row,
                CardStatus.EXPIRED,
                StatusReason.EXPIRED,
                CardEventType.EXPIRED,
                actor="system",
                reason="validity ended",
            )
            changed.append(row["card_id"])
        for move in s.execute(select(moves)).mappings().all():
            if move["state"] == AWAITING_MOVE_IN:
                late = rules.move_in_deadline(move["planned_on"]) < today
                why = StatusReason.MOVE_IN_DEADLINE
            else:
                late = move["continuation_due"] < today
                why = StatusReason.CONTINUATION_DEADLINE
            if not late:
                continue
            s.execute(delete(moves).where(moves.c.resident_code == move["resident_code"]))
            holder = self.register.valid_row(s, move["resident_code"])
            if holder is not None:
                self.register.revoke(s, holder, why, actor="system", reason=why.value)
                changed.append(holder["card_id"])
        return changed
