"""Data standard layouts (データ標準レイアウト): round trips and refusal of malformed data."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmyna.errors import OpenMynaError
from openmyna.network.allow_list import default_allow_list
from openmyna.network.errors import MalformedItem, UnknownLayout
from openmyna.network.item_layout import MAX_FISCAL_YEAR, MIN_FISCAL_YEAR, ItemLayout
from openmyna.network.layouts import ITEMS, LAYOUTS, latest_version, layout_for, validate_item
from openmyna.network.local_layouts import LocalTaxInfo

LG_A = "131016"  # 千代田区 (valid check digit)
LG_B = "011002"  # 札幌市

SAMPLES: dict[str, dict[str, Any]] = {
    "local_tax": {
        "as_of": "2025-06-01",
        "fiscal_year": 2025,
        "levying_lg_code": LG_A,
        "status": "taxed",
        "income_categories": ["salary", "business"],
        "total_income": 4_200_000,
        "taxable_income": 2_900_000,
        "municipal_tax": 174_000,
        "prefectural_tax": 116_000,
        "dependants": {"spouse": True, "under_16": 2, "specified": 1},
    },
    "resident_registry": {
        "as_of": "2026-01-01",
        "lg_code": LG_B,
        "status": "resident",
        "resident_since": "2019-04-01",
        "members": [
            {"relationship": "head", "birth_year": 1985, "subject": True},
            {"relationship": "spouse", "birth_year": 1987},
            {"relationship": "child", "birth_year": 2016},
            {"relationship": "child", "birth_year": 2020},
        ],
    },
    "welfare": {
        "as_of": "2026-01-01",
        "receiving": True,
        "started_on": "2024-05-01",
        "assistance_types": ["living", "housing"],
    },
    "disability": {
        "as_of": "2026-01-01",
        "certificates": [
            {"kind": "physical", "grade": 2, "issued_on": "2010-01-05"},
            {
                "kind": "mental",
                "grade": 3,
                "issued_on": "2025-03-01",
                "valid_until": "2027-03-31",
            },
            {"kind": "intellectual", "level": "B", "issued_on": "2001-07-07"},
        ],
    },
    "unemployment_insurance": {
        "as_of": "2026-02-01",
        "insured": False,
        "separated_on": "2025-12-31",
        "separation_reason": "employer",
        "benefit_status": "receiving",
        "daily_benefit": 6_120,
        "prescribed_days": 180,
        "remaining_days": 150,
    },
    "pension": {
        "as_of": "2026-01-01",
        "insured_category": "not_insured",
        "payments": [
            {"kind": "disability_basic", "annual_amount": 1_020_000, "disability_grade": 1},
            {"kind": "old_age_employees", "annual_amount": 600_000},
        ],
    },
    "health_insurance_eligibility": {
        "as_of": "2026-01-01",
        "insurer_kind": "society",
        "insurer_number": "06139999",
        "relation": "insured",
        "acquired_on": "2015-04-01",
        "lost_on": "2025-12-31",
    },
    "child_rearing_allowance": {
        "as_of": "2026-01-01",
        "certified": True,
        "certified_on": "2023-08-01",
        "payment_status": "partial",
        "monthly_amount": 31_000,
        "eligible_children": 2,
    },
    "special_child_allowance": {
        "as_of": "2026-01-01",
        "certified": True,
        "certified_on": "2022-04-01",
        "payment_status": "full",
        "monthly_amount": 56_800,
        "child_grades": [1],
    },
}

# One or more (path, bad value) per layout; path is a list of keys/indices into the sample.
Path = tuple[str | int, ...]
BAD: list[tuple[str, Path, Any, str]] = [
    ("local_tax", ("fiscal_year",), MIN_FISCAL_YEAR - 1, "greater_than_equal"),
    ("local_tax", ("fiscal_year",), MAX_FISCAL_YEAR + 1, "less_than_equal"),
    ("local_tax", ("fiscal_year",), "2025", "int_type"),
    ("local_tax", ("municipal_tax",), -1, "greater_than_equal"),
    ("local_tax", ("municipal_tax",), 174_000.5, "int_type"),
    ("local_tax", ("municipal_tax",), "174000", "int_type"),
    ("local_tax", ("total_income",), 10**14, "less_than_equal"),
    (
        "local_tax",
        ("taxable_income",),
        5_000_000,
        "taxable income exceeds total income",
    ),  # above total income
    (
        "local_tax",
        ("status",),
        "non_taxable",
        "a non-taxable person has no tax amounts",
    ),  # with tax amounts
    ("local_tax", ("status",), "exempt", "enum"),
    (
        "local_tax",
        ("levying_lg_code",),
        "131017",
        "not a valid local government code",
    ),  # check digit
    ("local_tax", ("levying_lg_code",), 131016, "string_type"),
    ("local_tax", ("income_categories",), ["salary", "salary"], "values repeat"),
    ("local_tax", ("dependants", "general"), -2, "greater_than_equal"),
    ("local_tax", ("dependants", "spouse"), "yes", "bool_type"),
    (
        "local_tax",
        ("as_of",),
        "2023-12-31",
        "as_of precedes the income year",
    ),  # before the income year 2024
    (
        "resident_registry",
        ("members", 0, "subject"),
        False,
        "exactly one member is the subject",
    ),  # no subject
    (
        "resident_registry",
        ("members", 1, "relationship"),
        "head",
        "a household has exactly one head",
    ),  # two heads
    (
        "resident_registry",
        ("members", 2, "birth_year"),
        2027,
        "a member is born after as_of",
    ),  # born after as_of
    ("resident_registry", ("members", 2, "relationship"), "cousin", "enum"),
    ("resident_registry", ("members",), [], "too_short"),
    (
        "resident_registry",
        ("status",),
        "moved_out",
        "left_on is set exactly when the person is no longer resident",
    ),  # without left_on
    ("resident_registry", ("resident_since",), "2026-02-01", "resident_since is after as_of"),
    ("resident_registry", ("lg_code",), "1100", "string_pattern_mismatch"),
    ("welfare", ("assistance_types",), [], "receiving assistance needs a start date and a type"),
    ("welfare", ("assistance_types",), ["living", "charity"], "enum"),
    ("welfare", ("started_on",), None, "receiving assistance needs a start date and a type"),
    ("welfare", ("receiving",), 1, "bool_type"),
    ("welfare", ("started_on",), "2026-05-01", "started_on is after as_of"),
    ("disability", ("certificates", 0, "grade"), 7, "less_than_equal"),
    ("disability", ("certificates", 0, "grade"), 0, "greater_than_equal"),
    ("disability", ("certificates", 1, "grade"), 4, "less_than_equal"),
    ("disability", ("certificates", 1, "valid_until"), None, "date_type"),
    (
        "disability",
        ("certificates", 1, "valid_until"),
        "2020-01-01",
        "valid_until precedes issued_on",
    ),
    ("disability", ("certificates", 2, "level"), "C", "literal_error"),
    (
        "disability",
        ("certificates", 2, "kind"),
        "physical",
        "extra_forbidden",
    ),  # duplicate kind / no grade
    (
        "disability",
        ("certificates", 0, "issued_on"),
        "2030-01-01",
        "a certificate is issued after as_of",
    ),
    ("unemployment_insurance", ("remaining_days",), 200, "remaining_days exceeds prescribed_days"),
    ("unemployment_insurance", ("prescribed_days",), 400, "less_than_equal"),
    (
        "unemployment_insurance",
        ("separation_reason",),
        None,
        "separated_on and separation_reason come together",
    ),
    ("unemployment_insurance", ("daily_benefit",), -6120, "greater_than_equal"),
    (
        "unemployment_insurance",
        ("benefit_status",),
        "none",
        "no benefit figures without a claim",
    ),  # with benefit figures
    ("unemployment_insurance", ("separated_on",), "2026-03-01", "separated_on is after as_of"),
    (
        "pension",
        ("payments", 0, "disability_grade"),
        3,
        "a disability pension needs a grade in its range",
    ),  # basic: grades 1-2
    (
        "pension",
        ("payments", 0, "disability_grade"),
        None,
        "a disability pension needs a grade in its range",
    ),
    ("pension", ("payments", 1, "disability_grade"), 1, "only disability pensions have a grade"),
    (
        "pension",
        ("payments", 1, "kind"),
        "disability_basic",
        "a disability pension needs a grade in its range",
    ),
    ("pension", ("payments", 0, "annual_amount"), -1, "greater_than_equal"),
    (
        "pension",
        ("premium_exemption",),
        "full",
        "premium exemption applies to category 1 only",
    ),  # not category 1
    ("pension", ("insured_category",), "category_4", "enum"),
    ("health_insurance_eligibility", ("insurer_number",), "138", "string_pattern_mismatch"),
    (
        "health_insurance_eligibility",
        ("insurer_number",),
        "123456",
        "national health insurance numbers have 6 digits, others 8",
    ),  # 6 digits: NHI only
    (
        "health_insurance_eligibility",
        ("insurer_kind",),
        "national_health_insurance",
        "national health insurance numbers have 6 digits, others 8",
    ),
    ("health_insurance_eligibility", ("lost_on",), "2014-01-01", "lost_on precedes acquired_on"),
    ("health_insurance_eligibility", ("as_of",), "2015-01-01", "acquired_on is after as_of"),
    (
        "child_rearing_allowance",
        ("certified_on",),
        None,
        "certified_on is set exactly when certified",
    ),
    (
        "child_rearing_allowance",
        ("eligible_children",),
        0,
        "a certified allowance has a payment status and children",
    ),
    (
        "child_rearing_allowance",
        ("monthly_amount",),
        0,
        "monthly_amount is positive exactly when paying",
    ),
    (
        "child_rearing_allowance",
        ("payment_status",),
        "suspended",
        "monthly_amount is positive exactly when paying",
    ),  # but paid
    (
        "child_rearing_allowance",
        ("certified",),
        False,
        "certified_on is set exactly when certified",
    ),
    ("special_child_allowance", ("child_grades",), [3], "less_than_equal"),
    (
        "special_child_allowance",
        ("child_grades",),
        [],
        "a certified allowance has a payment status and children",
    ),
    ("special_child_allowance", ("monthly_amount",), -56_800, "greater_than_equal"),
]


def _set(payload: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def test_every_allow_list_item_has_a_layout() -> None:
    used = {e.item for e in default_allow_list().entries}
    assert used <= set(LAYOUTS)
    assert used == ITEMS  # and no layout is orphaned
    assert set(SAMPLES) == ITEMS


def test_registry_is_consistent() -> None:
    for item, versions in LAYOUTS.items():
        assert versions
        for version, cls in versions.items():
            assert issubclass(cls, ItemLayout)
            assert cls.item == item
            assert cls.version == version
            assert cls.name_ja.endswith("情報")
        assert layout_for(item) is versions[latest_version(item)]


@pytest.mark.parametrize("item", sorted(ITEMS))
def test_sample_round_trips_through_json(item: str) -> None:
    version = latest_version(item)
    model = validate_item(item, version, SAMPLES[item])
    assert type(model) is layout_for(item, version)
    wire = json.dumps(model.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    again = validate_item(item, version, json.loads(wire))
    assert again == model
    assert json.dumps(again.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) == wire
    assert type(model).model_validate_json(model.model_dump_json()) == model


@pytest.mark.parametrize("item", sorted(ITEMS))
def test_extra_fields_are_forbidden(item: str) -> None:
    payload = dict(SAMPLES[item], name="山田太郎")
    with pytest.raises(MalformedItem) as info:
        validate_item(item, 1, payload)
    assert "name: extra_forbidden" in info.value.context["errors"]


@pytest.mark.parametrize("item", sorted(ITEMS))
def test_missing_as_of_is_refused(item: str) -> None:
    payload = {k: v for k, v in SAMPLES[item].items() if k != "as_of"}
    with pytest.raises(MalformedItem, match="does not match"):
        validate_item(item, 1, payload)


@pytest.mark.parametrize(("item", "path", "value", "why"), BAD, ids=lambda v: str(v))
def test_malformed_values_are_refused(item: str, path: Path, value: Any, why: str) -> None:
    payload = _set(SAMPLES[item], path, value)
    with pytest.raises(MalformedItem) as info:
        validate_item(item, 1, payload)
    err = info.value
    assert isinstance(err, OpenMynaError)
    assert err.code == "MALFORMED_ITEM"
    assert err.http_status == 502
    assert err.context["item"] == item
    assert why in err.context["errors"]


def test_error_text_never_echoes_the_data() -> None:
    secret = "123456789018"  # a 12-digit value where a code is expected
    payload = _set(SAMPLES["local_tax"], ("levying_lg_code",), secret)
    payload["remark"] = "山田太郎 " + secret
    with pytest.raises(MalformedItem) as info:
        validate_item("local_tax", 1, payload)
    text = info.value.diagnostics() + json.dumps(info.value.problem(), ensure_ascii=False)
    assert secret not in text
    assert "山田" not in text
    assert "levying_lg_code" in text
    assert "remark" in text


def test_unknown_layouts_and_non_objects() -> None:
    with pytest.raises(UnknownLayout):
        validate_item("bank_balance", 1, {})
    with pytest.raises(UnknownLayout):
        validate_item("local_tax", 99, SAMPLES["local_tax"])
    with pytest.raises(UnknownLayout):
        latest_version("bank_balance")
    with pytest.raises(MalformedItem, match="not an object"):
        validate_item("local_tax", 1, [SAMPLES["local_tax"]])


def test_sets_serialise_sorted() -> None:
    a = validate_item(
        "welfare", 1, _set(SAMPLES["welfare"], ("assistance_types",), ["medical", "living"])
    )
    b = validate_item(
        "welfare", 1, _set(SAMPLES["welfare"], ("assistance_types",), ["living", "medical"])
    )
    assert a == b
    assert a.model_dump(mode="json")["assistance_types"] == ["living", "medical"]


def test_local_tax_helpers_and_non_taxable() -> None:
    model = validate_item("local_tax", 1, SAMPLES["local_tax"])
    assert isinstance(model, LocalTaxInfo)
    assert model.income_year == 2024
    assert model.dependants.total == 4
    zero = dict(SAMPLES["local_tax"], status="non_taxable", municipal_tax=0, prefectural_tax=0)
    untaxed = validate_item("local_tax", 1, zero)
    assert isinstance(untaxed, LocalTaxInfo)
    assert untaxed.status == "non_taxable"


def test_frozen() -> None:
    model = validate_item("local_tax", 1, SAMPLES["local_tax"])
    assert isinstance(model, LocalTaxInfo)
    with pytest.raises(ValueError, match="frozen"):
        model.municipal_tax = 0  # type: ignore[misc]


yen_like = st.one_of(st.integers(-10, 10**14), st.floats(allow_nan=False), st.text(max_size=5))


@given(total=yen_like, taxable=yen_like, municipal=yen_like, year=st.integers(1990, 2110))
def test_local_tax_accepts_exactly_the_valid_figures(
    total: Any, taxable: Any, municipal: Any, year: int
) -> None:
    payload = dict(
        SAMPLES["local_tax"],
        as_of=f"{max(year, 1990)}-06-01",
        fiscal_year=year,
        total_income=total,
        taxable_income=taxable,
        municipal_tax=municipal,
    )

    def yen(v: Any) -> bool:
        return type(v) is int and 0 <= v <= 10**13

    valid = (
        yen(total)
        and yen(taxable)
        and yen(municipal)
        and MIN_FISCAL_YEAR <= year <= MAX_FISCAL_YEAR
        and taxable <= total
    )
    if valid:
        model = validate_item("local_tax", 1, payload)
        assert isinstance(model, LocalTaxInfo)
        assert model.total_income == total
    else:
        with pytest.raises(MalformedItem):
            validate_item("local_tax", 1, payload)
