"""The allow-list (別表第二): the seed's examples pass, everything else is refused."""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.errors import OpenMynaError
from openmyna.network.agencies import AgencyKind
from openmyna.network.allow_list import (
    AllowEntry,
    AllowList,
    default_allow_list,
    load_allow_list,
    parse_allow_list,
)
from openmyna.network.errors import AllowListInvalid, NotAllowed
from openmyna.network.layouts import ITEMS

PACKAGED = resources.files("openmyna.network.data").joinpath("allow_list.toml").read_bytes()
RAW = tomllib.loads(PACKAGED.decode())
# The listed tuples, read straight from the file (not through AllowList's index).
LISTED = {(e["requester"], e["affair"], e["provider"], e["item"]) for e in RAW["entry"]}
KINDS = [k.value for k in AgencyKind]
AFFAIRS = sorted(RAW["affairs"])

M, P = "municipality", "prefecture"
# Examples from the seed's tables of documents no longer attached (添付書類の撤廃), written out
# by hand from the seed text, independently of the TOML file.
SEED_EXAMPLES = [
    (M, "child_allowance", M, "local_tax"),  # 課税証明書
    (M, "child_allowance", M, "resident_registry"),  # 住民票
    (M, "child_allowance", "pension_service", "pension"),  # 年金加入証明書
    (M, "nursery_certification", M, "welfare"),
    (M, "nursery_certification", P, "child_rearing_allowance"),
    (M, "nursery_certification", P, "special_child_allowance"),
    (M, "nursery_certification", M, "local_tax"),
    (M, "nursery_certification", P, "disability"),
    ("jasso", "jasso_scholarship", M, "welfare"),
    ("jasso", "jasso_scholarship", "hello_work", "unemployment_insurance"),
    ("jasso", "jasso_scholarship", P, "disability"),
    ("jasso", "jasso_scholarship", M, "local_tax"),
    ("jasso", "jasso_scholarship", "pension_service", "pension"),
    (P, "special_support_education", M, "resident_registry"),
    (P, "special_support_education", M, "local_tax"),
    (P, "special_support_education", P, "welfare"),
    (M, "child_rearing_allowance", M, "local_tax"),
    (P, "child_rearing_allowance", P, "special_child_allowance"),
    (M, "child_rearing_allowance", "pension_service", "pension"),
    (M, "public_assistance", "hello_work", "unemployment_insurance"),
    (P, "public_assistance", M, "child_rearing_allowance"),
    (M, "special_child_allowance", M, "resident_registry"),
    (M, "disability_services", P, "disability"),
    (P, "disability_medical_subsidy", M, "welfare"),
    ("hello_work", "family_care_leave_benefit", M, "resident_registry"),
    (M, "care_insurance_premium_reduction", M, "welfare"),
    ("health_insurance", "childbirth_lump_sum", M, "resident_registry"),
    (M, "public_housing", P, "disability"),
    ("pension_service", "pension_premium_exemption", M, "local_tax"),
    ("pension_service", "pension_premium_exemption", "hello_work", "unemployment_insurance"),
    ("pension_service", "pension_student_deferment", M, "local_tax"),
    ("pension_service", "pension_claim", M, "resident_registry"),
    ("pension_service", "pension_recipient_notifications", M, "local_tax"),
    ("pension_service", "disability_basic_pension_income_check", M, "local_tax"),
    (P, "mental_health_certificate", "pension_service", "pension"),
    (M, "national_health_insurance", "health_insurance", "health_insurance_eligibility"),
]

REFUSED_EXAMPLES = [
    (M, "child_allowance", M, "welfare"),  # not a document of the child allowance
    (M, "child_allowance", "pension_service", "local_tax"),  # wrong provider for the item
    ("jasso", "jasso_scholarship", M, "resident_registry"),
    (M, "jasso_scholarship", M, "local_tax"),  # only JASSO runs the scholarship
    ("pension_service", "pension_student_deferment", M, "resident_registry"),
    ("hello_work", "family_care_leave_benefit", M, "local_tax"),
    ("health_insurance", "childbirth_lump_sum", M, "local_tax"),
    (M, "tax_assessment", M, "local_tax"),  # unknown affair
    ("Municipality", "child_allowance", M, "local_tax"),  # kinds are case-sensitive
    (M, "child_allowance", M, "local_tax "),
    ("", "", "", ""),
]


def test_packaged_list_loads() -> None:
    allow = default_allow_list()
    assert allow.version == RAW["version"]
    assert allow.digest == hashlib.sha256(PACKAGED).hexdigest()
    assert len(allow) == len(RAW["entry"]) == len(LISTED)
    assert {e.key for e in allow.entries} == LISTED
    assert default_allow_list() is allow
    assert load_allow_list().digest == allow.digest


@pytest.mark.parametrize("tuple_", SEED_EXAMPLES, ids=lambda t: f"{t[1]}-{t[3]}")
def test_seed_examples_are_allowed(tuple_: tuple[str, str, str, str]) -> None:
    allow = default_allow_list()
    entry = allow.check(*tuple_)
    assert isinstance(entry, AllowEntry)
    assert entry.key == tuple_
    assert entry.basis.startswith("番号法 別表第二（")
    assert allow.is_allowed(*tuple_)
    assert allow.lookup(*tuple_) is entry


@pytest.mark.parametrize("tuple_", REFUSED_EXAMPLES)
def test_unlisted_examples_are_refused(tuple_: tuple[str, str, str, str]) -> None:
    allow = default_allow_list()
    with pytest.raises(NotAllowed) as info:
        allow.check(*tuple_)
    err = info.value
    assert isinstance(err, OpenMynaError)
    assert err.code == "NOT_ALLOWED"
    assert err.http_status == 403
    assert (err.requester_kind, err.affair, err.provider_kind, err.item) == tuple_
    assert err.context["allow_list_version"] == allow.version
    assert err.problem()["status"] == 403
    assert not allow.is_allowed(*tuple_)
    assert allow.lookup(*tuple_) is None


def test_every_combination_of_known_names() -> None:
    # Exhaustive over the known vocabulary: exactly the listed tuples pass.
    allow = default_allow_list()
    passed = set()
    for t in itertools.product(KINDS, AFFAIRS, KINDS, sorted(ITEMS)):
        if allow.is_allowed(*t):
            passed.add(t)
            assert allow.check(*t).key == t
        else:
            with pytest.raises(NotAllowed):
                allow.check(*t)
    assert passed == LISTED


names = st.sampled_from(KINDS + AFFAIRS + sorted(ITEMS)) | st.text(max_size=12)


@given(
    st.one_of(st.sampled_from(KINDS), names),
    st.one_of(st.sampled_from(AFFAIRS), names),
    st.one_of(st.sampled_from(KINDS), names),
    st.one_of(st.sampled_from(sorted(ITEMS)), names),
)
def test_random_tuples_pass_only_if_listed(r: str, a: str, p: str, i: str) -> None:
    allow = default_allow_list()
    listed = (r, a, p, i) in LISTED
    assert allow.is_allowed(r, a, p, i) is listed
    if listed:
        assert allow.check(r, a, p, i).key == (r, a, p, i)
    else:
        with pytest.raises(NotAllowed):
            allow.check(r, a, p, i)


def test_refusal_truncates_long_input() -> None:
    with pytest.raises(NotAllowed) as info:
        default_allow_list().check("x" * 1000, "child_allowance", M, "local_tax")
    assert len(info.value.context["requester_kind"]) == 64


def test_affairs_for() -> None:
    allow = default_allow_list()
    assert allow.affairs_for("jasso") == {"jasso_scholarship"}
    assert allow.affairs_for(AgencyKind.HELLO_WORK) == {"family_care_leave_benefit"}
    assert allow.affairs_for("health_insurance") == {"childbirth_lump_sum"}
    assert "child_allowance" in allow.affairs_for(M)
    assert "child_allowance" not in allow.affairs_for(P)
    assert allow.affairs_for("nobody") == frozenset()
    for kind in KINDS:
        expected = {e["affair"] for e in RAW["entry"] if e["requester"] == kind}
        assert allow.affairs_for(kind) == expected


def test_permitted_for_child_allowance() -> None:
    got = {(e.provider, e.item) for e in default_allow_list().permitted(M, "child_allowance")}
    assert got == {(M, "local_tax"), (M, "resident_registry"), ("pension_service", "pension")}


def test_every_item_has_a_layout_and_every_affair_is_used() -> None:
    allow = default_allow_list()
    assert {e.item for e in allow.entries} <= ITEMS
    assert {e.affair for e in allow.entries} == set(allow.affairs)
    for affair in allow.affairs.values():
        assert affair.name_ja
        assert affair.statute
        assert affair.source


# --- validation at load ---------------------------------------------------------------------

HEADER = """schema = 1
version = "2026.1.0"
[affairs.child_allowance]
name_ja = "児童手当の支給"
statute = "児童手当法"
"""
ENTRY = """
[[entry]]
requester = "{r}"
affair = "{a}"
provider = "{p}"
item = "{i}"
basis = "{b}"
"""


def _entry(
    r: str = M,
    a: str = "child_allowance",
    p: str = M,
    i: str = "local_tax",
    b: str = "番号法 別表第二（児童手当法による児童手当の支給に関する事務）",
) -> str:
    return ENTRY.format(r=r, a=a, p=p, i=i, b=b)


def test_minimal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "allow.toml"
    path.write_text(HEADER + _entry(), encoding="utf-8")
    allow = load_allow_list(path)
    assert allow.version == "2026.1.0"
    assert allow.check(M, "child_allowance", M, "local_tax").affair == "child_allowance"
    with pytest.raises(NotAllowed):
        allow.check(M, "child_allowance", M, "resident_registry")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (HEADER + _entry(r="city_hall"), "entry.0.requester"),
        (HEADER + _entry(p="bank"), "entry.0.provider"),
        (HEADER + _entry(i="bank_balance"), "unknown information item"),
        (HEADER + _entry(a="tax_assessment"), "not declared in [affairs]"),
        (HEADER + _entry() + _entry(), "duplicate"),
        (HEADER + _entry(b=""), "legal basis is empty"),
        (HEADER + _entry(b="   "), "legal basis is empty"),
        (
            HEADER
            + _entry().replace(
                'basis = "番号法 別表第二（児童手当法による児童手当の支給に関する事務）"\n', ""
            ),
            "entry.0.basis",
        ),
        (HEADER + _entry() + 'colour = "red"\n', "entry.0.colour"),
        (HEADER.replace('"2026.1.0"', '"latest"') + _entry(), "version"),
        (HEADER.replace("schema = 1", "schema = 2") + _entry(), "schema"),
        (HEADER, "entry"),
        (
            HEADER + '[affairs.extra]\nname_ja = "x"\nstatute = "y"\n' + _entry(),
            "without any entry",
        ),
        (
            HEADER.replace('statute = "児童手当法"\n', "") + _entry(),
            "affairs.child_allowance.statute",
        ),
        (HEADER + "[[entry]\n", "not valid UTF-8 TOML"),
    ],
)
def test_malformed_files_are_rejected(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "allow.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AllowListInvalid) as info:
        load_allow_list(path)
    assert info.value.code == "INVALID_ALLOW_LIST"
    assert needle in info.value.message
    assert info.value.message.startswith("allow.toml: ")


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AllowListInvalid, match="UTF-8"):
        parse_allow_list(b'version = "\xff"')
    with pytest.raises(AllowListInvalid, match="cannot read"):
        load_allow_list(tmp_path / "absent.toml")


def test_duplicate_entries_given_in_code_are_rejected() -> None:
    e = AllowEntry(
        requester=AgencyKind.MUNICIPALITY,
        affair="child_allowance",
        provider=AgencyKind.MUNICIPALITY,
        item="local_tax",
        basis="番号法 別表第二",
    )
    with pytest.raises(AllowListInvalid):
        AllowList("1", [e, e], {})
