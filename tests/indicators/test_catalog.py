"""The indicator data file checked against the plan text it was read from (no database)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from app.indicators.catalog import CATALOG_PATH, PLAN_TEXT_PATH, CatalogError, parse_printed, read_catalog
from app.indicators.models import Direction, PlanValueKind, SourceKind

PLAN_LINES = PLAN_TEXT_PATH.read_text(encoding="utf-8").split("\n")
CATALOG = {spec.code: spec for spec in read_catalog()}


def _cells(line_number: int) -> list[str]:
    return [cell.strip() for cell in PLAN_LINES[line_number - 1].split("\t")]


def test_plan_text_is_the_shared_seed():
    """The copy in the repository is the plan text the issue points to (when that file is on this machine)."""
    from pathlib import Path

    seed = Path("/work/shared/seed/000_7bce2efd91b2e67e.txt")
    if seed.exists():
        assert seed.read_bytes() == PLAN_TEXT_PATH.read_bytes()
    assert "成果指標" in PLAN_LINES[23]


def test_count_per_policy():
    assert Counter(spec.policy for spec in CATALOG.values()) == {9: 10, 10: 7, 11: 5, 12: 5, 13: 6, 14: 7}
    assert len(CATALOG) == 40


def test_every_indicator_row_of_the_plan_is_in_the_catalog():
    # Every table row of the plan has a 目標 cell; each must be the source line of exactly one indicator.
    target_rows = [number for number, line in enumerate(PLAN_LINES, start=1) if "目標" in line.split("\t")]
    assert sorted(spec.source_line for spec in CATALOG.values()) == target_rows


def test_one_satisfaction_indicator_per_policy():
    policy_level = [spec for spec in CATALOG.values() if spec.measure is None]
    assert sorted(spec.policy for spec in policy_level) == [9, 10, 11, 12, 13, 14]
    for spec in policy_level:
        assert spec.name.startswith(f"政策({spec.policy})")
        assert spec.name.endswith("について満足している区民の割合")
        assert spec.plan_value(PlanValueKind.INTERIM_TARGET).year_label == "令和7年度"
        assert spec.plan_value(PlanValueKind.BASELINE).year_label == "令和元年度"


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_name_and_printed_values_appear_on_the_plan_line(code):
    """The name is printed exactly, and every known value is a cell of the indicator's 目標 or 実績 row."""
    spec = CATALOG[code]
    target_cells, actual_cells = _cells(spec.source_line), _cells(spec.source_line + 1)
    printed_name = next(cell for cell in target_cells if cell)
    assert printed_name.startswith(spec.name)
    assert printed_name[len(spec.name):].strip() == (spec.footnote_marker or "")
    assert "実績" in actual_cells
    for kind in (PlanValueKind.MIDTERM_TARGET, PlanValueKind.INTERIM_TARGET, PlanValueKind.FINAL_TARGET):
        value = spec.plan_value(kind)
        if value is not None and value.printed is not None:
            assert value.printed in target_cells, (kind, value.printed)
    for kind in (PlanValueKind.BASELINE, PlanValueKind.MIDTERM_ACTUAL):
        value = spec.plan_value(kind)
        if value.printed is not None:
            assert value.printed in actual_cells, (kind, value.printed)
    if spec.midterm_status is not None:
        assert spec.midterm_status in target_cells
    if spec.measure is not None:
        # The measure's own page heading, just above the table.
        assert f"{spec.measure} {spec.measure_title}" in PLAN_LINES[: spec.source_line]
    for footnote in (spec.footnotes or "").split(" / "):
        if footnote:
            assert footnote in [line.strip() for line in PLAN_LINES[spec.source_line: spec.source_line + 12]]


# Values read by a person from the plan text (line numbers of the plan file), as printed.
SAMPLE = [
    ("P09-00-1", PlanValueKind.BASELINE, "22.2%", Decimal("22.2"), 30),
    ("P09-00-1", PlanValueKind.INTERIM_TARGET, "35.2%", Decimal("35.2"), 29),
    ("P09-00-1", PlanValueKind.FINAL_TARGET, "35.8%", Decimal("35.8"), 29),
    ("P09-02-2", PlanValueKind.MIDTERM_TARGET, "15,781 人", Decimal("15781"), 186),
    ("P09-02-2", PlanValueKind.FINAL_TARGET, "16,128 人", Decimal("16128"), 186),
    ("P09-04-1", PlanValueKind.BASELINE, "55.6%", Decimal("55.6"), 353),
    ("P09-04-1", PlanValueKind.FINAL_TARGET, "82.9%", Decimal("82.9"), 352),
    ("P09-01-2", PlanValueKind.MIDTERM_ACTUAL, "2団体/年", Decimal("2"), 125),
    ("P10-00-1", PlanValueKind.MIDTERM_ACTUAL, "38.4%", Decimal("38.4"), 499),
    ("P11-03-1", PlanValueKind.MIDTERM_TARGET, "1,900人", Decimal("1900"), 1039),
    ("P12-02-2", PlanValueKind.BASELINE, "2,805 店", Decimal("2805"), 1292),
    ("P12-02-2", PlanValueKind.FINAL_TARGET, "2,900 店", Decimal("2900"), 1291),
    ("P13-03-2", PlanValueKind.MIDTERM_ACTUAL, "6か所", Decimal("6"), 1642),
    ("P14-00-1", PlanValueKind.INTERIM_TARGET, "42.5%", Decimal("42.5"), 1710),
    ("P14-02-1", PlanValueKind.FINAL_TARGET, "55 団体", Decimal("55"), 1895),
]


@pytest.mark.parametrize(("code", "kind", "printed", "value", "line"), SAMPLE)
def test_sample_of_values_against_the_plan_text(code, kind, printed, value, line):
    stored = CATALOG[code].plan_value(kind)
    assert stored.printed == printed
    assert stored.value == value
    assert printed in _cells(line)


def test_sample_of_labels_units_statuses_and_footnotes():
    assert CATALOG["P09-02-1"].name == "区民参画会議の参加者数"
    assert CATALOG["P09-04-2"].name == "伝統文化交流館「交流の間」利用件数"
    assert CATALOG["P11-03-2"].name == "新製品・新技術開発支援事業補助金利用 件数"  # the space is printed
    assert CATALOG["P09-01-2"].unit == "団体/年"
    assert CATALOG["P12-02-2"].midterm_status == "未達成"
    assert "下方修正" in CATALOG["P12-02-2"].footnotes
    assert "上方修正" in CATALOG["P09-00-1"].footnotes
    assert CATALOG["P10-01-2"].midterm_status == "—"  # a new indicator: printed as a dash
    assert CATALOG["P09-01-1"].plan_value(PlanValueKind.MIDTERM_ACTUAL).is_estimate  # 中間(見込)
    assert not CATALOG["P09-00-1"].plan_value(PlanValueKind.MIDTERM_ACTUAL).is_estimate
    assert CATALOG["P09-03-1"].plan_value(PlanValueKind.FINAL_TARGET).year_label == "令和8年度末"
    assert CATALOG["P09-03-1"].plan_value(PlanValueKind.BASELINE).fiscal_year == 2020


def test_garbled_and_silent_values_stay_unknown():
    garbled = CATALOG["P10-00-1"]  # the 目標 row is garbled: "目標 | | — | 33.7%"
    for kind in (PlanValueKind.MIDTERM_TARGET, PlanValueKind.INTERIM_TARGET, PlanValueKind.FINAL_TARGET):
        assert garbled.plan_value(kind).value is None
        assert garbled.plan_value(kind).printed is None
    assert garbled.midterm_status is None
    assert "33.7%" in garbled.review_note
    survey_later = CATALOG["P13-02-1"]  # 調査は令和7年度に実施予定: baseline and actual printed as "—"
    assert survey_later.plan_value(PlanValueKind.BASELINE).value is None
    assert survey_later.plan_value(PlanValueKind.MIDTERM_ACTUAL).value is None
    assert CATALOG["P10-03-2"].unit is None  # the plan prints no unit
    # A measure's table has no 令和7年度 column: no such value at all, rather than an unknown one.
    assert CATALOG["P09-01-1"].plan_value(PlanValueKind.INTERIM_TARGET) is None
    # No dash or other non-number ever became a value.
    for spec in CATALOG.values():
        for value in spec.plan_values:
            assert (value.value is None) == (value.printed is None)
            assert value.printed not in {"—", "-", "–"}


COMPUTED = {
    "区民センター利用率": SourceKind.BOOKING_UTILIZATION,
    "伝統文化交流館「交流の間」利用件数": SourceKind.BOOKING_COUNT,
    "地域と連携・協働、支援しているイベントの参加者数": SourceKind.PARTICIPANT_SUM,
    "地域を知る事業の参加者数": SourceKind.PARTICIPANT_SUM,
    "安全で安心なまちづくりに向けた活動参加者数": SourceKind.PARTICIPANT_SUM,
    "区民参画会議の参加者数": SourceKind.PARTICIPANT_SUM,
    "ソーシャルビジネスイベントの参加者数": SourceKind.PARTICIPANT_SUM,
    "港区観光ボランティアガイドと連携した観光案内者数": SourceKind.PARTICIPANT_SUM,
    "多様な主体との連携数(延べ)": SourceKind.PARTNER_ORGANIZATIONS,
    "港区文化芸術ネットワーク会議への年間の実参加団体数": SourceKind.PARTNER_ORGANIZATIONS,
    "港区商店街連合会に加入している商店会数": SourceKind.REGISTRY_COUNT,
    "商店会に加入している店舗数": SourceKind.REGISTRY_COUNT,
    "NPO活動助成制度利用団体数": SourceKind.REGISTRY_COUNT,
}


def test_source_kinds_follow_the_domain_list():
    by_name = {spec.name: spec.source_kind for spec in CATALOG.values()}
    for name, kind in COMPUTED.items():
        assert by_name[name] == kind, name
    manual = [spec for spec in CATALOG.values() if spec.name not in COMPUTED]
    assert len(manual) == 27
    assert all(spec.source_kind == SourceKind.MANUAL for spec in manual)


def test_directions_have_a_stated_basis():
    for spec in CATALOG.values():
        assert spec.direction in (Direction.HIGHER, Direction.LOWER, Direction.UNKNOWN)
        assert (spec.direction == Direction.UNKNOWN) == (spec.direction_basis is None)


def test_parse_printed_is_exact_and_checks_the_unit():
    assert parse_printed("15,781 人", "人") == Decimal("15781")
    assert str(parse_printed("24.0%", "%")) == "24.0"
    with pytest.raises(CatalogError):
        parse_printed("15,781 人", "%")
    with pytest.raises(CatalogError):
        parse_printed("—", "%")


def test_malformed_data_file_is_refused(tmp_path):
    text = CATALOG_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "indicators.csv"
    broken.write_text(text.replace("15,781 人", "15,781 件", 1), encoding="utf-8")
    with pytest.raises(CatalogError, match="row 6"):
        read_catalog(broken)
