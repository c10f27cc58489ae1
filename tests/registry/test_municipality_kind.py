"""The kind of a municipality (団体区分) from its local government code."""

from __future__ import annotations

import pytest

from openmyna.registry import (
    InvalidLgCode,
    MunicipalityKind,
    find_municipality,
    known_municipalities,
    municipality_kind,
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("131032", MunicipalityKind.SPECIAL_WARD),  # 東京都港区
        ("131237", MunicipalityKind.SPECIAL_WARD),  # 東京都江戸川区
        ("281000", MunicipalityKind.DESIGNATED_CITY),  # 神戸市
        ("141500", MunicipalityKind.DESIGNATED_CITY),  # 相模原市 (designated 2010)
        ("271004", MunicipalityKind.DESIGNATED_CITY),  # 大阪市
        ("102016", MunicipalityKind.CITY),  # 前橋市
        ("132055", MunicipalityKind.CITY),  # 東京都青梅市: a city in Tokyo, not a ward
        ("153818", MunicipalityKind.TOWN_VILLAGE),  # body 381: a town or village of a county
        ("447005", MunicipalityKind.TOWN_VILLAGE),  # body 700, the highest range
    ],
)
def test_the_code_says_the_kind(code: str, kind: MunicipalityKind) -> None:
    assert municipality_kind(code) is kind


def test_every_known_municipality_has_a_kind() -> None:
    kinds = {m.lg_code: m.kind for m in known_municipalities()}
    assert kinds["131067"] is MunicipalityKind.SPECIAL_WARD  # 台東区
    assert find_municipality("282014").kind is MunicipalityKind.CITY  # 姫路市
    assert set(kinds.values()) >= {
        MunicipalityKind.SPECIAL_WARD,
        MunicipalityKind.DESIGNATED_CITY,
        MunicipalityKind.CITY,
    }


@pytest.mark.parametrize("code", ["130001", "12345", "102017"])
def test_a_prefecture_or_a_bad_code_is_refused(code: str) -> None:
    with pytest.raises(InvalidLgCode):
        municipality_kind(code)
