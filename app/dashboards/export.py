"""CSV (UTF-8 with BOM, formula cells neutralized) and XLSX files of utilization rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

from app.core.spreadsheet import neutralize

HEADER = ("年度", "施設", "部屋", "月", "予約できた枠数", "予約された枠数", "利用率(%)", "実際に使われた枠数",
          "実利用率(%)", "利用件数", "無断キャンセル件数", "無断キャンセル率(%)")
FORMULA_NOTE = "利用率 = 予約された枠数 ÷ 予約できた枠数(時間区分の枠 − 休館日・臨時休館・行政使用)"
USED_NOTE = "実利用率 = 実際に使われた枠数 ÷ 予約できた枠数(無断キャンセルと記録された予約の枠を除く)"
NO_SHOW_NOTE = "無断キャンセル率 = 無断キャンセルと記録された予約の件数 ÷ 利用件数(予約確定または仮予約の予約の件数)"
ROOM_NOTE = ("枠は分割した部屋ごとに数えます。部屋全体の予約は、その部屋の行に件数だけを示します"
             "(枠数は分割した部屋の行にあります)。")
FIGURES_HEADER = ("年度", "計画の指標", "値(年度途中は今日まで)", "集計した期間", "先の予約(今日より後)")
FIGURES_NOTE = ("計画の指標の値は、画面・成果指標・APIと同じ計算です(docs/indicators.md)。空欄は「データなし」で、"
                "0ではありません。")
AHEAD_NOTE = ("年度途中の年度の行は月ごとの枠数で、今日より後の日の予約(先の予約)も含みます。計画の指標の値"
              "(今日までの日だけ)は「計画の指標」の行にあります。")
NOTES = (FORMULA_NOTE, USED_NOTE, NO_SHOW_NOTE, ROOM_NOTE)


def to_csv(rows: Iterable[Sequence], figures: Sequence[Sequence] = ()) -> bytes:
    """The rows with the header, then the plan's FIGURES (dashboards.queries.figure_rows), as CSV in UTF-8 with
    a BOM (what Excel needs to read Japanese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if v is None else neutralize(v) for v in row])
    if figures:
        writer.writerow([])
        writer.writerow(FIGURES_HEADER)
        for row in figures:
            writer.writerow(row)
        writer.writerow([FIGURES_NOTE])
        if any(row[3] for row in figures):  # a year not over
            writer.writerow([AHEAD_NOTE])
    writer.writerow([])
    for note in NOTES:
        writer.writerow([note])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[Sequence], figures: Sequence[Sequence] = ()) -> bytes:
    """The rows with the header as an XLSX workbook; numbers stay numbers, text is never a formula."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "利用率"
    sheet.append(HEADER)
    for row in rows:
        cells = []
        for value in row:
            # ASCII only: a room named "②" passes isdigit() yet float() refuses it (a 500)
            if isinstance(value, str) and value.isascii() and value.replace(".", "", 1).isdigit():
                cells.append(float(value))
            else:
                cells.append(neutralize(value))  # openpyxl would store "=..." as a formula
        sheet.append(cells)
    if figures:
        sheet.append([])
        sheet.append(FIGURES_HEADER)
        for row in figures:
            sheet.append([float(v) if i == 2 and v else v for i, v in enumerate(row)])
        sheet.append([FIGURES_NOTE])
        if any(row[3] for row in figures):
            sheet.append([AHEAD_NOTE])
    sheet.append([])
    for note in NOTES:
        sheet.append([note])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
