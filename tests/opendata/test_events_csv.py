"""/opendata/events.csv: the standard イベント一覧 header, BOM, a row's values, cancellations, kana, safe cells,
no drafts, and a constant SQL statement count."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.core.districts import District
from app.events.models import EventOccurrence, EventSeries, EventStatus, OccurrenceStatus
from app.extensions import db
from app.opendata.events_csv import HEADER
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, make_user, recorded_statements
from tests.organizations.factories import make_organization

DOCUMENTED_HEADER = [
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "イベント名", "イベント名_カナ",
    "イベント名_英語", "開始日", "終了日", "開始時間", "終了時間", "開始日時特記事項", "説明", "料金(基本)",
    "料金(詳細)", "連絡先名称", "連絡先電話番号", "連絡先内線番号", "主催者", "場所名称", "住所", "方書", "緯度",
    "経度", "アクセス方法", "駐車場情報", "定員", "参加申込終了日", "参加申込終了時間", "参加申込方法", "URL", "備考",
]


def _download(client):
    response = client.get("/opendata/events.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return response.data


def _table(client) -> list[dict]:
    body = _download(client)
    reader = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert header == DOCUMENTED_HEADER
    return [dict(zip(header, row, strict=True)) for row in reader]


def _setup(**overrides):
    editor = make_user()
    org = make_organization(name="高輪町会", editor_id=editor.id, district=District.TAKANAWA)
    series = make_series(organization_id=org.id, actor_id=editor.id, **overrides)
    return editor, org, series


def test_header_matches_docs_and_file_starts_with_bom(client):
    assert list(HEADER) == DOCUMENTED_HEADER
    with open(Path(__file__).resolve().parents[2] / "docs" / "opendata.md", encoding="utf-8") as docs:
        text = docs.read()
    for number, name in enumerate(DOCUMENTED_HEADER, start=1):
        assert f"| {number} | {name} |" in text, name
    body = _download(client)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body[3:].decode("utf-8").splitlines()[0] == ",".join(DOCUMENTED_HEADER)


def test_a_row_holds_the_occurrence_in_tokyo_time(client):
    editor, org, series = _setup(
        texts={"title_ja": "盆踊り大会", "title_en": "Bon Dance", "summary_ja": "夏の夜に踊ります。"},
        category="children", district="takanawa", audiences=["children", "seniors"], fee_yen=500,
        fee_note="材料費", capacity=40, registration_deadline_days=2,
        contact={"contact_name": "高輪町会事務局", "contact_phone": "03-0000-0000", "contact_email": "x@example.jp"},
        accessibility={"wheelchair_accessible": True}, foreign_languages=["en"],
        first_date=date.today() + timedelta(days=10), start_time=time(18, 30), end_time=time(20, 0),
    )
    partner = make_organization(name="白金商店会")
    with app_context():
        from app.events.models import EventPartner

        db.session.add(EventPartner(series_id=series.id, organization_id=partner.id))
        db.session.commit()
    [occurrence_id] = occurrence_ids(series.id)
    [row] = _table(client)
    day = (date.today() + timedelta(days=10)).isoformat()
    deadline = (date.today() + timedelta(days=8)).isoformat()
    assert row["都道府県コード又は市区町村コード"] == "131032"
    assert row["NO"] == str(occurrence_id)
    assert (row["都道府県名"], row["市区町村名"]) == ("東京都", "港区")
    assert (row["イベント名"], row["イベント名_英語"]) == ("盆踊り大会", "Bon Dance")
    assert row["イベント名_カナ"] == "ボンオドリタイカイ"
    assert (row["開始日"], row["終了日"], row["開始時間"], row["終了時間"]) == (day, day, "18:30", "20:00")
    assert row["開始日時特記事項"] == ""
    assert (row["料金(基本)"], row["料金(詳細)"]) == ("有料", "500円 材料費")
    assert (row["連絡先名称"], row["連絡先電話番号"]) == ("高輪町会事務局", "03-0000-0000")
    assert "x@example.jp" not in _download(client).decode("utf-8-sig")  # e-mail addresses are not published
    assert (row["主催者"], row["場所名称"], row["住所"]) == ("高輪町会", "芝公園", "港区芝公園4-1")
    assert row["定員"] == "40"
    assert (row["参加申込終了日"], row["参加申込終了時間"]) == (deadline, "23:59")
    assert row["URL"] == f"http://localhost/events/{series.id}"
    remarks = row["備考"]
    for part in ("分類: 子ども・子育て", "地区: 高輪地区", "対象: 子ども、高齢者", "共催: 白金商店会",
                 "外国語対応: 英語", "配慮: 車いす可"):
        assert part in remarks, (part, remarks)


def test_drafts_excluded_and_cancelled_occurrences_marked(client):
    editor, org, series = _setup(texts={"title_ja": "防災訓練"}, frequency="weekly",
                                 first_date=date.today() + timedelta(days=3),
                                 until_date=date.today() + timedelta(days=17))
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "下書きの催し"},
                status=EventStatus.DRAFT)
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "承認待ちの催し"},
                status=EventStatus.SUBMITTED)
    cancelled_series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "雨天中止の祭り"},
                                   status=EventStatus.CANCELLED)
    ids = occurrence_ids(series.id)
    with app_context():
        db.session.get(EventOccurrence, ids[1]).status = OccurrenceStatus.CANCELLED
        db.session.get(EventSeries, cancelled_series.id).cancel_reason = "台風の\nため"
        db.session.commit()
    rows = _table(client)
    titles = [row["イベント名"] for row in rows]
    assert "下書きの催し" not in titles and "承認待ちの催し" not in titles
    assert titles.count("防災訓練") == len(ids) == 3
    marks = {row["NO"]: row["開始日時特記事項"] for row in rows if row["イベント名"] == "防災訓練"}
    assert marks == {str(ids[0]): "", str(ids[1]): "中止", str(ids[2]): ""}
    [festival] = [row for row in rows if row["イベント名"] == "雨天中止の祭り"]
    assert festival["開始日時特記事項"] == "中止"
    assert festival["備考"].startswith("【中止】台風の ため")


def test_hostile_title_stays_one_safe_cell(client):
    hostile = '=HYPERLINK("http://evil.example","クリック"),\r\n次の行'
    _setup(texts={"title_ja": hostile})
    _setup(texts={"title_ja": "@SUM(1+1)"})
    rows = _table(client)
    assert len(rows) == 2
    titles = {row["イベント名"] for row in rows}
    assert "'" + hostile in titles and "'@SUM(1+1)" in titles
    for row in rows:
        assert len(row) == len(DOCUMENTED_HEADER)
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_kana_of_mixed_text(client):
    _setup(texts={"title_ja": "日本語教室 in 麻布"})
    [row] = _table(client)
    assert row["イベント名_カナ"] == "ニホンゴキョウシツ in アザブ"


def test_statement_count_does_not_grow(client, app):
    editor, org, _series = _setup()

    def measure():
        with recorded_statements(app) as statements:
            _download(client)
        return len(statements)

    small = measure()
    other = make_organization(name="協力団体")
    for n in range(6):
        make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": f"催し{n}"},
                    audiences=["seniors", "children"], partner_ids=[other.id], frequency="weekly",
                    first_date=date.today() + timedelta(days=3), until_date=date.today() + timedelta(days=30))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventOccurrence)) > 20
    assert measure() == small


def test_events_list_links_the_csv(client):
    html = client.get("/events/").get_data(as_text=True)
    assert 'href="/opendata/events.csv"' in html
