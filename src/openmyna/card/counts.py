"""Counts of the card register, for public statistics: no card id, no person, only numbers.

``card_counts`` groups the register in the database: cards per municipality and status
(the municipality that issued the card, ``cards.lg_code``) and cards issued per month
(``issued_on``). ``valid_holder_codes`` pages through the resident-record codes of the
holders of valid cards so that a caller can count them by age and sex in the identity index
without any of them leaving the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from openmyna.card.models import CardStatus
from openmyna.card.tables import cards

_VALID = [s.value for s in CardStatus if s.valid]


@dataclass(frozen=True)
class CardCounts:
    """How many cards the register holds, grouped (counts only)."""

    #: (issuing municipality's code, status) → cards.
    by_municipality: Mapping[tuple[str, CardStatus], int]
    #: (year, month) of ``issued_on`` → cards issued that month (whatever their status now).
    issued_by_month: Mapping[tuple[int, int], int]

    def valid_in(self, lg_code: str) -> int:
        """Valid cards (active or suspended) issued by one municipality."""
        held = self.by_municipality.items()
        return sum(n for (code, st), n in held if code == lg_code and st.valid)

    @property
    def by_status(self) -> dict[CardStatus, int]:
        """Cards in each status, every municipality together."""
        out = dict.fromkeys(CardStatus, 0)
        for (_code, status), n in self.by_municipality.items():
            out[status] += n
        return out


def card_counts(s: Session) -> CardCounts:
    """The register's counts, grouped in the database."""
    by_place = s.execute(
        select(cards.c.lg_code, cards.c.status, func.count()).group_by(
            cards.c.lg_code, cards.c.status
        )
    ).all()
    year = extract("year", cards.c.issued_on)
    month = extract("month", cards.c.issued_on)
    by_month = s.execute(select(year, month, func.count()).group_by(year, month)).all()
    return CardCounts(
        by_municipality={(str(c), CardStatus(st)): int(n) for c, st, n in by_place},
        issued_by_month={(int(y), int(m)): int(n) for y, m, n in by_month},
    )


def valid_holder_codes(s: Session, *, after: str, limit: int) -> list[str]:
    """Up to ``limit`` resident-record codes of valid cards' holders after ``after``, in order."""
    q = (
        select(cards.c.resident_code)
        .where(cards.c.status.in_(_VALID), cards.c.resident_code > after)
        .order_by(cards.c.resident_code)
        .limit(limit)
    )
    return [str(code) for code in s.execute(q).scalars()]
