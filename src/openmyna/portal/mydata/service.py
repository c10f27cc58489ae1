"""自己情報 (P3): what an agency holds about the person, fetched over the network on request.

The portal asks like any agency: its node (``myna-portal``) signs a request under the
portal's own agency-specific code for the person, for the affair ``own_information``; the
hub checks it against ``network/data/self_information.toml`` (the portal's list, 番号法
附則第6条第3項), translates the code to the provider's and records the exchange, so the
fetch shows up in the person's やりとり履歴 (P2). The content is shown once and not kept by
the portal.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.network.errors import (
    ExchangeRefused,
    MalformedItem,
    MessageError,
    ProviderUnavailable,
)
from openmyna.network.item_layout import ItemLayout
from openmyna.network.local import LocalNetwork
from openmyna.portal.accounts import PORTAL_AGENCY
from openmyna.portal.i18n import format_date
from openmyna.portal.mydata.labels import FIELDS, VALUES, YEN_FIELDS


class InvalidOwnRequest(InvalidInput):
    """An item or agency the portal does not fetch own information for."""

    code = "MYDATA_INVALID_REQUEST"


class FetchStatus(StrEnum):
    """How a fetch ended, as the page tells it."""

    PROVIDED = "provided"  # the agency holds the item: shown
    NO_DATA = "no_data"  # the agency holds nothing of that item about the person
    UNAVAILABLE = "unavailable"  # the agency's node cannot be reached now
    REFUSED = "refused"  # the hub refused (not on the portal's list) or the code is unknown
    INVALID = "invalid"  # the answer did not verify or did not fit its layout
    FAILED = "failed"  # anything else the network answered


@dataclass(frozen=True)
class Choice:
    """An item the person may fetch, and the agencies that may hold it."""

    item: str
    name: str
    agencies: tuple[tuple[str, str], ...]  # (agency id, name)
    basis: str


@dataclass(frozen=True)
class Shown:
    """One field of the fetched item, as shown: a label and a value or nested entries."""

    label: str
    value: str = ""
    entries: tuple[tuple[Shown, ...], ...] = ()


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: what was asked, when, how it ended, what came."""

    item: str
    agency: str
    at: dt.datetime
    status: FetchStatus
    layout: ItemLayout | None = None
    error_code: str = ""


class OwnInformation:
    """自己情報: the portal's fetches of the person's own information over the network."""

    def __init__(self, network: LocalNetwork, agency_id: str = PORTAL_AGENCY) -> None:
        self.network = network
        self.agency_id = agency_id
        self.rules = network.self_information

    def choices(self) -> list[Choice]:
        """Every item on the portal's list with the agencies of the kinds that provide it."""
        names = self.network.names
        kinds: dict[str, list[str]] = {}
        basis: dict[str, str] = {}
        for entry in self.rules.entries:
            kinds.setdefault(entry.item, []).append(entry.provider.value)
            basis.setdefault(entry.item, entry.basis)
        out = []
        for item, provider_kinds in kinds.items():
            agencies = [a for k in provider_kinds for a in self.network.agencies(k)]
            out.append(
                Choice(
                    item,
                    names.items.get(item, item),
                    tuple((a.id, a.name) for a in agencies),
                    basis[item],
                )
            )
        return out

    def choice(self, item: str | None) -> Choice:
        """The choice for ``item`` (``MYDATA_INVALID_REQUEST`` if the portal does not fetch it)."""
        for c in self.choices():
            if c.item == item:
                return c
        raise InvalidOwnRequest("the portal does not fetch that item", field="item")

    def fetch(self, code: str, item: str | None, agency: str | None) -> Fetched:
        """Ask ``agency`` for the person's ``item`` through the hub, under the portal's code."""
        chosen = self.choice(item)
        if agency not in {a for a, _ in chosen.agencies}:
            raise InvalidOwnRequest("that agency does not provide this item", field="agency")
        assert agency is not None
        at = self.network.clock.now()
        try:
            got = self.network.ask(
                self.agency_id,
                code,
                self.rules.affair,
                chosen.item,
                provider_agency=agency,
                idempotency_key=secrets.token_hex(16),
            )
        except ProviderUnavailable as exc:
            return Fetched(chosen.item, agency, at, FetchStatus.UNAVAILABLE, error_code=exc.code)
        except ExchangeRefused as exc:
            return Fetched(chosen.item, agency, at, FetchStatus.REFUSED, error_code=exc.code)
        except (MalformedItem, MessageError) as exc:
            return Fetched(chosen.item, agency, at, FetchStatus.INVALID, error_code=exc.code)
        except OpenMynaError as exc:
            return Fetched(chosen.item, agency, at, FetchStatus.FAILED, error_code=exc.code)
        if got is None:
            return Fetched(chosen.item, agency, at, FetchStatus.NO_DATA)
        return Fetched(chosen.item, agency, at, FetchStatus.PROVIDED, layout=got)


def describe(
    layout: ItemLayout,
    gettext: Callable[[str], str],
    language: str,
    agencies: Mapping[str, str],
) -> list[Shown]:
    """The item's fields with labels and readable values (dates, yen, yes/no, names)."""
    return _fields(layout.model_dump(mode="python"), gettext, language, agencies)


def _fields(
    data: Mapping[str, Any],
    _: Callable[[str], str],
    language: str,
    agencies: Mapping[str, str],
) -> list[Shown]:
    out = []
    for name, value in data.items():
        label = _(FIELDS[name]) if name in FIELDS else name
        if isinstance(value, Mapping):
            out.append(Shown(label, entries=(tuple(_fields(value, _, language, agencies)),)))
        elif isinstance(value, tuple | list) and value and isinstance(value[0], Mapping):
            entries = tuple(tuple(_fields(v, _, language, agencies)) for v in value)
            out.append(Shown(label, entries=entries))
        else:
            out.append(Shown(label, _value(name, value, _, language, agencies)))
    return out


def _value(
    name: str,
    value: object,
    _: Callable[[str], str],
    language: str,
    agencies: Mapping[str, str],
) -> str:
    if value is None:
        return _("—（記録なし）")
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    if isinstance(value, dt.date):
        return format_date(value, language)
    if isinstance(value, int):
        if name in YEN_FIELDS:
            return _("%(amount)s円") % {"amount": f"{value:,}"}
        return str(value)
    if isinstance(value, tuple | list):
        if not value:
            return _("なし")
        sep = "、" if language == "ja" else ", "
        return sep.join(_value(name, v, _, language, agencies) for v in value)
    text = str(value)
    if name.endswith("lg_code"):
        place = agencies.get(f"lg-{text}")
        return f"{place}（{text}）" if place else text
    return _(VALUES[text]) if text in VALUES else text
