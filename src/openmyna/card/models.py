"""The card register's public data: frozen value objects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from openmyna.numbers.redaction import masked_repr

if TYPE_CHECKING:
    from openmyna.card.engine import VirtualCard


class CardStatus(StrEnum):
    """Where a card stands (有効 / 一時停止 / 失効 / 有効期限切れ / 返納)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    RETURNED = "returned"

    @property
    def valid(self) -> bool:
        """Whether the card still counts as the holder's card (active or suspended)."""
        return self in (CardStatus.ACTIVE, CardStatus.SUSPENDED)


class StatusReason(StrEnum):
    """Why a card left the active state."""

    LOST = "lost"
    REISSUED = "reissued"
    DIED = "died"
    MOVED_ABROAD = "moved_abroad"
    MOVE_IN_LATE = "move_in_late"
    MOVE_IN_DEADLINE = "move_in_deadline"
    CONTINUATION_DEADLINE = "continuation_deadline"
    EXPIRED = "expired"
    RETURNED = "returned"


class CardEventType(StrEnum):
    """The card register's events on the bus (data: resident_code, card_id, …)."""

    ISSUED = "card.issued"
    LOST = "card.lost"
    FOUND = "card.found"
    REVOKED = "card.revoked"
    RETURNED = "card.returned"
    EXPIRED = "card.expired"
    #: The counter rewrote the chip's 4 items after a move or a new name (券面記載事項変更).
    UPDATED = "card.updated"


class ApplicationStatus(StrEnum):
    """A card application (交付申請)."""

    PENDING = "pending"
    ISSUED = "issued"
    CANCELLED = "cancelled"


class ApplicationChannel(StrEnum):
    """How the application was made."""

    COUNTER = "counter"
    BIRTH = "birth"
    ONLINE = "online"
    REISSUE = "reissue"


@dataclass(frozen=True)
class CardRecord:
    """A card in the register."""

    card_id: str
    resident_code: str
    lg_code: str
    application_id: str | None
    status: CardStatus
    status_reason: StatusReason | None
    issued_on: dt.date
    expires_on: dt.date
    auth_cert_serial: str
    sign_cert_serial: str | None
    updated_at: dt.datetime
    #: The day the registry changed the 4 items on the chip, until the counter updates it.
    data_stale_since: dt.date | None = None
    #: Which items changed: ``address``, ``name``.
    data_stale_items: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return masked_repr(self)

    @property
    def data_stale(self) -> bool:
        """Whether the chip's 4 items are older than the registry's (update at the counter)."""
        return self.data_stale_since is not None


@dataclass(frozen=True)
class CardUpdate:
    """What the counter's update of a card did (券面記載事項変更)."""

    record: CardRecord
    #: Items rewritten on the chip and endorsed on the face: ``address``, ``name``.
    changed_items: tuple[str, ...]
    #: The signature certificate the register knew for the card before (hex), if any.
    previous_sign_cert: str | None
    #: Serial numbers (hex) revoked by this update (not those the registry's event revoked).
    revoked_sign_certs: tuple[str, ...]
    #: The new signature certificate's serial (hex), if one was issued.
    new_sign_cert: str | None
    #: Whether the continued-use step (継続利用) after a move-in was recorded with it.
    continued: bool


@dataclass(frozen=True)
class CardApplication:
    """A card application (交付申請)."""

    application_id: str
    resident_code: str
    lg_code: str
    channel: ApplicationChannel
    applied_on: dt.date
    status: ApplicationStatus
    card_id: str | None

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class IssuedCard:
    """What issuance hands over: the register's record and the card itself."""

    record: CardRecord
    card: VirtualCard


@dataclass(frozen=True)
class CardAuditEntry:
    """One append-only audit record of the card register."""

    entry_id: int
    recorded_at: dt.datetime
    action: str
    card_id: str | None
    resident_code: str | None
    event_id: str | None
    actor: str
    reason: str

    def __repr__(self) -> str:
        return masked_repr(self)
