"""CSV and XLSX exports of the indicators laid out like the plan's tables (政策 / 施策 / 成果指標名 / 当初 / 中間 /
目標 / 実績 / 達成状況), with the latest value (computed, entered or frozen), 進捗率, judgement and completeness,
the target that applies to the value's year and the pace of a value not judged finally (queries.summarize)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook

from app.core.spreadsheet import neutralize
from app.indicators.queries import POLICY_TITLES, Summary

HEADER = (
    "指標コード", "政策", "施策", "成果指標名", "単位",
    "当初 年度", "当初", "中間 年度", "中間 目標", "中間 実績", "達成状況",
    "計画目標値 中間(令和7年度)", "計画目標値 最終(令和8年度末)",
    "実績 年度", "実績", "年度途中", "進捗率", "判定", "報告率", "実績の出典", "データの出どころ", "注記",
    "読み取りの注意", "判定に使った目標", "目安(年度途中は今日まで)", "実績の集計期間",
)
ORIGINS = {"computed": "つどいのデータから計算", "manual": "職員が入力", "snapshot": "確定値"}


def _cell(value) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return neutralize("" if value is None else str(value))


def _ratio(value: Decimal | None) -> Decimal | None:
    """A ratio (進捗率, 報告率) to three decimals, without trailing zeros (0.5, 0.643)."""
    return None if value is None else value.quantize(Decimal("0.001")).normalize()


def _printed(plan_value) -> str:
    return "" if plan_value is None or plan_value.printed is None else plan_value.printed


def rows(policies: list[tuple[int, list[Summary]]]):
    """The export's rows (header first): printed cells as printed, unknown cells empty."""
    yield HEADER
    for policy, summaries in policies:
        for s in summaries:
            indicator = s.indicator
            latest = s.latest
            yield (
                indicator.code,
                f"政策({policy}) {POLICY_TITLES.get(policy, '')}".strip(),
                f"{indicator.measure} {indicator.measure_title}" if indicator.measure else "",
                indicator.name,
                indicator.unit or "",
                s.baseline.year_label if s.baseline else "",
                _printed(s.baseline),
                s.midterm_actual.year_label if s.midterm_actual else "",
                _printed(s.midterm_target),
                _printed(s.midterm_actual),
                indicator.midterm_status or "",
                _printed(s.interim_target),
                _printed(s.final_target),
                latest.fiscal_year if latest else "",
                latest.value if latest else None,
                ("年度途中" if latest.partial else "") if latest else "",  # the day counted: last column
                _ratio(s.progress),
                str(s.judgement.label) if s.judgement else (str(_l("年度の終わりに判定します")) if s.pending else ""),
                _ratio(latest.completeness) if latest else None,
                (latest.source_document or ORIGINS.get(latest.origin, "")) if latest else "",
                str(indicator.source_kind.label),
                indicator.footnotes or "",
                indicator.review_note or "",
                f"{s.target.printed}({s.target.year_label})" if s.target and s.target.printed else "",
                s.pace_now,
                f"{latest.through.isoformat()}まで" if latest and latest.through else "",
            )


def to_csv(policies: list[tuple[int, list[Summary]]]) -> str:
    """The export as CSV text with a BOM (what Excel needs to read UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows(policies):
        writer.writerow([_cell(value) for value in row])
    return "\ufeff" + buffer.getvalue()


def to_xlsx(policies: list[tuple[int, list[Summary]]]) -> bytes:
    """The same rows as an XLSX workbook: numbers stay numbers, text is never a formula."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "成果指標"
    for row in rows(policies):
        sheet.append([float(v) if isinstance(v, Decimal) else neutralize("" if v is None else v) for v in row])
    sheet.freeze_panes = "E2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
