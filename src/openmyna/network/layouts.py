"""Data standard layouts (データ標準レイアウト): the registry of typed, versioned item schemas.

A provider node answers a permitted query with one information item (特定個人情報) in the
layout named by the item id and a version; the requester validates it with
:func:`validate_item` before use. Layouts carry no identity: no name, address, number or
agency code travels inside an item (principle 2). The layouts themselves are in
``local_layouts`` (items local bodies provide) and ``insurance_layouts`` (social insurance),
on the base ``item_layout.ItemLayout``; this module lists them (:data:`LAYOUTS`,
:data:`ITEMS`) and finds and applies the right one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from openmyna.network.errors import MalformedItem, UnknownLayout
from openmyna.network.insurance_layouts import (
    HealthInsuranceEligibilityInfo,
    PensionInfo,
    UnemploymentInsuranceInfo,
)
from openmyna.network.item_layout import ItemLayout
from openmyna.network.local_layouts import (
    ChildRearingAllowanceInfo,
    DisabilityInfo,
    LocalTaxInfo,
    ResidentRegistryInfo,
    SpecialChildAllowanceInfo,
    WelfareInfo,
)

_ALL: tuple[type[ItemLayout], ...] = (
    LocalTaxInfo,
    ResidentRegistryInfo,
    WelfareInfo,
    DisabilityInfo,
    UnemploymentInsuranceInfo,
    PensionInfo,
    HealthInsuranceEligibilityInfo,
    ChildRearingAllowanceInfo,
    SpecialChildAllowanceInfo,
)


def _registry() -> dict[str, dict[int, type[ItemLayout]]]:
    out: dict[str, dict[int, type[ItemLayout]]] = {}
    for cls in _ALL:
        versions = out.setdefault(cls.item, {})
        if cls.version in versions:
            raise RuntimeError(f"duplicate layout {cls.item} v{cls.version}")
        versions[cls.version] = cls
    return out


#: Every layout: item id → version → model class.
LAYOUTS: Mapping[str, Mapping[int, type[ItemLayout]]] = _registry()
#: The item ids that have a layout (the allow-list may name only these).
ITEMS: frozenset[str] = frozenset(LAYOUTS)


def latest_version(item: str) -> int:
    """The newest layout version of ``item``."""
    versions = LAYOUTS.get(item)
    if not versions:
        raise UnknownLayout("no layout for this item", item=item)
    return max(versions)


def layout_for(item: str, version: int | None = None) -> type[ItemLayout]:
    """The layout class of ``item`` at ``version`` (the latest when None)."""
    chosen = latest_version(item) if version is None else version
    cls = LAYOUTS.get(item, {}).get(chosen)
    if cls is None:
        raise UnknownLayout("no layout for this item and version", item=item, version=chosen)
    return cls


def _describe(exc: ValidationError) -> str:
    # Field locations and error kinds only: the offending values may be personal data.
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<item>"
        # Our own validators' messages are fixed sentences; others may echo input.
        why = err["msg"] if err["type"] == "value_error" else err["type"]
        parts.append(f"{loc}: {why}")
    return "; ".join(parts)


def validate_item(item: str, version: int, payload: Any) -> ItemLayout:
    """Validate a provider's ``payload`` against the layout; raise ``MalformedItem`` if bad."""
    cls = layout_for(item, version)
    if not isinstance(payload, dict):
        raise MalformedItem("item data is not an object", item=item, version=version)
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise MalformedItem(
            "item data does not match its layout",
            item=item,
            version=version,
            errors=_describe(exc),
        ) from None
