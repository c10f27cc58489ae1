"""``repr()`` of models that hold personal data: the number and codes masked, the rest hidden.

A dataclass that holds an individual number (個人番号), a resident-record code (住民票コード),
the 4 basic items (基本4情報: name, address, date of birth, sex) or a PIN defines
``__repr__`` as ``masked_repr(self)``, so a model printed in a log line, a traceback's locals
or a test failure shows ``**** **** 1234`` and ``<redacted>`` instead. Fields are told apart
by their names (the glossary's code names); equality and the fields themselves are unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from openmyna.numbers.checkdigits import mask_individual_number, mask_resident_code

REDACTED = "<redacted>"

#: Fields that are one of the 4 items, a part of one, or as telling as one: names, kana,
#: addresses (the previous one and a move's destination), dates of birth, sex, the face
#: and the pictures of name and address on the card, bytes signed over them, and a digest
#: of the number (12 digits are few enough to find from their SHA-256).
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "name_kana",
        "family_name",
        "given_name",
        "family_name_kana",
        "given_name_kana",
        "former_surname",
        "former_surname_kana",
        "head_of_household",
        "address",
        "previous_address",
        "destination",
        "date_of_birth",
        "birth_month_day",
        "sex",
        "face_image",
        "name_image",
        "address_image",
        "signed",
        "number_digest",
        # A foreign resident's end of stay (在留期間等の満了の日): tells residence status.
        "stay_expires_on",
    }
)
#: Secrets a holder chose: never shown, not even in part.
SECRET_FIELDS = frozenset({"auth_pin", "sign_password", "text_pin", "pin"})


def masked_value(field_name: str, value: object) -> str:
    """How a field's value shows in a masked ``repr`` (``None`` shows as ``None``)."""
    if value is None:
        return "None"
    if field_name == "individual_number" and isinstance(value, str):
        return repr(mask_individual_number(value))
    if field_name.endswith("resident_code") and isinstance(value, str):
        return repr(mask_resident_code(value))
    if field_name in PERSONAL_FIELDS or field_name in SECRET_FIELDS:
        return REDACTED
    return repr(value)


def masked_repr(obj: Any) -> str:
    """``Name(field=value, …)`` of a dataclass, personal fields masked or hidden."""
    shown = ", ".join(
        f"{f.name}={masked_value(f.name, getattr(obj, f.name))}"
        for f in dataclasses.fields(obj)
        if f.repr
    )
    return f"{type(obj).__qualname__}({shown})"
