"""Agencies on the Information Provision Network (情報提供ネットワークシステム).

Each agency (a municipality, a prefecture, the pension service, a health-insurance society,
Hello Work, JASSO, …) has a stable id, a kind that the allow-list (別表第二) refers to and a
name. Municipalities come from the registry's data file (``known_municipalities()``) with the
id ``lg-<lg_code>``; every other agency comes from ``network/data/agencies.toml``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from openmyna.network.errors import InvalidAgencyData, UnknownAgency
from openmyna.registry import known_municipalities, validate_lg_code

_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
MUNICIPALITY_PREFIX = "lg-"


class AgencyKind(StrEnum):
    """What kind of body an agency is; the allow-list names requesters and providers by kind."""

    MUNICIPALITY = "municipality"  # 市区町村
    PREFECTURE = "prefecture"  # 都道府県
    PENSION_SERVICE = "pension_service"  # 日本年金機構
    HEALTH_INSURANCE = "health_insurance"  # 医療保険者 (健康保険組合, 協会けんぽ, …)
    MUTUAL_AID = "mutual_aid"  # 共済組合
    HELLO_WORK = "hello_work"  # 公共職業安定所 (雇用保険)
    JASSO = "jasso"  # 独立行政法人日本学生支援機構
    #: マイナポータル (情報提供等記録開示システム, デジタル庁): shows a person the records of
    #: exchanges about them (番号法 第23条) and their own information (番号法 附則第6条第3項);
    #: it asks for the person, not under the allow-list's affairs.
    PORTAL = "portal"


@dataclass(frozen=True)
class Agency:
    """One agency: id (``lg-102016``, ``nenkin``), kind, name and, for local bodies, lg_code."""

    id: str
    kind: AgencyKind
    name: str
    lg_code: str | None = None

    def __post_init__(self) -> None:
        if not _AGENCY_ID.match(self.id):
            raise InvalidAgencyData("an agency id is 2-40 of a-z, 0-9 and '-'", agency=self.id)
        if not self.name:
            raise InvalidAgencyData("an agency needs a name", agency=self.id)
        local = self.kind in (AgencyKind.MUNICIPALITY, AgencyKind.PREFECTURE)
        if local != (self.lg_code is not None):
            raise InvalidAgencyData(
                "municipalities and prefectures, and only they, have an lg_code", agency=self.id
            )
        if self.lg_code is not None:
            validate_lg_code(self.lg_code)
            if self.id != municipality_agency_id(self.lg_code):
                raise InvalidAgencyData("a local body's id is 'lg-<lg_code>'", agency=self.id)
            is_prefecture = self.lg_code[2:5] == "000"
            if is_prefecture != (self.kind is AgencyKind.PREFECTURE):
                raise InvalidAgencyData("prefecture codes end in 000 + check digit", agency=self.id)


def municipality_agency_id(lg_code: str) -> str:
    """The agency id of a municipality or prefecture: ``lg-`` and its local government code."""
    return MUNICIPALITY_PREFIX + validate_lg_code(lg_code)


class AgencyDirectory(Mapping[str, Agency]):
    """The agencies the hub knows, by id (read-only)."""

    def __init__(self, agencies: Iterable[Agency]) -> None:
        by_id: dict[str, Agency] = {}
        for a in agencies:
            if a.id in by_id:
                raise InvalidAgencyData("agency id listed twice", agency=a.id)
            by_id[a.id] = a
        self._by_id = by_id

    def __getitem__(self, agency_id: str) -> Agency:
        return self._by_id[agency_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get_agency(self, agency_id: str) -> Agency:
        """The agency with that id, or ``UNKNOWN_AGENCY``."""
        try:
            return self._by_id[agency_id]
        except (KeyError, TypeError):
            raise UnknownAgency("no agency with that id on the network") from None

    def of_kind(self, kind: AgencyKind | str) -> list[Agency]:
        """Every agency of one kind, by id."""
        k = AgencyKind(kind)
        return sorted((a for a in self._by_id.values() if a.kind is k), key=lambda a: a.id)

    @classmethod
    def default(cls) -> AgencyDirectory:
        """The municipalities of the registry's data file plus ``network/data/agencies.toml``."""
        return _default_directory()


def _parse(raw: Mapping[str, object]) -> list[Agency]:
    rows = raw.get("agency", [])
    if not isinstance(rows, list):
        raise InvalidAgencyData("agencies.toml: [[agency]] tables expected")
    out: list[Agency] = []
    for row in rows:
        if not isinstance(row, dict):
            raise InvalidAgencyData("agencies.toml: each agency is a table")
        try:
            kind = AgencyKind(str(row["kind"]))
            agency = Agency(
                id=str(row["id"]),
                kind=kind,
                name=str(row["name"]),
                lg_code=None if row.get("lg_code") is None else str(row["lg_code"]),
            )
        except KeyError as exc:
            raise InvalidAgencyData(f"agencies.toml: missing field {exc.args[0]}") from None
        except ValueError:
            raise InvalidAgencyData(
                "agencies.toml: unknown agency kind", agency=row.get("id")
            ) from None
        if kind is AgencyKind.MUNICIPALITY:
            raise InvalidAgencyData(
                "municipalities come from the registry's data file", agency=agency.id
            )
        out.append(agency)
    return out


def load_agencies(text: str | None = None) -> list[Agency]:
    """Every agency: the registry's municipalities, then the agencies file (or ``text``)."""
    if text is None:
        text = (
            resources.files("openmyna.network")
            .joinpath("data/agencies.toml")
            .read_text(encoding="utf-8")
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise InvalidAgencyData("agencies.toml is not valid TOML") from None
    municipalities = [
        Agency(
            id=municipality_agency_id(m.lg_code),
            kind=AgencyKind.MUNICIPALITY,
            name=m.full_name,
            lg_code=m.lg_code,
        )
        for m in known_municipalities()
        if m.lg_code[2:5] != "000"
    ]
    return municipalities + _parse(raw)


@cache
def _default_directory() -> AgencyDirectory:
    return AgencyDirectory(load_agencies())


def find_agency(agency_id: str) -> Agency:
    """The agency with that id in the default directory, or ``UNKNOWN_AGENCY``."""
    return AgencyDirectory.default().get_agency(agency_id)
