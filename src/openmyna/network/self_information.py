"""自己情報表示: which items the portal may fetch for the person themselves, as versioned data.

The portal (マイナポータル, agency kind ``portal``) is on the network so that a person can see
the specific personal information agencies hold about them (番号法 附則第6条第3項: the
情報提供等記録開示システム). It asks under its own agency-specific code for the person, for the
one affair ``own_information``, and only for the (provider kind, item) pairs listed in
``network/data/self_information.toml``. The hub enforces this list for requesters of kind
``portal`` as it enforces the allow-list (別表第二) for everyone else; the allow-list itself
refuses any entry naming the portal (``allow_list``), so there is one way in for each.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openmyna.network.agencies import AgencyKind
from openmyna.network.allow_list import Affair, AffairId, Basis, ItemId
from openmyna.network.errors import AllowListInvalid, NotAllowed

__all__ = ["SelfEntry", "SelfInformation", "default_self_information", "parse_self_information"]


class SelfEntry(BaseModel):
    """One item the portal may fetch, from which kind of provider, on which basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: AgencyKind
    item: ItemId
    basis: Basis


class _SelfFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal[1] = Field(alias="schema")
    version: Annotated[str, Field(pattern=r"^[0-9]{4}\.[0-9]{1,2}\.[0-9]+$")]
    requester: Literal[AgencyKind.PORTAL]
    affair: AffairId
    affair_info: Affair
    entry: Annotated[list[SelfEntry], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> _SelfFile:
        seen: set[tuple[str, str]] = set()
        for n, e in enumerate(self.entry):
            key = (e.provider.value, e.item)
            if e.provider is AgencyKind.PORTAL:
                raise ValueError(f"entry {n}: the portal does not provide items")
            if key in seen:
                raise ValueError(f"entry {n}: duplicate of an earlier entry {key}")
            seen.add(key)
        return self


class SelfInformation:
    """The loaded list: the portal's one affair and the (provider kind, item) pairs it may ask."""

    def __init__(
        self,
        version: str,
        affair: str,
        info: Affair,
        entries: tuple[SelfEntry, ...],
        digest: str = "",
    ) -> None:
        self.version = version
        self.requester_kind = AgencyKind.PORTAL.value
        self.affair = affair
        self.info = info
        self.entries = entries
        self.digest = digest
        self._index = {(e.provider.value, e.item): e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def check(self, requester_kind: str, affair: str, provider_kind: str, item: str) -> SelfEntry:
        """The entry permitting the portal's request; ``NotAllowed`` for anything else."""
        entry = self._index.get((provider_kind, item))
        if requester_kind != self.requester_kind or affair != self.affair or entry is None:
            raise NotAllowed(requester_kind, affair, provider_kind, item, self.version)
        return entry


def parse_self_information(data: bytes, origin: str = "<bytes>") -> SelfInformation:
    """Parse and validate the list; ``AllowListInvalid`` with the reason if it is wrong."""
    try:
        raw: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        parsed = _SelfFile.model_validate(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AllowListInvalid(f"{origin}: not valid UTF-8 TOML: {exc}") from None
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<file>'}: {e['msg']}" for e in errors)
        raise AllowListInvalid(f"{origin}: {why}") from None
    return SelfInformation(
        parsed.version,
        parsed.affair,
        parsed.affair_info,
        tuple(parsed.entry),
        hashlib.sha256(data).hexdigest(),
    )


@cache
def default_self_information() -> SelfInformation:
    """The packaged list (``network/data/self_information.toml``), loaded once."""
    data = resources.files("openmyna.network.data").joinpath("self_information.toml")
    return parse_self_information(data.read_bytes(), "self_information.toml")
