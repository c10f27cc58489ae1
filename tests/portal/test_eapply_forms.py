"""Form definitions are data: the package's load and pass the schema, broken ones are refused
saying where, and the answers are checked from the same definitions (no database)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from openmyna.portal.eapply.canonical import canonical_json
from openmyna.portal.eapply.catalogue import load_catalogue
from openmyna.portal.eapply.errors import FormDefinitionInvalid
from openmyna.portal.eapply.forms import (
    MESSAGES,
    FormDefinition,
    check_answers,
    form_values,
    masked_numbers,
)

TODAY = dt.date(2026, 4, 1)
DATA = Path(__file__).parents[2] / "src/openmyna/portal/eapply/data"


def _form(**overrides: Any) -> FormDefinition:
    base: dict[str, Any] = {
        "id": "test-form",
        "version": 1,
        "title": {"ja": "試験", "en": "Test"},
        "summary": {"ja": "試験の手続", "en": "A test"},
        "category": "child_care",
        "life_events": ["moving"],
        "receiver": {"department": {"ja": "市民課", "en": "Residents"}},
        "sections": [
            {
                "id": "main",
                "title": {"ja": "本文", "en": "Main"},
                "fields": [
                    {"name": "name", "type": "text", "label": {"ja": "氏名", "en": "Name"},
                     "required": True, "max_length": 10, "prefill": "name"},
                    {"name": "kana", "type": "text", "format": "kana",
                     "label": {"ja": "カナ", "en": "Kana"}},
                    {"name": "born", "type": "date", "max_date": "today",
                     "label": {"ja": "生年月日", "en": "Born"}},
                    {"name": "copies", "type": "integer", "min": 1, "max": 5,
                     "label": {"ja": "通数", "en": "Copies"}},
                    {"name": "kind", "type": "choice", "label": {"ja": "種別", "en": "Kind"},
                     "choices": [{"value": "a", "label": {"ja": "甲", "en": "A"}}]},
                    {"name": "agree", "type": "checkbox", "required": True,
                     "label": {"ja": "同意", "en": "Agree"}},
                    {"name": "number", "type": "individual_number",
                     "label": {"ja": "個人番号", "en": "Number"}, "prefill": "individual_number"},
                ],
            },
            {
                "id": "kids",
                "title": {"ja": "児童", "en": "Children"},
                "repeat": {"min": 1, "max": 3, "item": {"ja": "児童", "en": "Child"}},
                "fields": [
                    {"name": "name", "type": "text", "required": True,
                     "label": {"ja": "氏名", "en": "Name"}},
                ],
            },
        ],
    }  # fmt: skip
    base.update(overrides)
    return FormDefinition.model_validate(base)


NUMBER = "123456789018"


def test_the_package_forms_and_catalogue_load() -> None:
    catalogue = load_catalogue()
    assert {"child-allowance-claim", "move-out-notice", "disaster-certificate"} <= set(
        catalogue.forms
    )
    child = catalogue.forms["child-allowance-claim"]
    assert child.needs_individual_number
    assert not catalogue.forms["move-out-notice"].needs_individual_number
    assert [d.item for d in child.documents_not_needed] == ["local_tax", "resident_registry"]
    for form in catalogue.forms.values():
        assert form.title.ja
        assert form.title.en
        assert form.category in catalogue.categories
        assert set(form.life_events) <= set(catalogue.life_events)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"colour": "red"}, "colour"),
        ({"version": 0}, "version"),
        ({"title": {"ja": "試験"}}, "title.en"),
        ({"id": "Bad Id"}, "id"),
    ],
)
def test_a_broken_definition_is_refused_saying_where(
    change: dict[str, Any], where: str, tmp_path: Path
) -> None:
    good = json.loads(_form().model_dump_json(exclude_none=True))
    (tmp_path / "forms").mkdir()
    toml = _to_toml({**good, **change})
    (tmp_path / "forms" / "test-form.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "catalogue.toml").write_text((DATA / "catalogue.toml").read_text("utf-8"))
    with pytest.raises(FormDefinitionInvalid) as refused:
        load_catalogue(tmp_path)
    assert where in refused.value.message


def _to_toml(value: dict[str, Any]) -> str:
    """Enough of TOML for a definition: JSON values are TOML inline values."""
    lines = []
    for key, item in value.items():
        lines.append(f"{key} = {_inline(item)}")
    return "\n".join(lines) + "\n"


def _inline(item: object) -> str:
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in item.items()) + " }"
    if isinstance(item, list | tuple):
        return "[" + ", ".join(_inline(v) for v in item) + "]"
    return json.dumps(item, ensure_ascii=False)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "x", "type": "date", "prefill": "name"}, "cannot fill"),
        ({"name": "x", "type": "choice"}, "lists its choices"),
        ({"name": "x", "type": "text", "min": 3}, "integer fields"),
        ({"name": "x", "type": "integer", "max_length": 3}, "text fields"),
        ({"name": "x", "type": "date", "max_date": "tomorrow"}, "Invalid isoformat"),
        ({"name": "x", "type": "text", "format": "regex"}, "format"),
    ],
)
def test_inconsistent_fields_are_refused(field: dict[str, Any], message: str) -> None:
    field = {"label": {"ja": "欄", "en": "Field"}, **field}
    section = {"id": "s", "title": {"ja": "節", "en": "Section"}, "fields": [field]}
    with pytest.raises(ValueError, match=message):
        _form(sections=[section])


def test_a_repeated_section_holds_no_number_and_card_items_fill_one_field() -> None:
    label = {"ja": "欄", "en": "Field"}
    repeated = {
        "id": "s",
        "title": label,
        "repeat": {"max": 2, "item": label},
        "fields": [{"name": "n", "type": "individual_number", "label": label}],
    }
    with pytest.raises(ValueError, match="no number"):
        _form(sections=[repeated])
    twice = {
        "id": "s",
        "title": label,
        "fields": [
            {"name": "a", "type": "text", "label": label, "prefill": "name"},
            {"name": "b", "type": "text", "label": label, "prefill": "name"},
        ],
    }
    with pytest.raises(ValueError, match="at most one field"):
        _form(sections=[twice])


def test_required_limits_choices_and_formats_are_checked() -> None:
    form = _form()
    checked = check_answers(
        form,
        {
            "main.name": "とても長い名前の申請者さん",
            "main.kana": "やまだ",
            "main.born": "2027-01-01",
            "main.copies": "9",
            "main.kind": "b",
            "main.number": "123456789012",
        },
        TODAY,
    )
    codes = {k: e.code for k, e in checked.errors.items()}
    assert codes == {
        "main.name": "too_long",
        "main.kana": "kana",
        "main.born": "date_too_late",
        "main.copies": "too_large",
        "main.kind": "choice",
        "main.agree": "required_check",
        "main.number": "individual_number",
        "kids": "too_few",
    }
    assert checked.errors["main.name"].params == {"limit": "10"}
    assert all(e.code in MESSAGES for e in checked.errors.values())


def test_good_answers_pass_normalised() -> None:
    form = _form()
    checked = check_answers(
        form,
        {
            "main.name": "  山田\u3000 花子 ",
            "main.kana": "ヤマダ　ハナコ",
            "main.born": "1985/02/03",
            "main.copies": "２",
            "main.kind": "a",
            "main.agree": "yes",
            "main.number": "1234 5678 9018",
            "kids.0.name": "一郎",
            "kids.1.name": "",
            "kids.2.name": "二郎",
        },
        TODAY,
    )
    assert checked.ok, checked.errors
    assert checked.answers == {
        "main": {
            "name": "山田 花子",
            "kana": "ヤマダ ハナコ",  # runs of spaces (full-width too) become one
            "born": "1985-02-03",
            "copies": 2,
            "kind": "a",
            "agree": True,
            "number": NUMBER,
        },
        "kids": [{"name": "一郎"}, {"name": "二郎"}],
    }


def test_the_number_is_kept_but_never_shown_back() -> None:
    form = _form()
    kept = {"main": {"name": "山田", "number": NUMBER}}
    checked = check_answers(
        form, {"main.name": "山田", "main.agree": "yes", "kids.0.name": "一郎"}, TODAY, kept=kept
    )
    assert checked.ok
    assert checked.answers["main"]["number"] == NUMBER
    shown = form_values(form, checked.answers)
    assert "main.number" not in shown
    assert NUMBER not in json.dumps(shown)
    assert masked_numbers(form, checked.answers) == {"main.number": "**** **** 9018"}


def test_control_characters_are_refused_and_line_breaks_end_one_line_fields() -> None:
    form = _form()
    checked = check_answers(form, {"main.name": "山田\x00"}, TODAY)
    assert checked.errors["main.name"].code == "control"
    checked = check_answers(form, {"main.name": "山田\r\n花子"}, TODAY)
    assert checked.answers["main"]["name"] == "山田 花子"


def test_canonical_json_is_sorted_compact_and_utf8() -> None:
    value = {"b": [1, True, None], "a": {"z": '申請\n"x"', "y": "\u2028\x7f\x01"}}
    assert canonical_json(value) == (
        '{"a":{"y":"\u2028\x7f\\u0001","z":"申請\\n\\"x\\""},"b":[1,true,null]}'
    ).encode("utf-8")
