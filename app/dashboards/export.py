"""CSV (UTF-8 with BOM, formula cells neutralized) and XLSX files of utilization rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

from app.core.spreadsheet import neutralize

HEADER = ("年度", "施設", "部屋", "月", "予約できた枠数", "予約された枠数", "利用率(%)", "実際に使われた枠数",
          "実利用率(%)")
FORMULA_NOTE = "利用率 = 予約された枠数 ÷ 予約できた枠数(時間区分の枠 − 休館日・臨時休館・行政使用)"
USED_NOTE = "実利用率 = 実際に使われた枠数 ÷ 予約できた枠数(無断キャンセルと記録された予約の枠を除く)"


def to_csv(rows: Iterable[Sequence]) -> bytes:
    """The rows with the header, as CSV in UTF-8 with a BOM (what Excel needs to read Japanese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if v is None else neutralize(v) for v in row])
    writer.writerow([])
    writer.writerow([FORMULA_NOTE])
    writer.writerow([USED_NOTE])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[Sequence]) -> bytes:
    """The rows with the header as an XLSX workbook; numbers stay numbers, text is never a formula."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "利用率"
    sheet.append(HEADER)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str) and value.replace(".", "", 1).isdigit():
                cells.append(float(value))
            else:
                cells.append(neutralize(value))  # openpyxl would store "=..." as a formula
        sheet.append(cells)
    sheet.append([])
    sheet.append([FORMULA_NOTE])
    sheet.append([USED_NOTE])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
