"""``repr()`` and ``str()`` of every model holding a number, a code, the 4 items or a PIN mask them.

The test finds the models itself: every dataclass of the domains that has a field named like
personal data (the glossary's names), filled with sample values; printing it must show none
of them in full.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import pkgutil
import typing
from typing import Any

from openmyna.registry import Sex

NUMBER = "123456789018"
CODE = "01234567895"
FAMILY, GIVEN, FAMILY_KANA, GIVEN_KANA = "山田", "太郎", "ヤマダ", "タロウ"
ADDRESS = "群馬県前橋市大手町二丁目12番1号"
BORN = dt.date(1987, 6, 5)
PIN, PASSWORD = "9753", "PASS9753X"

#: Field name -> sample value (the names the domains use for personal data and secrets).
#: ``name`` alone finds no model (agencies and municipalities have names too); a model
#: found by its other fields gets a person's name there.
SAMPLES: dict[str, object] = {
    "individual_number": NUMBER,
    "resident_code": CODE,
    "head_resident_code": CODE,
    "family_name": FAMILY,
    "given_name": GIVEN,
    "family_name_kana": FAMILY_KANA,
    "given_name_kana": GIVEN_KANA,
    "former_surname": FAMILY,
    "former_surname_kana": FAMILY_KANA,
    "name": f"{FAMILY} {GIVEN}",
    "head_of_household": f"{FAMILY} {GIVEN}",
    "address": ADDRESS,
    "previous_address": ADDRESS,
    "destination": ADDRESS,
    "date_of_birth": BORN,
    "birth_month_day": (6, 5),
    "auth_pin": PIN,
    "text_pin": PIN,
    "sign_password": PASSWORD,
}
#: What must not show in a repr (the masked number shows its last 4 digits only).
FORBIDDEN = (
    NUMBER,
    CODE,
    FAMILY,
    GIVEN,
    FAMILY_KANA,
    GIVEN_KANA,
    "大手町",
    "1987",
    "(6, 5)",
    PIN,
    PASSWORD,
)
PACKAGES = ("registry", "card", "demo", "numbers", "network", "pki", "bus")
#: Models the test must find (named in the issue), so a broken search cannot pass.
EXPECTED = {
    "Resident",
    "IdentityEntry",
    "MoveOutCertificate",
    "HolderData",
    "TextData",
    "CardItems",
    "ChildAllowanceApplication",
    "Personalization",
    "CardRecord",
}


def _models() -> list[type[Any]]:
    found: dict[str, type[Any]] = {}
    for package in PACKAGES:
        module = importlib.import_module(f"openmyna.{package}")
        names = [module.__name__] + [
            m.name
            for m in pkgutil.walk_packages(module.__path__, f"{module.__name__}.")
            if ".migrations" not in m.name
        ]
        for name in names:
            for value in vars(importlib.import_module(name)).values():
                if (
                    isinstance(value, type)
                    and dataclasses.is_dataclass(value)
                    and value.__module__.startswith("openmyna.")
                    and any(f.name in SAMPLES.keys() - {"name"} for f in dataclasses.fields(value))
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


def _sample(cls: type[Any]) -> Any:
    """An instance with sample personal data (no validation: repr only reads fields)."""
    try:
        hints = typing.get_type_hints(cls)
    except NameError:  # an annotation imported only for type checking
        hints = {}
    obj = object.__new__(cls)
    for f in dataclasses.fields(cls):
        value: object = SAMPLES.get(f.name)
        hint = hints.get(f.name)
        if f.name == "sex":
            value = Sex.MALE
        elif value is None and isinstance(hint, type) and dataclasses.is_dataclass(hint):
            value = _sample(hint)
        elif value is None and typing.get_origin(hint) is tuple:
            inner = typing.get_args(hint)[0]
            if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                value = (_sample(inner),)
        object.__setattr__(obj, f.name, value)
    return obj


def test_the_search_finds_the_models_the_issue_names() -> None:
    assert {m.__qualname__ for m in _models()} >= EXPECTED


def test_repr_and_str_mask_every_personal_field() -> None:
    leaks = []
    for cls in _models():
        obj = _sample(cls)
        for text in (repr(obj), str(obj)):
            shown = [s for s in FORBIDDEN if s in text]
            if shown or "MALE" in text:
                leaks.append(f"{cls.__module__}.{cls.__qualname__}: {shown} in {text[:200]}")
    assert leaks == []


def test_the_number_shows_masked_and_the_fields_stay_whole() -> None:
    from openmyna.card.personalize import HolderData
    from openmyna.registry.models import IdentityEntry

    entry = _sample(IdentityEntry)
    assert "individual_number='**** **** 9018'" in repr(entry)
    assert "resident_code='*******7895'" in repr(entry)
    assert "address=<redacted>" in repr(entry)
    assert entry.individual_number == NUMBER
    assert entry.address == ADDRESS
    holder = HolderData(NUMBER, f"{FAMILY} {GIVEN}", ADDRESS, BORN, 1, dt.date(2035, 6, 5))
    same = HolderData(NUMBER, f"{FAMILY} {GIVEN}", ADDRESS, BORN, 1, dt.date(2035, 6, 5))
    assert holder == same
    assert hash(holder) == hash(same)
    assert dataclasses.replace(holder, address="x") != holder
    assert "2035" in repr(holder)  # what is not personal stays readable


def test_the_network_number_request_masks_the_number() -> None:
    from openmyna.network.service import NumberIn

    body = NumberIn(individual_number=NUMBER)
    for text in (repr(body), str(body)):
        assert NUMBER not in text
        assert "**** **** 9018" in text
    assert body.individual_number == NUMBER


def test_an_event_keeps_its_payload_out_of_repr() -> None:
    """Registry events carry the 4 items: printing one (a log line, a traceback) hides them."""
    from openmyna.bus import Event

    event = Event(
        id="e1",
        type="registry.moved_within",
        source="registry.102016",
        occurred_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        data={"resident_code": CODE, "family_name": FAMILY, "address": ADDRESS},
    )
    shown = repr(event) + str(event)
    assert "registry.moved_within" in shown
    assert all(value not in shown for value in (CODE, FAMILY, "大手町"))
