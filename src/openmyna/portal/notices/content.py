"""What a notice may hold: its fields, their limits, the categories and the links.

One model (``NewNotice``) checks a notice whether it arrives over the agency-facing API or
from a call in the process. The limits are openmyna's own (the real portal publishes none we
could find): a title of at most 100 characters on one line, a body of at most 4,000
characters, plain text only (shown escaped, line breaks kept; no control characters but the
line break and the tab, no bidirectional overrides, which can make a text read otherwise
than it is), a category from a fixed list, and an optional link that is a path to an
application or a payment on the portal — never another site.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from openmyna.network.messages import IdempotencyKey
from openmyna.portal.nav import N_
from openmyna.portal.notices.errors import InvalidNotice

TITLE_MAX: Final = 100
BODY_MAX: Final = 4000

#: The categories, with their labels (Japanese; English in the catalogue).
CATEGORIES: Final[dict[str, str]] = {
    "tax": N_("税"),
    "pension": N_("年金"),
    "health": N_("健康・医療"),
    "childcare": N_("子育て"),
    "welfare": N_("福祉・介護"),
    "disaster": N_("防災・罹災"),
    "application": N_("申請"),
    "payment": N_("お支払い"),
    "other": N_("その他"),
}

#: A link is a path on the portal to one application or one payment.
LINK: Final = re.compile(r"^/(applications|payments)/[A-Za-z0-9_-]{1,64}$")
#: What a link leads to, by its first path segment (the label of its button).
LINK_LABELS: Final[dict[str, str]] = {
    "applications": N_("申請の状況を見る"),
    "payments": N_("お支払いへ進む"),
}

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _plain(text: str, *, lines: bool) -> str:
    """``text`` with its line breaks normalised; refused if it holds what plain text must not."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    allowed = {"\n", "\t"} if lines else set()
    for ch in text:
        if ch in _BIDI or (unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed):
            raise ValueError("control characters are not allowed")
    return text.strip()


Category = Annotated[str, StringConstraints(pattern=r"^[a-z]{1,16}$")]


class NewNotice(BaseModel):
    """A notice as an agency posts it (without the recipient)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    category: Category
    #: A path on the portal: ``/applications/<id>`` or ``/payments/<id>``.
    link: str | None = Field(default=None, max_length=120)
    #: Unique per sending agency: a repeated post with the same key is the same notice.
    idempotency_key: IdempotencyKey

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: object) -> object:
        return _plain(value, lines=False) if isinstance(value, str) else value

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: object) -> object:
        return _plain(value, lines=True) if isinstance(value, str) else value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError("unknown category")
        return value

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not LINK.match(value):
            raise ValueError("a link is /applications/<id> or /payments/<id>")
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A notice's text is about a person: its repr shows only what kind of notice it is.
        yield "category", self.category
        yield "idempotency_key", self.idempotency_key


def fields_of(error: ValidationError) -> list[str]:
    """The names of the fields that failed (never their values)."""
    return sorted({".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()})


def new_notice(**fields: object) -> NewNotice:
    """A checked notice (``INVALID_NOTICE`` naming the fields that fail)."""
    try:
        return NewNotice.model_validate(fields)
    except ValidationError as exc:
        raise InvalidNotice(
            "the notice breaks the rules", fields=", ".join(fields_of(exc))
        ) from None


def link_label(link: str | None) -> str | None:
    """The label (untranslated) of a notice's link button, or None without a link."""
    if link is None:
        return None
    return LINK_LABELS.get(link.split("/")[1])
