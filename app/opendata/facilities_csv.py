"""Active facilities as the 自治体標準オープンデータセット「公共施設一覧」 CSV (docs/opendata.md)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import force_locale

from app.core.time import hhmm
from app.extensions import db
from app.facilities.availability import SlotDef, slots_for_day
from app.facilities.models import Facility, Room, TimeSlot
from app.opendata.events_csv import LOCAL_GOVERNMENT_CODE, MUNICIPALITY, PREFECTURE, to_csv
from app.opendata.kana import katakana

__all__ = ["HEADER", "FILE_NAME", "rows", "to_csv", "weekly_hours"]

FILE_NAME = f"{LOCAL_GOVERNMENT_CODE}_public_facility.csv"

# The column names and order of the 推奨データセット「公共施設一覧」, the same edition as our イベント一覧 (both
# start 都道府県コード又は市区町村コード, NO, 都道府県名, 市区町村名). Frozen: docs/opendata.md says where they
# come from (the official page was not reachable; checked against public implementations of that definition).
HEADER = (
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "名称", "名称_カナ", "名称_通称", "POIコード",
    "住所", "方書", "緯度", "経度", "電話番号", "内線番号", "法人番号", "団体名", "利用可能曜日", "開始時間",
    "終了時間", "利用可能日時特記事項", "説明", "バリアフリー情報", "URL", "備考",
)
WEEKDAYS = ("月", "火", "水", "木", "金", "土", "日")
HOLIDAY_MARK = "祝"
# Only what is known to exist is listed (True); False and None (unknown) are left out, never guessed.
BARRIER_FREE = (
    ("has_step_free_entrance", "段差のない出入口"), ("has_elevator", "エレベーター"),
    ("has_accessible_toilet", "多機能トイレ"), ("has_hearing_loop", "ヒアリングループ"), ("has_nursing_room", "授乳室"),
)
# A reference week (2024-01-01 is a Monday) and a day treated as a holiday: the template rules are per weekday,
# so asking app.facilities.availability.slots_for_day about these eight days gives the weekly pattern.
_WEEK = tuple(date(2024, 1, 1) + timedelta(days=n) for n in range(7))
_HOLIDAY = date(2024, 1, 8)



def weekly_hours(slots: list[SlotDef]) -> tuple[dict[int, tuple[int, int]], tuple[int, int] | None]:
    """Per weekday (0 = Monday) the first start and last end of its 時間区分, and the same for holidays.

    Uses the booking code's own precedence (weekday rows, else defaults; holiday rows, else the weekday's), so
    the file says what the availability grid offers. Date overrides are one-off and not part of a weekly pattern.
    """
    weekly = [slot for slot in slots if slot.on_date is None]
    days = {}
    for day in _WEEK:
        chosen = slots_for_day(weekly, day, frozenset())
        if chosen:
            days[day.weekday()] = (min(s.start for s in chosen), max(s.end for s in chosen))
    holiday_rows = [s for s in weekly if s.weekday == 7]
    holiday = (min(s.start for s in holiday_rows), max(s.end for s in holiday_rows)) if holiday_rows else None
    return days, holiday


def _opening(facility: Facility, slots: list[SlotDef]) -> tuple[str, str, str, str]:
    """利用可能曜日, 開始時間, 終了時間 and 利用可能日時特記事項."""
    days, holiday = weekly_hours(slots)
    notes = [" ".join((facility.opening_hours_ja or "").split())]
    if not days:
        return "", "", "", "".join(notes)
    # The hours most days share go in the columns; days that differ are spelled out in the remarks.
    common = Counter(days[d] for d in sorted(days)).most_common(1)[0][0]
    for weekday in sorted(days):
        if days[weekday] != common:
            notes.append(f"{WEEKDAYS[weekday]}曜日は{hhmm(days[weekday][0])}〜{hhmm(days[weekday][1])}")
    labels = [WEEKDAYS[d] for d in sorted(days)]
    if facility.closed_on_holidays:
        notes.append("祝日は休館")
    else:
        labels.append(HOLIDAY_MARK)
        if holiday and holiday != common:
            notes.append(f"祝日は{hhmm(holiday[0])}〜{hhmm(holiday[1])}")
    return ",".join(labels), hhmm(common[0]), hhmm(common[1]), " / ".join(part for part in notes if part)


def _active_ids():
    return sa.select(Facility.id).where(Facility.active.is_(True))


def _slots() -> dict[int, list[SlotDef]]:
    # One statement for every active facility (a subquery, not an IN list: the statement count stays constant).
    query = (sa.select(TimeSlot.id, TimeSlot.facility_id, TimeSlot.code, TimeSlot.start_time, TimeSlot.end_time,
                       TimeSlot.weekday, TimeSlot.on_date)
             .where(TimeSlot.facility_id.in_(_active_ids()), TimeSlot.on_date.is_(None)))
    result: dict[int, list[SlotDef]] = defaultdict(list)
    for slot_id, facility_id, code, start, end, weekday, on_date in db.session.execute(query):
        result[facility_id].append(SlotDef(id=slot_id, code=code, label=code, start=start.hour * 60 + start.minute,
                                           end=end.hour * 60 + end.minute, weekday=weekday, on_date=on_date))
    return result


def _rooms() -> dict[int, list[str]]:
    """Active rooms booked as a whole (not the halves of a divided hall), with their capacity."""
    query = (sa.select(Room.facility_id, Room.name_ja, Room.capacity)
             .where(Room.facility_id.in_(_active_ids()), Room.active.is_(True), Room.parent_id.is_(None))
             .order_by(Room.facility_id, Room.sort_order, Room.id))
    result: dict[int, list[str]] = defaultdict(list)
    for facility_id, name, capacity in db.session.execute(query):
        result[facility_id].append(f"{name}(定員{capacity}人)")
    return result


def _remarks(facility: Facility, rooms: list[str]) -> str:
    parts = [f"種別: {facility.kind.label}", f"地区: {facility.district.label}"]
    if rooms:
        parts.append("部屋: " + "、".join(rooms))
    if facility.has_parking is not None:
        parts.append("駐車場: " + ("あり" if facility.has_parking else "なし"))
    if facility.name_en:  # the standard has no English-name column (名称_通称 is a Japanese alias)
        parts.append(f"英語名称: {facility.name_en}")
    return " / ".join(parts)


def _coordinate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def rows(*, base_url: str):
    """The header, then one row per active facility (by NO), in three SQL statements."""
    facilities = list(db.session.scalars(sa.select(Facility).where(Facility.active.is_(True)).order_by(Facility.id)))
    slots = _slots()
    rooms = _rooms()
    yield HEADER
    with force_locale("ja"):  # the standard file is Japanese whatever the visitor's language
        for facility in facilities:
            days, start, end, note = _opening(facility, slots.get(facility.id, []))
            barrier_free = ";".join(label for name, label in BARRIER_FREE if getattr(facility, name) is True)
            yield (
                LOCAL_GOVERNMENT_CODE, facility.id, PREFECTURE, MUNICIPALITY, facility.name_ja,
                facility.name_kana or katakana(facility.name_ja), "", facility.poi_code or "", facility.address_ja, "",
                _coordinate(facility.latitude), _coordinate(facility.longitude), facility.phone or "", "", "", "",
                days, start, end, note, facility.notes_ja or "", barrier_free,
                f"{base_url}/facilities/{facility.id}", _remarks(facility, rooms.get(facility.id, [])),
            )
