"""CSV export of the indicator catalog laid out like the plan's tables (政策 / 施策 / 成果指標名 / 当初 / 中間 ...)."""

from __future__ import annotations

import csv
import io

from app.core.spreadsheet import neutralize
from app.indicators.queries import POLICY_TITLES, Summary

HEADER = (
    "指標コード", "政策", "施策", "成果指標名", "単位",
    "当初 年度", "当初", "中間 年度", "中間 目標", "中間 実績", "達成状況",
    "計画目標値 中間(令和7年度)", "計画目標値 最終(令和8年度末)",
    "最新の値 年度", "最新の値", "進捗率", "判定", "最新の値の出典", "データの出どころ", "注記", "読み取りの注意",
)


def _cell(value) -> str:
    return neutralize("" if value is None else str(value))


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
                format(latest.value, "f") if latest else "",
                format(s.progress, "f") if s.progress is not None else "",
                s.judgement.label if s.judgement else "",
                latest.source_document if latest else "",
                indicator.source_kind.label,
                indicator.footnotes or "",
                indicator.review_note or "",
            )


def to_csv(policies: list[tuple[int, list[Summary]]]) -> str:
    """The export as CSV text with a BOM (what Excel needs to read UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows(policies):
        writer.writerow([_cell(value) for value in row])
    return "\ufeff" + buffer.getvalue()
