"""Validation rules of the registry: names, kana, addresses, dates and notification windows."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from openmyna.numbers import validate_resident_code
from openmyna.registry.errors import InvalidDate, InvalidResidentData
from openmyna.registry.models import NewPerson, PersonLike, Relationship, Sex

#: A move-out (転出届) or moving-abroad notice may be filed this many days before the planned
#: date (窓口の運用: 転出予定日の14日前から)…
MOVE_OUT_NOTICE_AHEAD = dt.timedelta(days=14)
#: …and no later than this many days after it (住民基本台帳法 §24: within 14 days).
MOVE_OUT_LATE_LIMIT = dt.timedelta(days=14)

_KANA = re.compile(r"^[\u3041-\u3096\u30A1-\u30FA\u30FC\u30FB\u3000 ]+$")
MAX_NAME = 100
MAX_ADDRESS = 200


# Control (Cc) and format (Cf) characters: invisible, never part of a name or an address.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000e0001\U000e0020-\U000e007f]"
)


def _text(value: object, field: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidResidentData("expected text", field=field)
    text = value.strip()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not text:
        raise InvalidResidentData("must not be empty", field=field)
    if len(text) > max_len:
        raise InvalidResidentData(f"longer than {max_len} characters", field=field)
    if _CONTROL.search(text):
        raise InvalidResidentData("contains control characters", field=field)
    return text


def name_part(value: object, field: str) -> str:
    """A non-empty name part (氏 or 名)."""
    return _text(value, field, MAX_NAME)


def kana_part(value: object, field: str) -> str:
    """A non-empty reading in hiragana or katakana (振り仮名)."""
    text = _text(value, field, MAX_NAME)
    if not _KANA.match(text):
        raise InvalidResidentData("a reading must be hiragana or katakana", field=field)
    return text


def optional_name(value: object, field: str) -> str | None:
    """An optional name part (None or empty means absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return name_part(value, field)


def optional_kana(value: object, field: str) -> str | None:
    """An optional reading (None or empty means absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return kana_part(value, field)


def address(value: object, field: str = "address") -> str:
    """A non-empty address."""
    return _text(value, field, MAX_ADDRESS)


def sex(value: object) -> Sex:
    """A sex code (ISO 5218: 0, 1, 2 or 9)."""
    try:
        return Sex(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidResidentData("sex must be an ISO 5218 code (0, 1, 2, 9)") from None


def not_future(day: object, today: dt.date, field: str) -> dt.date:
    """A date that is not after today."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidDate("expected a date", field=field)
    if day > today:
        raise InvalidDate("the date is in the future", field=field)
    return day


def not_before(day: dt.date, earliest: dt.date, field: str, what: str) -> None:
    """Refuse ``day`` if it is before ``earliest`` (``what`` names the earlier fact)."""
    if day < earliest:
        raise InvalidDate(f"the date is before {what}", field=field)


def planned_date(day: object, today: dt.date, field: str) -> dt.date:
    """A planned move-out date within the notification window around today."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidDate("expected a date", field=field)
    if day > today + MOVE_OUT_NOTICE_AHEAD:
        raise InvalidDate("the planned date is too far ahead (at most 14 days)", field=field)
    if day < today - MOVE_OUT_LATE_LIMIT:
        raise InvalidDate("the planned date is too far in the past (at most 14 days)", field=field)
    return day


def stay_end(day: object, date_of_birth: dt.date) -> dt.date | None:
    """An optional end of the period of stay (在留期間等の満了の日): a date after the birth."""
    if day is None:
        return None
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidDate("expected a date", field="stay_expires_on")
    if day <= date_of_birth:
        raise InvalidDate("the period of stay ends before the birth", field="stay_expires_on")
    return day


def person(p: PersonLike | NewPerson, today: dt.date) -> NewPerson:
    """A checked and normalised copy of a person to register."""
    dob = not_future(p.date_of_birth, today, "date_of_birth")
    return NewPerson(
        family_name=name_part(p.family_name, "family_name"),
        given_name=name_part(p.given_name, "given_name"),
        family_name_kana=kana_part(p.family_name_kana, "family_name_kana"),
        given_name_kana=kana_part(p.given_name_kana, "given_name_kana"),
        date_of_birth=dob,
        sex=sex(p.sex),
        relationship=Relationship.parse(p.relationship) if p.relationship else None,
        former_surname=optional_name(getattr(p, "former_surname", None), "former_surname"),
        former_surname_kana=optional_kana(
            getattr(p, "former_surname_kana", None), "former_surname_kana"
        ),
        stay_expires_on=stay_end(getattr(p, "stay_expires_on", None), dob),
    )


def resident_code(code: str) -> str:
    """A valid 11-digit resident-record code (住民票コード), check digit included."""
    return str(validate_resident_code(code))


def actor_and_reason(actor: str, reason: str) -> tuple[str, str]:
    """Who and why for the audit record (short, no personal data by contract)."""
    a = actor.strip() if isinstance(actor, str) else ""
    r = reason.strip() if isinstance(reason, str) else ""
    if not a or len(a) > 64:
        raise InvalidResidentData("actor must be 1-64 characters")
    if not r or len(r) > 200:
        raise InvalidResidentData("reason must be 1-200 characters")
    return a, r
