"""Agencies on the network: municipalities from the registry's data file, the rest from ours."""

from __future__ import annotations

import pytest

from openmyna.network.agencies import (
    Agency,
    AgencyDirectory,
    AgencyKind,
    find_agency,
    load_agencies,
    municipality_agency_id,
)
from openmyna.network.errors import InvalidAgencyData, UnknownAgency
from openmyna.registry import InvalidLgCode, known_municipalities


def test_every_registry_municipality_is_an_agency() -> None:
    d = AgencyDirectory.default()
    for m in known_municipalities():
        a = d.get_agency(f"lg-{m.lg_code}")
        assert (a.kind, a.lg_code, a.name) == (AgencyKind.MUNICIPALITY, m.lg_code, m.full_name)
    assert len(d.of_kind("municipality")) == len(known_municipalities())


def test_the_other_agencies_and_their_kinds() -> None:
    assert find_agency("nenkin") == Agency("nenkin", AgencyKind.PENSION_SERVICE, "日本年金機構")
    assert find_agency("jasso").kind is AgencyKind.JASSO
    assert find_agency("hellowork").kind is AgencyKind.HELLO_WORK
    assert find_agency("lg-130001").name == "東京都"
    assert find_agency("lg-130001").kind is AgencyKind.PREFECTURE
    assert find_agency("myna-portal").kind is AgencyKind.PORTAL
    assert len(AgencyDirectory.default().of_kind(AgencyKind.PREFECTURE)) == 47
    assert {k.value for k in AgencyKind} == {
        "municipality",
        "prefecture",
        "pension_service",
        "health_insurance",
        "mutual_aid",
        "hello_work",
        "jasso",
        "portal",
    }
    for kind in AgencyKind:
        assert AgencyDirectory.default().of_kind(kind), kind


def test_unknown_agencies_are_refused_with_a_stable_code() -> None:
    for bad in ("nowhere", "lg-999999", "", "NENKIN"):
        with pytest.raises(UnknownAgency) as e:
            find_agency(bad)
        assert e.value.code == "UNKNOWN_AGENCY"


def test_municipality_ids_check_the_code() -> None:
    assert municipality_agency_id("102016") == "lg-102016"
    with pytest.raises(InvalidLgCode):
        municipality_agency_id("102017")


@pytest.mark.parametrize(
    "toml",
    [
        '[[agency]]\nid = "x"\nkind = "jasso"\nname = "n"',  # id too short
        '[[agency]]\nid = "abc"\nkind = "ministry"\nname = "n"',  # unknown kind
        '[[agency]]\nid = "abc"\nkind = "jasso"',  # no name
        '[[agency]]\nid = "lg-102016"\nkind = "municipality"\nname = "n"\nlg_code = "102016"',
        '[[agency]]\nid = "lg-130001"\nkind = "prefecture"\nname = "n"',  # no lg_code
        '[[agency]]\nid = "lg-102016"\nkind = "prefecture"\nname = "n"\nlg_code = "102016"',
        '[[agency]]\nid = "lg-100005"\nkind = "prefecture"\nname = "n"\nlg_code = "130001"',
        '[[agency]]\nid = "abc"\nkind = "jasso"\nname = "n"\n[[agency]]\nid = "abc"\n'
        'kind = "jasso"\nname = "m"',  # listed twice
        "[[agency",
    ],
)
def test_a_malformed_agencies_file_is_refused(toml: str) -> None:
    with pytest.raises((InvalidAgencyData, InvalidLgCode)):
        AgencyDirectory(load_agencies(toml))
