"""Public events as the 自治体標準オープンデータセット「イベント一覧」 CSV (docs/opendata.md)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy.orm import contains_eager

from app.core.spreadsheet import neutralize
from app.core.time import to_tokyo, utcnow
from app.events.models import (
    FOREIGN_LANGUAGES,
    EventAudience,
    EventOccurrence,
    EventPartner,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
)
from app.events.registrations import registration_window
from app.extensions import db
from app.opendata.kana import katakana
from app.organizations.models import Organization

LOCAL_GOVERNMENT_CODE = "131032"  # 港区 (全国地方公共団体コード with its check digit)
PREFECTURE = "東京都"
MUNICIPALITY = "港区"
# How far back the file reaches: the past year stays available as an archive, every future occurrence is listed.
PAST_DAYS = 365

# The column names and order of the standard event list, frozen: docs/opendata.md says where they come from.
HEADER = (
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "イベント名", "イベント名_カナ",
    "イベント名_英語", "開始日", "終了日", "開始時間", "終了時間", "開始日時特記事項", "説明", "料金(基本)",
    "料金(詳細)", "連絡先名称", "連絡先電話番号", "連絡先内線番号", "主催者", "場所名称", "住所", "方書", "緯度",
    "経度", "アクセス方法", "駐車場情報", "定員", "参加申込終了日", "参加申込終了時間", "参加申込方法", "URL", "備考",
)
CANCELLED_MARK = "中止"
ACCESSIBILITY = (
    ("wheelchair_accessible", "車いす可"), ("sign_language", "手話通訳"), ("captions", "要約筆記・字幕"),
    ("childcare", "託児"), ("no_smoking", "禁煙"),
)


def _public_series(now: datetime):
    return sa.select(EventSeries.id).where(EventSeries.public_clause(now))


def _occurrences(now: datetime) -> list[EventOccurrence]:
    query = (
        sa.select(EventOccurrence).join(EventOccurrence.series).join(EventSeries.organization)
        .options(contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .where(EventSeries.public_clause(now), EventOccurrence.ends_at > now - timedelta(days=PAST_DAYS))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id)
    )
    return list(db.session.scalars(query).unique())


def _audiences(now: datetime) -> dict[int, list]:
    # One query for every public series (a subquery, not an IN list of ids: the statement count stays constant).
    rows = db.session.execute(sa.select(EventAudience.series_id, EventAudience.audience)
                              .where(EventAudience.series_id.in_(_public_series(now))))
    result: dict[int, list] = defaultdict(list)
    for series_id, audience in rows:
        result[series_id].append(audience)
    return result


def _partners(now: datetime) -> dict[int, list[str]]:
    rows = db.session.execute(
        sa.select(EventPartner.series_id, Organization.name_ja)
        .join(Organization, Organization.id == EventPartner.organization_id)
        .where(EventPartner.series_id.in_(_public_series(now))).order_by(Organization.name_ja)
    )
    result: dict[int, list[str]] = defaultdict(list)
    for series_id, name in rows:
        result[series_id].append(name)
    return result


def _fee(series: EventSeries) -> tuple[str, str]:
    if series.fee_yen == 0:
        return "無料", series.fee_note or ""
    detail = f"{series.fee_yen:,}円"
    return "有料", f"{detail} {series.fee_note}" if series.fee_note else detail


def _application(occurrence: EventOccurrence) -> tuple[str, str, str]:
    """参加申込終了日, 参加申込終了時間 and 参加申込方法."""
    series = occurrence.series
    if not series.registration_required:
        return "", "", "申込不要"
    _opens, closes = registration_window(occurrence)
    closes_local = to_tokyo(closes)
    method = "ウェブサイトから申込(先着順。定員に達した後はキャンセル待ち)"
    return closes_local.strftime("%Y-%m-%d"), closes_local.strftime("%H:%M"), method


class _Labels(dict):
    """Japanese labels of enum members and language codes, looked up once per file (not once per cell)."""

    # Keys are (kind, value): the enums are str subclasses, and Audience.CHILDREN == EventCategory.CHILDREN.
    def __missing__(self, key):
        kind, value = key
        label = FOREIGN_LANGUAGES[value] if kind is None else kind(value).label
        self[key] = text = str(label)
        return text

    def of(self, member) -> str:
        """The label of an enum member."""
        return self[(type(member), member.value)]

    def language(self, code: str) -> str:
        """The label of a foreign-language code."""
        return self[(None, code)]


def _remarks(occurrence: EventOccurrence, audiences: list, partners: list[str], cancelled: bool,
             labels: _Labels) -> str:
    series = occurrence.series
    parts = []
    if cancelled:
        reason = " ".join((series.cancel_reason or "").split())
        parts.append(f"【{CANCELLED_MARK}】{reason}".rstrip())
    parts.append(f"分類: {labels.of(series.category)}")
    parts.append(f"地区: {labels.of(series.district)}")
    if audiences:
        parts.append("対象: " + "、".join(labels.of(a) for a in sorted(audiences, key=lambda a: a.value)))
    if partners:
        parts.append("共催: " + "、".join(partners))
    languages = [labels.language(code) for code in series.foreign_language_codes if code in FOREIGN_LANGUAGES]
    if languages:
        parts.append("外国語対応: " + "、".join(languages))
    access = [label for name, label in ACCESSIBILITY if getattr(series, name)]
    if access:
        parts.append("配慮: " + "、".join(access))
    if series.online_url:
        parts.append(f"オンライン: {series.online_url}")
    return " / ".join(parts)


def rows(*, base_url: str, now: datetime | None = None):
    """The header, then one row per public occurrence (cancelled ones marked), in four SQL statements."""
    now = now or utcnow()
    occurrences = _occurrences(now)
    audiences = _audiences(now)
    partners = _partners(now)
    labels = _Labels()
    yield HEADER
    with force_locale("ja"):  # the standard file is Japanese whatever the visitor's language
        for occurrence in occurrences:
            series = occurrence.series
            starts, ends = to_tokyo(occurrence.starts_at), to_tokyo(occurrence.ends_at)
            cancelled = series.status == EventStatus.CANCELLED or occurrence.status == OccurrenceStatus.CANCELLED
            fee_basic, fee_detail = _fee(series)
            deadline_date, deadline_time, method = _application(occurrence)
            venue = series.venue_name or ("オンライン" if series.online_url else "")
            yield (
                LOCAL_GOVERNMENT_CODE, occurrence.id, PREFECTURE, MUNICIPALITY, series.title_ja,
                series.title_kana or katakana(series.title_ja), series.title_en or "",
                starts.strftime("%Y-%m-%d"), ends.strftime("%Y-%m-%d"),
                starts.strftime("%H:%M"), ends.strftime("%H:%M"),
                CANCELLED_MARK if cancelled else "", series.summary_ja or series.description_ja or "",
                fee_basic, fee_detail, series.contact_name or series.organization.name_ja, series.contact_phone or "",
                "", series.organization.name_ja, venue, series.venue_address or "", "", "", "", "", "",
                "" if occurrence.capacity is None else occurrence.capacity, deadline_date, deadline_time, method,
                f"{base_url}/events/{series.id}",
                _remarks(occurrence, audiences.get(series.id, []), partners.get(series.id, []), cancelled, labels),
            )


def to_csv(table) -> bytes:
    """TABLE as CSV (CRLF, quoted where needed, formula cells neutralised) in UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in table:
        writer.writerow(["" if value is None else neutralize(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")
