"""ItemLayout, the base of every data standard layout, and the field types layouts share.

Amounts are non-negative integers in yen (:data:`Yen`, at most :data:`MAX_YEN`); fiscal years
are Japanese fiscal years (年度, April to March) between :data:`MIN_FISCAL_YEAR` and
:data:`MAX_FISCAL_YEAR`; local government codes are checked with their check digit. Every
field is strict and every layout forbids unknown fields, so a provider that drifts from the
layout is refused, not guessed at.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from openmyna.registry.errors import InvalidLgCode
from openmyna.registry.municipalities import validate_lg_code

MIN_FISCAL_YEAR = 2000
MAX_FISCAL_YEAR = 2100
#: Upper bound on any yen amount in a layout (10 trillion yen): catches unit mix-ups.
MAX_YEN = 10**13


def _lg_code(value: str) -> str:
    try:
        return validate_lg_code(value)
    except InvalidLgCode as exc:
        raise ValueError("not a valid local government code") from exc


Yen = Annotated[int, Field(strict=True, ge=0, le=MAX_YEN)]
Count = Annotated[int, Field(strict=True, ge=0, le=99)]
FiscalYear = Annotated[int, Field(strict=True, ge=MIN_FISCAL_YEAR, le=MAX_FISCAL_YEAR)]
BirthYear = Annotated[int, Field(strict=True, ge=1880, le=MAX_FISCAL_YEAR)]
LgCode = Annotated[str, Field(strict=True, pattern=r"^[0-9]{6}$"), AfterValidator(_lg_code)]
Flag = Annotated[bool, Field(strict=True)]


def unique_sorted(values: tuple[str, ...]) -> tuple[str, ...]:
    """A set of values as a sorted tuple; ``ValueError`` if one repeats."""
    # Sets travel as sorted lists so that a layout serialises to the same bytes every time.
    if len(set(values)) != len(values):
        raise ValueError("values repeat")
    return tuple(sorted(values))


class ItemLayout(BaseModel):
    """Base of every layout: frozen, unknown fields forbidden, dated by ``as_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    #: The item id used in the allow-list (情報項目).
    item: ClassVar[str]
    #: The layout version; a new version is a new class, old ones stay for old records.
    version: ClassVar[int]
    #: The Japanese name of the item.
    name_ja: ClassVar[str]

    #: The date the provider's data is valid for (基準日).
    as_of: dt.date
