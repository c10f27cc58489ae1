"""The allow-list (別表第二): which exchanges the law permits, as versioned data.

An exchange is permitted only if the tuple (requester kind, affair, provider kind,
information item) is listed in ``network/data/allow_list.toml`` (principle 3). Anything else
is refused with :class:`NotAllowed`: deny by default. The file is validated when loaded
(unknown kinds, affairs or items, duplicate entries and missing legal basis are errors), and
lookups are a single dictionary probe.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from openmyna.network.agencies import AgencyKind
from openmyna.network.errors import AllowListInvalid, NotAllowed
from openmyna.network.layouts import ITEMS

__all__ = [
    "Affair",
    "AllowEntry",
    "AllowList",
    "default_allow_list",
    "load_allow_list",
]

_ID_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"


def _known_item(value: str) -> str:
    if value not in ITEMS:
        raise ValueError(f"unknown information item {value!r} (no data standard layout)")
    return value


def _basis(value: str) -> str:
    if not value.strip():
        raise ValueError("the legal basis is empty")
    return value.strip()


AffairId = Annotated[str, Field(pattern=_ID_PATTERN)]
ItemId = Annotated[str, AfterValidator(_known_item)]
Basis = Annotated[str, AfterValidator(_basis)]


class Affair(BaseModel):
    """An affair (事務): the administrative procedure an exchange serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name_ja: Annotated[str, Field(min_length=1)]
    statute: Annotated[str, Field(min_length=1)]  # 根拠法
    source: str = ""  # where in the source documents this affair comes from


class AllowEntry(BaseModel):
    """One permitted exchange: requester kind, affair, provider kind, item and legal basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester: AgencyKind
    affair: AffairId
    provider: AgencyKind
    item: ItemId
    basis: Basis  # legal basis text, e.g. 「番号法 別表第二（…に関する事務）」

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The tuple this entry permits."""
        return (self.requester.value, self.affair, self.provider.value, self.item)


class _AllowListFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal[1] = Field(alias="schema")
    version: Annotated[str, Field(pattern=r"^[0-9]{4}\.[0-9]{1,2}\.[0-9]+$")]
    affairs: dict[AffairId, Affair]
    entry: Annotated[list[AllowEntry], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> _AllowListFile:
        seen: set[tuple[str, str, str, str]] = set()
        used: set[str] = set()
        for n, e in enumerate(self.entry):
            if e.affair not in self.affairs:
                raise ValueError(f"entry {n}: affair {e.affair!r} is not declared in [affairs]")
            if AgencyKind.PORTAL in (e.requester, e.provider):
                # The portal asks only for the person themselves (self_information.toml).
                raise ValueError(f"entry {n}: the portal is not on the allow-list")
            if e.key in seen:
                raise ValueError(f"entry {n}: duplicate of an earlier entry {e.key}")
            seen.add(e.key)
            used.add(e.affair)
        unused = sorted(set(self.affairs) - used)
        if unused:
            raise ValueError(f"affairs without any entry: {', '.join(unused)}")
        return self


class AllowList:
    """A loaded, validated allow-list; deny by default."""

    __slots__ = ("_affairs_by_requester", "_index", "affairs", "digest", "entries", "version")

    def __init__(
        self,
        version: str,
        entries: Iterable[AllowEntry],
        affairs: Mapping[str, Affair],
        digest: str = "",
    ) -> None:
        self.version = version
        self.entries: tuple[AllowEntry, ...] = tuple(entries)
        self.affairs: Mapping[str, Affair] = dict(affairs)
        #: SHA-256 of the file it was loaded from (hex), recorded with decisions.
        self.digest = digest
        self._index: dict[tuple[str, str, str, str], AllowEntry] = {}
        by_requester: dict[str, set[str]] = {}
        for e in self.entries:
            if e.key in self._index:
                raise AllowListInvalid("duplicate allow-list entry", entry=":".join(e.key))
            self._index[e.key] = e
            by_requester.setdefault(e.requester.value, set()).add(e.affair)
        self._affairs_by_requester = {k: frozenset(v) for k, v in by_requester.items()}

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AllowList(version={self.version!r}, entries={len(self.entries)})"

    def lookup(
        self, requester_kind: str, affair: str, provider_kind: str, item: str
    ) -> AllowEntry | None:
        """The entry permitting this tuple, or None."""
        return self._index.get((requester_kind, affair, provider_kind, item))

    def is_allowed(self, requester_kind: str, affair: str, provider_kind: str, item: str) -> bool:
        """Whether the tuple is listed."""
        return (requester_kind, affair, provider_kind, item) in self._index

    def check(self, requester_kind: str, affair: str, provider_kind: str, item: str) -> AllowEntry:
        """The entry permitting this tuple; raise ``NotAllowed`` if none does."""
        entry = self._index.get((requester_kind, affair, provider_kind, item))
        if entry is None:
            raise NotAllowed(requester_kind, affair, provider_kind, item, self.version)
        return entry

    def affairs_for(self, requester_kind: str) -> frozenset[str]:
        """The affairs a requester of this kind may query for (empty if none)."""
        return self._affairs_by_requester.get(requester_kind, frozenset())

    def permitted(self, requester_kind: str, affair: str) -> tuple[AllowEntry, ...]:
        """Every (provider kind, item) entry a requester may use for an affair."""
        return tuple(
            e for e in self.entries if e.requester == requester_kind and e.affair == affair
        )


def _error_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<file>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_allow_list(data: bytes, origin: str = "<bytes>") -> AllowList:
    """Parse and validate allow-list TOML; raise ``AllowListInvalid`` with the reason."""
    try:
        raw: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AllowListInvalid(f"{origin}: not valid UTF-8 TOML: {exc}") from None
    try:
        parsed = _AllowListFile.model_validate(raw)
    except ValidationError as exc:
        raise AllowListInvalid(f"{origin}: {_error_text(exc)}") from None
    return AllowList(parsed.version, parsed.entry, parsed.affairs, hashlib.sha256(data).hexdigest())


def load_allow_list(path: str | Path | None = None) -> AllowList:
    """Load the allow-list from ``path``, or the packaged one when None."""
    if path is None:
        data = resources.files("openmyna.network.data").joinpath("allow_list.toml").read_bytes()
        return parse_allow_list(data, "allow_list.toml")
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AllowListInvalid(f"{p.name}: cannot read: {exc.strerror}") from None
    return parse_allow_list(data, p.name)


@cache
def default_allow_list() -> AllowList:
    """The packaged allow-list, loaded once."""
    return load_allow_list()
