"""Local government codes (全国地方公共団体コード) and the municipality data file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from openmyna.registry import (
    InvalidLgCode,
    MunicipalityNotFound,
    find_municipality,
    known_municipalities,
    lg_check_digit,
    validate_lg_code,
)

# The source documents (Japanese government papers) lie in shared/ beside the repository root.
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "001_5fe514f087376edb.txt"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _check(five: str) -> str:
    # Independent restatement of the rule: weights 6..2, mod 11, last digit of 11 - r.
    r = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True)) % 11
    return str(11 - r)[-1]


@pytest.mark.parametrize(
    ("code", "name"),
    [("102016", "前橋市"), ("281000", "神戸市"), ("130001", "東京都")],
)
def test_documented_examples_are_valid(code: str, name: str) -> None:
    assert validate_lg_code(code) == code
    assert lg_check_digit(code[:5]) == code[5]


def test_check_digit_wraps_10_and_11() -> None:
    # 神戸市 28100: r = 56 mod 11 = 1, 11 - 1 = 10 -> 0.
    assert lg_check_digit("28100") == "0"
    # r = 0: 11 - 0 = 11 -> 1.
    assert lg_check_digit("00000") == "1"
    assert lg_check_digit("20000") == "0"  # 12 mod 11 = 1
    for five in ("13000", "10201", "45202", "99999", "12345"):
        assert lg_check_digit(five) == _check(five)


@pytest.mark.parametrize("bad", ["102015", "10201", "1020160", "10201a", "", "１０２０１６"])
def test_invalid_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidLgCode) as info:
        validate_lg_code(bad)
    assert info.value.code == "INVALID_LG_CODE"


def test_every_code_in_the_data_file_has_a_correct_check_digit() -> None:
    rows = known_municipalities()
    assert len(rows) >= 10
    for m in rows:
        assert re.fullmatch(r"\d{6}", m.lg_code)
        assert _check(m.lg_code[:5]) == m.lg_code[5], m.full_name
    assert len({m.lg_code for m in rows}) == len(rows)


@pytest.mark.parametrize(
    ("code", "prefecture", "name"),
    [
        ("102016", "群馬県", "前橋市"),
        ("452025", "宮崎県", "都城市"),
        ("281000", "兵庫県", "神戸市"),
        ("372013", "香川県", "高松市"),
        ("282014", "兵庫県", "姫路市"),
        ("131032", "東京都", "港区"),
        ("131067", "東京都", "台東区"),
        ("131024", "東京都", "中央区"),
        ("292052", "奈良県", "橿原市"),
        ("292095", "奈良県", "生駒市"),
        ("282065", "兵庫県", "芦屋市"),
        ("132055", "東京都", "青梅市"),
    ],
)
def test_required_municipalities_are_listed(code: str, prefecture: str, name: str) -> None:
    m = find_municipality(code)
    assert (m.prefecture, m.name) == (prefecture, name)
    assert m.population > 0


def test_documented_populations_match_the_source_table() -> None:
    if not SEEDS.exists():
        reason = f"source documents not available at {SEEDS}"
        if IN_CI:
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)
    text = SEEDS.read_text(encoding="utf-8")
    checked = 0
    for m in known_municipalities():
        if m.population_source != "documents":
            continue
        line = re.search(rf"^{m.prefecture}{m.name} ([\d,]+) ", text, re.MULTILINE)
        assert line is not None, m.full_name
        assert int(line.group(1).replace(",", "")) == m.population
        checked += 1
    assert checked >= 8


def test_unknown_municipality() -> None:
    with pytest.raises(MunicipalityNotFound):
        find_municipality("011002")  # 札幌市: a valid code that is not in the data file
