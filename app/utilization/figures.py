"""The plan's two booking figures of a fiscal year, ONE function each: every page, export and API shows these.

- `center_rate(year)`: 区民センター利用率 (P09-04-1), booked ÷ bookable units of the active 区民センター
  (app.utilization.compute: units are 時間区分 of leaf rooms less closures — 休館日, 臨時休館, 行政使用;
  booked = 予約確定 or 仮予約; 承認待ち (申込中) does not count until approved).
- `koryu_count(year)`: 伝統文化交流館「交流の間」利用件数 (P09-04-2), bookings (予約確定 or 仮予約) of the rooms
  the indicator's room rule names (MappingRule, match "room", edited by ward staff on the rules page), not of
  every room of the building.

For the current fiscal year the value is the figure so far: the days from 1 April up to and including today
(`through`), and what is already booked for the rest of the year is a separate figure (`ahead`). A year is
unknown (value None, never 0) before Tsudoi holds its data: before the fiscal year of the first booking (in any
state) of the figure's rooms, before the configured TSUDOI_FIRST_FISCAL_YEAR, and when nothing was bookable.
docs/indicators.md, "The booking figures", says the same for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.bookings.models import Booking
from app.core.time import FiscalYear, fiscal_year, today_tokyo
from app.extensions import db
from app.facilities.models import Facility, FacilityKind, Room
from app.indicators.models import Indicator, MappingRule, MatchKind
from app.utilization.compute import _rate, booking_stats, compute_utilization

CENTER_RATE_CODE = "P09-04-1"  # 区民センター利用率
KORYU_COUNT_CODE = "P09-04-2"  # 伝統文化交流館「交流の間」利用件数
KORYU_ROOM_NAME = "交流の間"  # only to seed the default room rule; the rule itself names room ids

DEFINITIONS = {
    "rate": _l("区民センター利用率 = 予約された枠数 ÷ 予約できた枠数。枠 = 部屋ごと・日ごとの時間区分"
               "(休館日・臨時休館・行政使用の日を除く)。予約確定と仮予約を数え、承認待ち(申込中)は承認されるまで"
               "数えません。年度の途中は、今日までの日だけで計算します。"),
    "count": _l("「交流の間」利用件数 = 対象の部屋(指標のルールで決めた部屋)の予約確定と仮予約の件数。"
                "取消・期限切れ・承認待ち(申込中)は数えません。年度の途中は、今日までの日の予約だけを数えます。"),
    "ahead": _l("先の予約 = 今日より後の、年度の終わりまでの日にすでに入っている予約(まだ使われていません)。"),
    "unknown": _l("— は「データなし」です。つどいに記録がない年度(最初の予約の年度より前)は 0 ではなく、"
                  "計画に印刷された値だけがその年度の値です。"),
}


@dataclass(frozen=True)
class YearFigure:
    """A booking figure of one fiscal year: the value so far, and the part already booked ahead."""

    fiscal_year: int
    value: Decimal | None  # None: unknown (no data yet, nothing bookable, or a year that has not begun)
    through: date | None = None  # the last day counted while the year is not over; None for a whole year
    ahead: Decimal | None = None  # booked ahead: rate of the rest of the year, or bookings; None when none apply
    booked: int = 0  # the units (rate) counted so far
    bookable: int = 0

    @property
    def partial(self) -> bool:
        """The year is not over: a year-to-date value (年度途中)."""
        return self.through is not None


def first_fiscal_year() -> int | None:
    """TSUDOI_FIRST_FISCAL_YEAR: the first fiscal year whose data Tsudoi holds (None: not configured)."""
    value = current_app.config.get("TSUDOI_FIRST_FISCAL_YEAR")
    return int(value) if value not in (None, "") else None


def _periods(year: int, today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """([first day, end) so far, [end so far, end of year) ahead) of fiscal YEAR seen on TODAY."""
    fy = FiscalYear(year)
    cut = min(max(today + timedelta(days=1), fy.first_day), fy.end_day)
    return (fy.first_day, cut), (cut, fy.end_day)


def first_years(*, facility_ids: Sequence[int] | None = None,
                room_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Facility (or room, with ROOM_IDS) -> the fiscal year of its first booking in any state, one query."""
    key = Booking.room_id if room_ids is not None else Booking.facility_id
    stmt = sa.select(key, sa.func.min(Booking.day)).group_by(key)
    if facility_ids is not None:
        stmt = stmt.where(Booking.facility_id.in_(list(facility_ids)))
    if room_ids is not None:
        stmt = stmt.where(Booking.room_id.in_(list(room_ids)))
    return {item: fiscal_year(day) for item, day in db.session.execute(stmt)}


def since_of(years) -> int | None:
    """The first fiscal year with data among the first years YEARS (and TSUDOI_FIRST_FISCAL_YEAR); None: none."""
    years = list(years)
    if not years:
        return None
    configured = first_fiscal_year()
    return max(min(years), configured) if configured is not None else min(years)


def known_since(*, facility_ids: Sequence[int] | None = None, room_ids: Sequence[int] | None = None) -> int | None:
    """The first fiscal year a figure over these facilities (or rooms) is known; None when nothing was booked."""
    return since_of(first_years(facility_ids=facility_ids, room_ids=room_ids).values())


def center_facility_ids(visible: Sequence[int] | None = None) -> list[int]:
    """Active 区民センター (narrowed to VISIBLE facility ids when given)."""
    stmt = sa.select(Facility.id).where(Facility.kind == FacilityKind.COMMUNITY_CENTER, Facility.active.is_(True))
    if visible is not None:
        stmt = stmt.where(Facility.id.in_(list(visible)))
    return list(db.session.scalars(stmt.order_by(Facility.id)))


def koryu_rooms(visible: Sequence[int] | None = None) -> list[Room]:
    """The rooms the 「交流の間」 indicator's room rules name (active rooms of active facilities)."""
    ids = sa.select(sa.cast(MappingRule.value, sa.Integer)).join(
        Indicator, Indicator.id == MappingRule.indicator_id).where(
        Indicator.code == KORYU_COUNT_CODE, MappingRule.match == MatchKind.ROOM)
    stmt = (sa.select(Room).join(Facility, Facility.id == Room.facility_id)
            .where(Room.id.in_(ids), Room.active.is_(True), Facility.active.is_(True)))
    if visible is not None:
        stmt = stmt.where(Room.facility_id.in_(list(visible)))
    return list(db.session.scalars(stmt.order_by(Room.facility_id, Room.sort_order, Room.id)))


def bookable_rooms() -> list[Room]:
    """Every active room of an active facility, for the room rule's choices (facility, then room order)."""
    return list(db.session.scalars(
        sa.select(Room).join(Facility, Facility.id == Room.facility_id)
        .where(Room.active.is_(True), Facility.active.is_(True))
        .order_by(Facility.kind, Facility.name_ja, Room.sort_order, Room.id)))


def default_koryu_room_ids() -> list[int]:
    """Rooms named 交流の間 in a 伝統文化交流館: the room rule seeded until ward staff first save it."""
    return list(db.session.scalars(
        sa.select(Room.id).join(Facility, Facility.id == Room.facility_id)
        .where(Facility.kind == FacilityKind.TRADITIONAL_CULTURE, Room.name_ja == KORYU_ROOM_NAME)
        .order_by(Room.id)))


def _spans(years: Sequence[int], today: date) -> dict[int, tuple[date, date, date]]:
    """(first day, end of the days so far, end of the year) of each fiscal year seen on TODAY."""
    return {y: (_periods(y, today)[0][0], _periods(y, today)[0][1], _periods(y, today)[1][1]) for y in years}


def _so_far_range(years: Sequence[int], spans) -> tuple[date, date] | None:
    """The days of YEARS already gone, as one range (grouped by fiscal year afterwards); None when none."""
    gone = [spans[y] for y in years if spans[y][0] < spans[y][1]]
    if not gone:
        return None
    return min(first for first, _cut, _end in gone), max(cut for _first, cut, _end in gone)


def _through(span) -> date | None:
    first, cut, end = span
    return cut - timedelta(days=1) if first < cut < end else None


def _ahead_range(years: Sequence[int], spans) -> tuple[date, date] | None:
    """The days of YEARS after today, as one range (grouped by fiscal year afterwards); None when none."""
    later = [spans[y] for y in years if spans[y][1] < spans[y][2]]
    if not later:
        return None
    return min(cut for _first, cut, _end in later), max(end for _first, _cut, end in later)


def rate_figures(years: Sequence[int], *, today: date, since: int | None, so_far, ahead) -> dict[int, YearFigure]:
    """The 利用率 figures of YEARS from utilization rows carrying a fiscal_year key: SO_FAR over the days gone
    (`_spans`), AHEAD over the days after today. center_rates reads the rows; the overview passes the rows it
    read for its tables over the same days, so both count exactly the same."""
    spans = _spans(years, today)

    def by_year(rows):
        sums: dict[int, list[int]] = {}
        for row in rows:
            pair = sums.setdefault(row.key["fiscal_year"], [0, 0])
            pair[0] += row.booked
            pair[1] += row.bookable
        return sums

    gone, later = by_year(so_far), by_year(ahead)
    result = {}
    for year in years:
        first, cut, end = spans[year]
        rest = later.get(year, [0, 0])
        booked_ahead = _rate(rest[0], rest[1]) if cut < end else None
        if since is None or year < since:
            result[year] = YearFigure(year, None, _through(spans[year]) if first < cut else None)
        elif first >= cut:  # the year has not begun: only what is booked ahead
            result[year] = YearFigure(year, None, None, booked_ahead)
        else:
            booked, bookable = gone.get(year, [0, 0])
            result[year] = YearFigure(year, _rate(booked, bookable), _through(spans[year]), booked_ahead,
                                      booked, bookable)
    return result


def center_rates(years: Sequence[int], *, today: date | None = None,
                 visible: Sequence[int] | None = None) -> dict[int, YearFigure]:
    """区民センター利用率 of each fiscal year of YEARS (percent, one decimal): so far and booked ahead.

    VISIBLE narrows the centres (a facility staff member's own); None = every active centre (the indicator).
    A fixed number of statements: the centres, their first bookings, the days gone and the days ahead."""
    today = today or today_tokyo()
    ids = center_facility_ids(visible)
    since = known_since(facility_ids=ids) if ids else None
    spans = _spans(years, today)
    gone, later = _so_far_range(years, spans), _ahead_range(years, spans)
    keys = ("fiscal_year",)
    so_far = compute_utilization(start=gone[0], end=gone[1], facility_ids=ids, group_by=keys) if gone and ids else []
    ahead = compute_utilization(start=later[0], end=later[1], facility_ids=ids, group_by=keys) if later and ids else []
    return rate_figures(years, today=today, since=since, so_far=so_far, ahead=ahead)


def center_rate(year: int, *, today: date | None = None, visible: Sequence[int] | None = None) -> YearFigure:
    """区民センター利用率 of fiscal YEAR: center_rates of that one year."""
    return center_rates([year], today=today, visible=visible)[year]


def koryu_counts(years: Sequence[int], *, today: date | None = None, visible: Sequence[int] | None = None,
                 room_ids: Sequence[int] | None = None) -> dict[int, YearFigure]:
    """「交流の間」利用件数 of each fiscal year of YEARS: bookings so far and booked ahead, of the rooms the room
    rule names (or of ROOM_IDS: a rule proposed on the rules page, previewed before it is saved)."""
    today = today or today_tokyo()
    ids = [room.id for room in koryu_rooms(visible)] if room_ids is None else list(room_ids)
    since = known_since(room_ids=ids) if ids else None
    spans = _spans(years, today)
    known = [y for y in years if since is not None and y >= since]
    gone = _so_far_range(known, spans)
    so_far = {row.key["fiscal_year"]: row.bookings for row in booking_stats(
        start=gone[0], end=gone[1], room_ids=ids, group_by=("fiscal_year",))} if gone else {}
    result = {}
    for year in years:
        first, cut, end = spans[year]
        if year not in known:
            result[year] = YearFigure(year, None, _through(spans[year]) if first < cut else None)
            continue
        ahead = Decimal(booking_stats(start=cut, end=end, room_ids=ids)[0].bookings) if cut < end else None
        if first >= cut:
            result[year] = YearFigure(year, None, None, ahead)
        else:
            result[year] = YearFigure(year, Decimal(so_far.get(year, 0)), _through(spans[year]), ahead)
    return result


def koryu_count(year: int, *, today: date | None = None, visible: Sequence[int] | None = None,
                room_ids: Sequence[int] | None = None) -> YearFigure:
    """「交流の間」利用件数 of fiscal YEAR: koryu_counts of that one year."""
    return koryu_counts([year], today=today, visible=visible, room_ids=room_ids)[year]
