"""The card's printed face: the endorsement area (追記欄) where the counter writes changes.

When a holder moves or changes their name, the municipality writes the new address or name in
the 追記欄 beside the printed items (券面記載事項の変更: 変更情報の追記 and the chip's update;
e.g. 潟上市 / newakitakata.top-page.jp 「引越し・改姓等によるマイナンバーカード券面記載事項の
変更手続き」). The area has room for four lines: once they are used, nothing more can be written
and the card is reissued (文春オンライン 2023, bunshun.jp/articles/-/63934: 「追記欄の4行分が
満載になったら、マイナンバーカードを再交付しなければならない」; the same page says that how many
lines one change takes depends on the municipality's stamp). openmyna writes one line per
change, with its date; the chip holds nothing of this (it is the plastic).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openmyna.card.errors import EndorsementAreaFull
from openmyna.numbers.redaction import REDACTED

#: Lines of the 追記欄 (bunshun.jp/articles/-/63934, above).
ENDORSEMENT_LINES = 4


class EndorsedItem(StrEnum):
    """What a line of the 追記欄 records."""

    NAME = "name"
    ADDRESS = "address"
    #: A corrected date of birth, a changed sex (rare; written as the others are).
    DATE_OF_BIRTH = "date_of_birth"
    SEX = "sex"


@dataclass(frozen=True)
class Endorsement:
    """One line of the 追記欄: the day written, what changed and the new text."""

    written_on: dt.date
    item: EndorsedItem
    #: The new address or name, as written (personal data: hidden in ``repr``).
    text: str

    def __repr__(self) -> str:
        return f"Endorsement(written_on={self.written_on}, item={self.item.value}, text={REDACTED})"

    def to_json(self) -> dict[str, Any]:
        """The line for the card file."""
        return {"on": self.written_on.isoformat(), "item": self.item.value, "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endorsement:
        """Rebuild from ``to_json`` output."""
        return cls(
            dt.date.fromisoformat(str(data["on"])), EndorsedItem(data["item"]), str(data["text"])
        )


@dataclass
class CardSurface:
    """The printed face of one card: its endorsement lines, oldest first."""

    endorsements: list[Endorsement] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"CardSurface(<{len(self.endorsements)} endorsement line(s)>)"

    @property
    def lines_left(self) -> int:
        """How many lines of the 追記欄 are still free."""
        return ENDORSEMENT_LINES - len(self.endorsements)

    def require_room(self, lines: int) -> None:
        """Refuse (``CARD_ENDORSEMENT_AREA_FULL``) if ``lines`` more do not fit."""
        if lines > self.lines_left:
            raise EndorsementAreaFull(
                "the card's endorsement area (追記欄) has no room for the change:"
                " the card must be reissued (再交付)",
                lines_left=self.lines_left,
            )

    def endorse(self, lines: list[Endorsement]) -> None:
        """Write ``lines`` in the area, all or none."""
        self.require_room(len(lines))
        self.endorsements.extend(lines)

    def to_json(self) -> list[dict[str, Any]]:
        """The face for the card file."""
        return [e.to_json() for e in self.endorsements]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> CardSurface:
        """Rebuild from ``to_json`` output."""
        return cls([Endorsement.from_json(d) for d in data])
