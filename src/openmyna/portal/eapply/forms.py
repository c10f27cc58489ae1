"""Form definitions: data, not code (``data/forms/*.toml``), and the answers they accept.

A service's form is a TOML file validated on load by the pydantic models below
(``FormDefinition``): its sections and fields (type, required, limits, choices), which fields
the card's 券面事項入力補助AP may fill (``prefill``), which attachments it takes, which
documents the network makes unnecessary, and which office of the municipality receives it.
The same definition renders the form (``templates/eapply/form.html``) and checks what comes
back (``check_answers``), so the page and the server never disagree.

Field values are checked against a fixed set of types and formats; a definition cannot carry
its own regular expression (no pattern an attacker could make slow), nor markup (labels are
text, escaped by the templates). docs/portal.md "申請 (P5)" describes the format.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from openmyna.numbers import is_valid_individual_number, mask_individual_number
from openmyna.registry import known_municipalities


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark ``message`` for the catalogue (translated where it is shown)."""
    return message


Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
FormId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
ChoiceValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=400, strip_whitespace=True)]

FieldType = Literal[
    "text", "textarea", "date", "integer", "choice", "checkbox", "individual_number", "municipality"
]
#: Built-in formats of a text field (no definition brings its own pattern).
TextFormat = Literal["kana", "tel", "postal_code", "email", "digits"]
#: What the card's 券面事項入力補助AP can fill: the 4 items and, only where the form asks
#: for it, the individual number.
PrefillItem = Literal["name", "address", "date_of_birth", "sex", "individual_number"]
MediaType = Literal["application/pdf", "image/jpeg", "image/png"]
#: HTML autocomplete tokens a field may name (WCAG 2.1 SC 1.3.5, Identify Input Purpose).
Autocomplete = Literal[
    "name", "family-name", "given-name", "street-address", "postal-code", "bday", "sex",
    "tel", "email", "off",
]  # fmt: skip

TEXT_MAX = 4000
DEFAULT_MAX = {"text": 200, "textarea": 2000}
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
_FORMATS: dict[str, re.Pattern[str]] = {
    "kana": re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u3000 ]+$"),
    "tel": re.compile(r"^0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$"),
    "postal_code": re.compile(r"^[0-9]{3}-?[0-9]{4}$"),
    "email": re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$"),
    "digits": re.compile(r"^[0-9]+$"),
}
_NORMALISED = ("tel", "postal_code", "email", "digits")
_INTEGER = re.compile(r"^-?[0-9]{1,9}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Strict(BaseModel):
    """The base of the definition models: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Strict):
    """A text in both of the portal's languages (definitions are data: no catalogue)."""

    ja: Label
    en: Label

    def of(self, language: str) -> str:
        """The text in ``language`` (Japanese unless English is asked for)."""
        return self.en if language == "en" else self.ja


class Choice(Strict):
    """One answer a choice field offers."""

    value: ChoiceValue
    label: Text


class FieldDef(Strict):
    """One field of a form."""

    name: Ident
    type: FieldType
    label: Text
    hint: Text | None = None
    required: bool = False
    #: Text and textarea: length in characters (defaults 200 and 2,000; at most 4,000).
    min_length: int | None = Field(None, ge=1, le=TEXT_MAX)
    max_length: int | None = Field(None, ge=1, le=TEXT_MAX)
    format: TextFormat | None = None
    #: Integer fields: bounds.
    min: int | None = Field(None, ge=-999_999_999, le=999_999_999)
    max: int | None = Field(None, ge=-999_999_999, le=999_999_999)
    #: Date fields: bounds, an ISO date or ``today`` (the portal's clock, Japan time).
    min_date: str | None = None
    max_date: str | None = None
    choices: tuple[Choice, ...] = ()
    widget: Literal["select", "radio"] = "select"
    #: Which card item fills this field, after the person's consent.
    prefill: PrefillItem | None = None
    autocomplete: Autocomplete | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FieldDef:
        kind = self.type
        if (self.min_length or self.max_length or self.format) and kind not in DEFAULT_MAX:
            raise ValueError(f"{self.name}: lengths and formats are for text fields")
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ValueError(f"{self.name}: min_length exceeds max_length")
        if (self.min is not None or self.max is not None) and kind != "integer":
            raise ValueError(f"{self.name}: min and max are for integer fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min exceeds max")
        if (self.min_date or self.max_date) and kind != "date":
            raise ValueError(f"{self.name}: min_date and max_date are for date fields")
        for bound in (self.min_date, self.max_date):
            if bound is not None and bound != "today":
                dt.date.fromisoformat(bound)
        if (kind == "choice") != bool(self.choices):
            raise ValueError(f"{self.name}: a choice field, and only one, lists its choices")
        values = [c.value for c in self.choices]
        if len(set(values)) != len(values):
            raise ValueError(f"{self.name}: choices repeat a value")
        if self.widget == "radio" and kind != "choice":
            raise ValueError(f"{self.name}: radio buttons are for choice fields")
        self._check_prefill()
        return self

    def _check_prefill(self) -> None:
        fits = {
            "name": ("text",),
            "address": ("text", "textarea"),
            "date_of_birth": ("date",),
            "sex": ("choice",),
            "individual_number": ("individual_number",),
        }
        if self.prefill is not None and self.type not in fits[self.prefill]:
            raise ValueError(f"{self.name}: {self.prefill} cannot fill a {self.type} field")
        if self.type == "individual_number" and self.prefill not in (None, "individual_number"):
            raise ValueError(f"{self.name}: only the number fills a number field")

    @property
    def limit(self) -> int:
        """The longest text accepted."""
        return self.max_length or DEFAULT_MAX.get(self.type, 200)


class Repeat(Strict):
    """A section filled in several times (one per child, per person moving)."""

    min: int = Field(1, ge=0, le=10)
    max: int = Field(ge=1, le=10)
    #: What one instance is called (児童, 転出する人).
    item: Text

    @model_validator(mode="after")
    def _bounds(self) -> Repeat:
        if self.min > self.max:
            raise ValueError("repeat: min exceeds max")
        return self


class Section(Strict):
    """A group of fields with a heading (a fieldset)."""

    id: Ident
    title: Text
    hint: Text | None = None
    repeat: Repeat | None = None
    fields: tuple[FieldDef, ...] = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _unique(self) -> Section:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"section {self.id}: field names repeat")
        if self.repeat is not None and any(
            f.prefill or f.type == "individual_number" for f in self.fields
        ):
            raise ValueError(
                f"section {self.id}: a repeated section holds no pre-filled field and no number"
            )
        return self


class AttachmentDef(Strict):
    """A document the applicant may or must attach (one file)."""

    name: Ident
    label: Text
    hint: Text | None = None
    required: bool = False
    max_bytes: int = Field(ATTACHMENT_MAX_BYTES, ge=1024, le=ATTACHMENT_MAX_BYTES)
    media_types: tuple[MediaType, ...] = Field(min_length=1)


class NotNeeded(Strict):
    """A document the applicant no longer attaches: the office obtains it over the network."""

    document: Text
    #: The network's item that replaces it (``network/data/allow_list.toml``).
    item: Ident


class Receiver(Strict):
    """Who receives the application: an office of the municipality offering the service."""

    kind: Literal["municipality"] = "municipality"
    department: Text


class FormDefinition(Strict):
    """A service's form: what the page asks and what the server accepts."""

    schema_version: Literal[1] = 1
    id: FormId
    #: Raised when the form changes; the signed document names it.
    version: int = Field(ge=1)
    title: Text
    summary: Text
    category: Ident
    life_events: tuple[Ident, ...] = Field(min_length=1)
    #: The law the procedure rests on (shown on the service's page).
    legal_basis: Annotated[str, StringConstraints(max_length=200)] = ""
    receiver: Receiver
    sections: tuple[Section, ...] = Field(min_length=1, max_length=20)
    attachments: tuple[AttachmentDef, ...] = ()
    documents_not_needed: tuple[NotNeeded, ...] = ()
    #: What the applicant declares by signing (shown above the signature button).
    declaration: Text | None = None

    @model_validator(mode="after")
    def _unique(self) -> FormDefinition:
        ids = [s.id for s in self.sections] + [a.name for a in self.attachments]
        if len(set(ids)) != len(ids):
            raise ValueError("section ids and attachment names must be unique")
        items = [f.prefill for s in self.sections for f in s.fields if f.prefill]
        if len(set(items)) != len(items):
            raise ValueError("each card item fills at most one field")
        return self

    @property
    def prefill_items(self) -> tuple[str, ...]:
        """The card items this form can take, in the card's order."""
        wanted = {f.prefill for s in self.sections for f in s.fields if f.prefill}
        order = ("name", "address", "date_of_birth", "sex", "individual_number")
        return tuple(i for i in order if i in wanted)

    @property
    def needs_individual_number(self) -> bool:
        """Whether the form asks for the individual number (only then is it read or kept)."""
        return any(f.type == "individual_number" for s in self.sections for f in s.fields)


# --- answers ----------------------------------------------------------------------------------

#: An answer value as the signed document holds it.
Value = str | int | bool | None
Answers = dict[str, Any]

MESSAGES = {
    "required": N_("入力してください。"),
    "required_choice": N_("選択してください。"),
    "required_check": N_("確認のうえ、チェックを入れてください。"),
    "too_long": N_("%(limit)s文字以内で入力してください。"),
    "too_short": N_("%(limit)s文字以上で入力してください。"),
    "control": N_("使用できない文字が含まれています。"),
    "kana": N_("全角カタカナで入力してください。"),
    "tel": N_("電話番号を数字で入力してください（例：0312345678）。"),
    "postal_code": N_("郵便番号を7桁の数字で入力してください。"),
    "email": N_("メールアドレスの形式で入力してください。"),
    "digits": N_("数字で入力してください。"),
    "date": N_("日付を正しく入力してください。"),
    "date_too_early": N_("%(limit)s以降の日付を入力してください。"),
    "date_too_late": N_("%(limit)s以前の日付を入力してください。"),
    "integer": N_("整数で入力してください。"),
    "too_small": N_("%(limit)s以上の数を入力してください。"),
    "too_large": N_("%(limit)s以下の数を入力してください。"),
    "choice": N_("選択肢から選んでください。"),
    "individual_number": N_("個人番号（12桁）を正しく入力してください。"),
    "too_few": N_("%(limit)s件以上入力してください。"),
    "attachment_required": N_("ファイルを添付してください。"),
    "attachment_type": N_("%(types)s のファイルを添付してください。"),
    "attachment_size": N_("ファイルが大きすぎます（上限 %(limit)s）。"),
}


@dataclass(frozen=True)
class FieldError:
    """Why one field's answer was refused: a message id and its parameters."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The message (Japanese, the catalogue's source)."""
        return MESSAGES[self.code]


def field_key(section: str, name: str, index: int | None = None) -> str:
    """The form input's name: ``section.field`` or ``section.N.field`` in a repeated one."""
    return f"{section}.{name}" if index is None else f"{section}.{index}.{name}"


def _bound(text: str | None, today: dt.date) -> dt.date | None:
    if text is None:
        return None
    return today if text == "today" else dt.date.fromisoformat(text)


def _text(f: FieldDef, raw: str) -> tuple[Value, FieldError | None]:
    value = raw.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip() if f.type == "textarea" else " ".join(value.split())
    if f.format in _NORMALISED:
        value = unicodedata.normalize("NFKC", value).replace(" ", "")
    if _CONTROL.search(value) or (f.type == "text" and "\n" in value):
        return None, FieldError("control")
    if not value:
        return None, None
    if len(value) > f.limit:
        return None, FieldError("too_long", {"limit": str(f.limit)})
    if f.min_length and len(value) < f.min_length:
        return None, FieldError("too_short", {"limit": str(f.min_length)})
    if f.format and not _FORMATS[f.format].match(value):
        return None, FieldError(f.format)
    return value, None


def _date(f: FieldDef, raw: str, today: dt.date) -> tuple[Value, FieldError | None]:
    text = unicodedata.normalize("NFKC", raw).strip().replace("/", "-")
    if not text:
        return None, None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, FieldError("date")
    if len(text) != 10:
        return None, FieldError("date")
    low, high = _bound(f.min_date, today), _bound(f.max_date, today)
    if low is not None and day < low:
        return None, FieldError("date_too_early", {"limit": low.isoformat()})
    if high is not None and day > high:
        return None, FieldError("date_too_late", {"limit": high.isoformat()})
    return day.isoformat(), None


def _integer(f: FieldDef, raw: str) -> tuple[Value, FieldError | None]:
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "")
    if not text:
        return None, None
    if not _INTEGER.match(text):
        return None, FieldError("integer")
    number = int(text)
    if f.min is not None and number < f.min:
        return None, FieldError("too_small", {"limit": str(f.min)})
    if f.max is not None and number > f.max:
        return None, FieldError("too_large", {"limit": str(f.max)})
    return number, None


def municipality_codes() -> frozenset[str]:
    """The local government codes a municipality field accepts."""
    return frozenset(m.lg_code for m in known_municipalities())


def check_value(f: FieldDef, raw: str | None, today: dt.date) -> tuple[Value, FieldError | None]:
    """One field's answer from the text the browser sent (``None``: nothing sent)."""
    raw = (raw or "")[: TEXT_MAX * 2]
    value: Value
    error: FieldError | None = None
    if f.type == "checkbox":
        value = raw == "yes"
        if f.required and not value:
            return value, FieldError("required_check")
        return value, None
    if f.type in ("text", "textarea"):
        value, error = _text(f, raw)
    elif f.type == "date":
        value, error = _date(f, raw, today)
    elif f.type == "integer":
        value, error = _integer(f, raw)
    elif f.type in ("choice", "municipality"):
        text = raw.strip()
        allowed = {c.value for c in f.choices} if f.type == "choice" else municipality_codes()
        value = text or None
        if value is not None and value not in allowed:
            return None, FieldError("choice")
        if value is None and f.required:
            return None, FieldError("required_choice")
        return value, None
    else:  # individual_number
        digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw))
        value = digits or None
        if value is not None and not is_valid_individual_number(value):
            return None, FieldError("individual_number")
    if error is None and value is None and f.required:
        error = FieldError("required")
    return value, error


@dataclass
class Checked:
    """A form's answers as checked: values by section, errors by input name."""

    answers: Answers
    errors: dict[str, FieldError]

    @property
    def ok(self) -> bool:
        """Whether every answer passed."""
        return not self.errors


def check_answers(
    form: FormDefinition,
    raw: Mapping[str, str],
    today: dt.date,
    *,
    kept: Answers | None = None,
) -> Checked:
    """Check what the browser sent (``raw``, by input name) against ``form``.

    An individual-number field left blank keeps the number ``kept`` holds (read from the
    card or typed before): the number is never sent back to the page, so it is never
    retyped either. A repeated section's blank instances are dropped.
    """
    answers: Answers = {}
    errors: dict[str, FieldError] = {}
    kept = kept or {}
    for section in form.sections:
        if section.repeat is None:
            values: dict[str, Value] = {}
            for f in section.fields:
                key = field_key(section.id, f.name)
                value, error = check_value(f, raw.get(key), today)
                if f.type == "individual_number" and not (raw.get(key) or "").strip():
                    old = (kept.get(section.id) or {}).get(f.name)
                    if isinstance(old, str) and is_valid_individual_number(old):
                        value, error = old, None
                values[f.name] = value
                if error is not None:
                    errors[key] = error
            answers[section.id] = values
            continue
        items: list[dict[str, Value]] = []
        for index in range(section.repeat.max):
            keys = [field_key(section.id, f.name, index) for f in section.fields]
            if not any((raw.get(k) or "").strip() for k in keys):
                continue  # a blank instance
            item: dict[str, Value] = {}
            for f, key in zip(section.fields, keys, strict=True):
                value, error = check_value(f, raw.get(key), today)
                item[f.name] = value
                if error is not None:
                    errors[key] = error
            items.append(item)
        if len(items) < section.repeat.min:
            errors[section.id] = FieldError("too_few", {"limit": str(section.repeat.min)})
        answers[section.id] = items
    return Checked(answers, errors)


def form_values(form: FormDefinition, answers: Answers) -> dict[str, str]:
    """A draft's answers as the form's inputs show them (the number never: it stays blank)."""
    shown: dict[str, str] = {}
    for section in form.sections:
        saved = answers.get(section.id)
        if section.repeat is None:
            entries: list[tuple[int | None, Mapping[str, Any]]] = [
                (None, saved if isinstance(saved, dict) else {})
            ]
        else:
            entries = list(enumerate(saved if isinstance(saved, list) else []))
        for index, values in entries:
            for f in section.fields:
                value = values.get(f.name)
                if value is None or f.type == "individual_number":
                    continue
                if f.type == "checkbox":
                    shown[field_key(section.id, f.name, index)] = "yes" if value else ""
                else:
                    shown[field_key(section.id, f.name, index)] = str(value)
    return shown


def masked_numbers(form: FormDefinition, answers: Answers) -> dict[str, str]:
    """The number fields that hold a number, by input name, with the number masked."""
    found: dict[str, str] = {}
    for section in form.sections:
        values = answers.get(section.id)
        if section.repeat is not None or not isinstance(values, dict):
            continue
        for f in section.fields:
            number = values.get(f.name)
            if f.type == "individual_number" and isinstance(number, str):
                found[field_key(section.id, f.name)] = mask_individual_number(number)
    return found
