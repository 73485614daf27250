"""/opendata/facilities.csv: the standard 公共施設一覧 header, BOM and CRLF, a row's values, opening days and
hours from the 時間区分 templates, inactive facilities left out, safe cells, and a constant SQL statement count."""

from __future__ import annotations

import csv
import io
from datetime import time
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.facilities.models import Facility, Room, RoomKind, TimeSlot
from app.opendata.facilities_csv import HEADER
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, make_user, recorded_statements

DOCUMENTED_HEADER = [
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "名称", "名称_カナ", "名称_通称", "POIコード",
    "住所", "方書", "緯度", "経度", "電話番号", "内線番号", "法人番号", "団体名", "利用可能曜日", "開始時間",
    "終了時間", "利用可能日時特記事項", "説明", "バリアフリー情報", "URL", "備考",
]


def _download(client):
    response = client.get("/opendata/facilities.csv")  # anonymous: no sign-in needed
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="131032_public_facility.csv"'
    return response.data


def _table(client) -> list[dict]:
    reader = csv.reader(io.StringIO(_download(client).decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert header == DOCUMENTED_HEADER
    return [dict(zip(header, row, strict=True)) for row in reader]


def _add_slots(facility_id: int, *slots: tuple[int | None, time, time]) -> None:
    with app_context():
        for n, (weekday, start, end) in enumerate(slots):
            db.session.add(TimeSlot(facility_id=facility_id, code=f"extra{n}", label_ja="特別", weekday=weekday,
                                    start_time=start, end_time=end))
        db.session.commit()


def test_header_matches_docs_and_file_is_bom_crlf(client):
    assert list(HEADER) == DOCUMENTED_HEADER
    with open(Path(__file__).resolve().parents[2] / "docs" / "opendata.md", encoding="utf-8") as docs:
        text = docs.read()
    for number, name in enumerate(DOCUMENTED_HEADER, start=1):
        assert f"| {number} | {name} |" in text, name
    make_center(name="芝浦区民センター")
    body = _download(client)
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body[3:].decode("utf-8").split("\r\n")
    assert lines[0] == ",".join(DOCUMENTED_HEADER)
    assert "\n" not in lines[0] and "\n" not in lines[1] and lines[2] == ""  # header, one row, final CRLF


def test_a_row_holds_the_facility(client):
    center = make_center(
        name="高輪区民センター", name_en="Takanawa Community Center", poi_code="3005",
        latitude=35.6381, longitude=139.7355, phone="03-1234-5678", opening_hours_ja="9:00〜21:30(年末年始は休館)",
        notes_ja="使用料は窓口で\nお支払いください。", has_elevator=True, has_accessible_toilet=True,
        has_hearing_loop=False, has_nursing_room=None, has_parking=False,
    )
    # Sundays end early; holidays have their own template.
    _add_slots(center.facility_id, (6, time(9, 0), time(12, 0)), (6, time(13, 0), time(17, 0)),
               (7, time(10, 0), time(16, 0)))
    staff = make_user(email="staff-person@example.jp")
    assign_staff(staff.id, center.facility_id)
    [row] = _table(client)
    assert row["都道府県コード又は市区町村コード"] == "131032"
    assert row["NO"] == str(center.facility_id)
    assert (row["都道府県名"], row["市区町村名"]) == ("東京都", "港区")
    assert (row["名称"], row["名称_カナ"], row["名称_通称"]) == ("高輪区民センター", "タカナワクミンセンター", "")
    assert row["POIコード"] == "3005"
    assert (row["住所"], row["方書"], row["緯度"], row["経度"]) == ("港区赤坂4-18-13", "", "35.6381", "139.7355")
    assert (row["電話番号"], row["内線番号"], row["法人番号"], row["団体名"]) == ("03-1234-5678", "", "", "")
    assert row["利用可能曜日"] == "月,火,水,木,金,土,日,祝"
    assert (row["開始時間"], row["終了時間"]) == ("09:00", "21:30")  # the default template, Monday to Saturday
    assert row["利用可能日時特記事項"] == "9:00〜21:30(年末年始は休館) / 日曜日は09:00〜17:00 / 祝日は10:00〜16:00"
    assert row["説明"] == "使用料は窓口で\nお支払いください。"  # a line break stays inside one quoted cell
    assert row["バリアフリー情報"] == "エレベーター;多機能トイレ"  # False and unknown are not listed
    assert row["URL"] == f"http://localhost/facilities/{center.facility_id}"
    # Whole rooms only (the halves of the divided hall are part of ホール).
    assert row["備考"] == ("種別: 区民センター / 地区: 赤坂地区 / 部屋: ホール(定員120人)、会議室1(定員20人)、"
                         "音楽スタジオ(定員8人) / 駐車場: なし / 英語名称: Takanawa Community Center")
    assert "staff-person@example.jp" not in _download(client).decode("utf-8-sig")


def test_weekday_only_templates_and_holiday_closure(client):
    weekdays = make_center(name="平日だけの施設", closed_on_holidays=True)
    with app_context():
        db.session.execute(sa.delete(TimeSlot).where(TimeSlot.facility_id == weekdays.facility_id))
        db.session.commit()
    _add_slots(weekdays.facility_id, *[(day, time(9, 0), time(17, 0)) for day in range(5)])
    empty = make_center(name="時間区分のない施設", opening_hours_ja="要問合せ")
    with app_context():
        db.session.execute(sa.delete(TimeSlot).where(TimeSlot.facility_id == empty.facility_id))
        db.session.commit()
    rows = {row["名称"]: row for row in _table(client)}
    row = rows["平日だけの施設"]
    assert (row["利用可能曜日"], row["開始時間"], row["終了時間"]) == ("月,火,水,木,金", "09:00", "17:00")
    assert row["利用可能日時特記事項"] == "祝日は休館"
    row = rows["時間区分のない施設"]
    opening = (row["利用可能曜日"], row["開始時間"], row["終了時間"], row["利用可能日時特記事項"])
    assert opening == ("", "", "", "要問合せ")
    assert (row["バリアフリー情報"], row["緯度"], row["POIコード"]) == ("", "", "")  # unknown stays empty


def test_inactive_facilities_and_rooms_left_out(client):
    kept = make_center(name="開館中の施設")
    closed = make_center(name="廃止された施設")
    with app_context():
        db.session.get(Facility, closed.facility_id).active = False
        db.session.get(Room, kept.studio_id).active = False
        db.session.commit()
    rows = _table(client)
    assert [row["名称"] for row in rows] == ["開館中の施設"]
    assert "音楽スタジオ" not in rows[0]["備考"] and "会議室1(定員20人)" in rows[0]["備考"]


def test_hostile_text_stays_one_safe_cell(client):
    hostile = '=HYPERLINK("http://evil.example","クリック"),\r\n次の行'
    make_center(name=hostile, notes_ja="@SUM(1+1)", phone="+81-3-0000-0000")
    [row] = _table(client)
    assert row["名称"] == "'" + hostile
    assert row["説明"] == "'@SUM(1+1)"
    assert row["電話番号"] == "'+81-3-0000-0000"
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_statement_count_does_not_grow(client, app):
    make_center()

    def measure():
        with recorded_statements(app) as statements:
            _download(client)
        return [statement.split(None, 1)[0].upper() for statement in statements]

    small = measure()
    for _n in range(5):
        center = make_center()
        _add_slots(center.facility_id, (6, time(9, 0), time(17, 0)))
        with app_context():
            db.session.add(Room(facility_id=center.facility_id, kind=RoomKind.JAPANESE, name_ja="和室", capacity=10))
            db.session.commit()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Facility)) == 6
    assert measure() == small
    assert small.count("SELECT") == 3  # facilities, their 時間区分, their rooms (SQLite adds an explicit BEGIN)


def test_facilities_list_links_the_csv(client):
    html = client.get("/facilities/").get_data(as_text=True)
    assert 'href="/opendata/facilities.csv"' in html


def test_ward_words_pykakasi_misreads_take_the_glossary_reading():
    from app.opendata.kana import katakana

    # pykakasi alone reads 区民 here as クタミ and Minato's 白金 as シロガネ.
    assert katakana("芝浦港南区民センター") == "シバウラコウナンクミンセンター"
    assert katakana("白金台いきいきプラザ") == "シロカネダイイキイキプラザ"
    assert katakana("区民協働スペース") == "クミンキョウドウスペース"
    assert katakana("夏祭り") == "ナツマツリ"  # text without glossary words: pykakasi as before
