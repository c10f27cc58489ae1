"""The registry's public data: frozen value objects, never ORM rows.

Terms (住民基本台帳): a resident (住民) has a resident-record code (住民票コード), an individual
number (個人番号), the 4 basic items (基本4情報: name, address, date of birth, sex), a household
(世帯) with a relationship to its head (続柄), and a status. A resident who leaves (move-out,
death, moving abroad) becomes a removed record (除票), kept and still certifiable.

The ``*Like`` protocols and ``NumberIssuer`` are the shapes the registry accepts from its
callers and from the numbering authority.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from openmyna.numbers.redaction import masked_repr
from openmyna.registry.errors import InvalidResidentData


class Sex(IntEnum):
    """Sex as ISO/IEC 5218 codes (the registry itself records 男/女)."""

    NOT_KNOWN = 0
    MALE = 1
    FEMALE = 2
    NOT_APPLICABLE = 9

    @property
    def ja(self) -> str:
        """The label printed on certificates."""
        return {Sex.MALE: "男", Sex.FEMALE: "女"}.get(self, "")


class Relationship(StrEnum):
    """Relationship to the head of household (続柄); the value is the registry's term."""

    HEAD = "世帯主"
    WIFE = "妻"
    HUSBAND = "夫"
    CHILD = "子"
    FATHER = "父"
    MOTHER = "母"
    GRANDCHILD = "孫"
    GRANDFATHER = "祖父"
    GRANDMOTHER = "祖母"
    ELDER_BROTHER = "兄"
    YOUNGER_BROTHER = "弟"
    ELDER_SISTER = "姉"
    YOUNGER_SISTER = "妹"
    CHILD_SPOUSE = "子の配偶者"
    SPOUSE_PARENT = "配偶者の親"
    RELATIVE = "縁故者"
    COHABITANT = "同居人"

    @classmethod
    def parse(cls, value: str | Relationship) -> Relationship:
        """A relationship from its Japanese term or English name (``head``, ``子`` …)."""
        if isinstance(value, Relationship):
            return value
        text = str(value).strip()
        try:
            return cls(text)
        except ValueError:
            pass
        try:
            return cls[text.upper().replace("-", "_")]
        except KeyError:
            raise InvalidResidentData("unknown relationship (続柄)", relationship=text) from None


class Status(StrEnum):
    """Whether a record is a current resident (住民票) or a removed record (除票)."""

    CURRENT = "current"
    REMOVED = "removed"


class RemovalReason(StrEnum):
    """Why a record was removed (消除事由)."""

    MOVED_OUT = "moved_out"
    DIED = "died"
    MOVED_ABROAD = "moved_abroad"

    @property
    def ja(self) -> str:
        """The registry's term."""
        return {"moved_out": "転出", "died": "死亡", "moved_abroad": "国外転出"}[self.value]


class Arrival(StrEnum):
    """How a person became a resident here (住民となった事由)."""

    BIRTH = "birth"
    MOVED_IN = "moved_in"
    MOVED_IN_FROM_ABROAD = "moved_in_from_abroad"
    REGISTERED = "registered"


class IdentityStatus(StrEnum):
    """Status of a person in the national identity index (本人確認情報)."""

    CURRENT = "current"
    MOVED_OUT = "moved_out"
    DIED = "died"
    ABROAD = "abroad"


class EventType(StrEnum):
    """The registry's events on the bus (subject = value)."""

    BIRTH = "registry.birth"
    REGISTERED = "registry.registered"
    MOVED_IN = "registry.moved_in"
    MOVED_OUT = "registry.moved_out"
    MOVED_WITHIN = "registry.moved_within"
    NAME_CHANGED = "registry.name_changed"
    DIED = "registry.died"
    MOVED_ABROAD = "registry.moved_abroad"


@dataclass(frozen=True)
class BasicItems:
    """The 4 basic items (基本4情報) as the card and JPKI use them."""

    name: str
    address: str
    date_of_birth: dt.date
    sex: Sex

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class NewPerson:
    """A person to register (birth, move-in from abroad, initial registration)."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    date_of_birth: dt.date
    sex: Sex | int
    #: None: the default of the operation (子 at birth, 世帯主 of a new household).
    relationship: Relationship | str | None = None
    former_surname: str | None = None
    former_surname_kana: str | None = None
    #: 在留期間等の満了の日: a foreign resident's end of the period of stay (None: none).
    stay_expires_on: dt.date | None = None

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class NewHousehold:
    """A household to register in bulk: an address and its members, head first."""

    address: str
    members: tuple[NewPerson, ...]

    def __repr__(self) -> str:
        return masked_repr(self)


class PersonLike(Protocol):
    """Anything shaped like a ``NewPerson`` (the demo's synthetic people are)."""

    @property
    def family_name(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name_kana(self) -> str: ...
    @property
    def given_name_kana(self) -> str: ...
    @property
    def date_of_birth(self) -> dt.date: ...
    @property
    def sex(self) -> int: ...
    @property
    def relationship(self) -> str | None: ...


class HouseholdLike(Protocol):
    """Anything shaped like a ``NewHousehold``."""

    @property
    def address(self) -> str: ...
    @property
    def members(self) -> Sequence[PersonLike]: ...


class IssuedLike(Protocol):
    """A freshly issued resident-record code and its individual number."""

    @property
    def resident_code(self) -> str: ...
    @property
    def individual_number(self) -> str: ...


class NumberIssuer(Protocol):
    """The part of the numbering authority the registry uses."""

    def issue(self, count: int) -> Sequence[IssuedLike]:
        """Issue ``count`` new codes with their numbers."""
        ...

    def issue_arrays(self, count: int) -> tuple[Any, Any]:
        """Issue ``count`` new codes and numbers as two uint64 arrays."""
        ...


@dataclass(frozen=True)
class Resident:
    """A resident record (住民票) — current, or removed (除票)."""

    resident_code: str
    individual_number: str
    lg_code: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_surname: str | None
    former_surname_kana: str | None
    date_of_birth: dt.date
    sex: Sex
    address: str
    household_id: str
    relationship: Relationship
    status: Status
    arrival: Arrival
    #: 住民となった年月日: birth date, move-in date or registration date.
    resident_since: dt.date
    #: 住所を定めた年月日.
    address_since: dt.date
    #: 前住所: the address before the last move (None after birth).
    previous_address: str | None
    moved_in_from_lg_code: str | None
    removed_on: dt.date | None
    removal_reason: RemovalReason | None
    #: 転出先 (moved out) or the country (moved abroad).
    destination: str | None
    destination_lg_code: str | None
    #: 転入通知: where and when the person actually moved in after moving out from here.
    moved_in_at_lg_code: str | None
    moved_in_at_on: dt.date | None
    #: Per-person event sequence, continued across municipalities (orders the index).
    seq: int
    last_event_on: dt.date
    #: 在留期間等の満了の日 (住民基本台帳法 第30条の45): the end of a foreign resident's period of
    #: stay; None for Japanese nationals and for foreign residents without one.
    stay_expires_on: dt.date | None = None

    @property
    def name(self) -> str:
        """Full name in the registry's order (family name, space, given name)."""
        return f"{self.family_name} {self.given_name}"

    @property
    def name_kana(self) -> str:
        """Full name in kana."""
        return f"{self.family_name_kana} {self.given_name_kana}"

    @property
    def is_current(self) -> bool:
        """True while this is a current resident (not a removed record)."""
        return self.status is Status.CURRENT

    @property
    def basic_items(self) -> BasicItems:
        """The 4 basic items (基本4情報)."""
        return BasicItems(self.name, self.address, self.date_of_birth, self.sex)

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class Household:
    """A household (世帯) and its current members, head first."""

    household_id: str
    lg_code: str
    address: str
    head_resident_code: str | None
    members: tuple[Resident, ...]

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class MoveOutCertificate:
    """The data of a move-out certificate (転出証明書) that the destination reads."""

    certificate_id: str
    resident_code: str
    individual_number: str
    from_lg_code: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_surname: str | None
    former_surname_kana: str | None
    date_of_birth: dt.date
    sex: Sex
    address: str
    planned_on: dt.date
    destination: str | None
    destination_lg_code: str | None
    seq: int
    last_event_on: dt.date
    #: Set once a destination has claimed it (転入通知).
    moved_in_at_lg_code: str | None
    #: The period of stay goes with the person to the destination (在留期間等の満了の日).
    stay_expires_on: dt.date | None = None

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class RemovedRecordCertificate:
    """What a certificate of a removed record (除票の写し) shows."""

    lg_code: str
    municipality: str
    resident_code: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_surname: str | None
    date_of_birth: dt.date
    sex: Sex
    address: str
    previous_address: str | None
    relationship: Relationship
    head_of_household: str | None
    resident_since: dt.date
    address_since: dt.date
    removed_on: dt.date
    removal_reason: RemovalReason
    destination: str | None
    moved_in_at_lg_code: str | None
    moved_in_at_on: dt.date | None
    #: Only when asked for (個人番号の記載は請求があったときのみ).
    individual_number: str | None
    issued_at: dt.datetime

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit record: who, when, why — never the content."""

    entry_id: int
    recorded_at: dt.datetime
    event_date: dt.date
    action: str
    event_id: str | None
    resident_code: str | None
    actor: str
    reason: str

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class IdentityEntry:
    """A national identity index entry (本人確認情報)."""

    resident_code: str
    individual_number: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_surname: str | None
    date_of_birth: dt.date
    sex: Sex
    address: str
    status: IdentityStatus
    lg_code: str
    seq: int
    #: How many events have changed this entry (one per distinct event).
    version: int
    updated_at: dt.datetime
    #: The end of a foreign resident's period of stay (None: none); card and certificate
    #: validity end no later than this day (``openmyna.law.validity``).
    stay_expires_on: dt.date | None = None

    @property
    def name(self) -> str:
        """Full name (family name, space, given name)."""
        return f"{self.family_name} {self.given_name}"

    @property
    def basic_items(self) -> BasicItems:
        """The 4 basic items (基本4情報)."""
        return BasicItems(self.name, self.address, self.date_of_birth, self.sex)

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class MunicipalityInfo:
    """A municipality whose registry exists (the national directory's row)."""

    lg_code: str
    prefecture: str
    name: str
    registered_at: dt.datetime


@dataclass(frozen=True)
class BulkResult:
    """What a bulk registration did."""

    households: int
    residents: int
    events: int
