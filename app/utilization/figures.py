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
from app.utilization.compute import booking_stats, compute_utilization, rate_of

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


def known_since(*, facility_ids: Sequence[int] | None = None, room_ids: Sequence[int] | None = None) -> int | None:
    """The fiscal year of the first booking (any state) in scope, one query; None when there is none."""
    stmt = sa.select(sa.func.min(Booking.day))
    if facility_ids is not None:
        stmt = stmt.where(Booking.facility_id.in_(list(facility_ids)))
    if room_ids is not None:
        stmt = stmt.where(Booking.room_id.in_(list(room_ids)))
    first = db.session.scalar(stmt)
    if first is None:
        return None
    since = fiscal_year(first)
    configured = first_fiscal_year()
    return max(since, configured) if configured is not None else since


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


def center_rate(year: int, *, today: date | None = None, visible: Sequence[int] | None = None) -> YearFigure:
    """区民センター利用率 of fiscal YEAR (percent, one decimal): so far and booked ahead.

    VISIBLE narrows the centres (a facility staff member's own); None = every active centre (the indicator)."""
    today = today or today_tokyo()
    ids = center_facility_ids(visible)
    (start, cut), (cut, end) = _periods(year, today)
    through = None if cut >= end else cut - timedelta(days=1)
    since = known_since(facility_ids=ids) if ids else None
    if since is None or year < since:
        return YearFigure(year, None, through if start < cut else None)
    so_far = compute_utilization(start=start, end=cut, facility_ids=ids)[0] if start < cut else None
    rest = compute_utilization(start=cut, end=end, facility_ids=ids)[0] if cut < end else None
    ahead = rate_of([rest]) if rest is not None else None
    if so_far is None:  # the year has not begun: only what is booked ahead
        return YearFigure(year, None, None, ahead)
    return YearFigure(year, rate_of([so_far]), through, ahead, so_far.booked, so_far.bookable)


def koryu_count(year: int, *, today: date | None = None, visible: Sequence[int] | None = None,
                room_ids: Sequence[int] | None = None) -> YearFigure:
    """「交流の間」利用件数 of fiscal YEAR: bookings so far and booked ahead, of the rooms the room rule names
    (or of ROOM_IDS: a rule proposed on the rules page, previewed before it is saved)."""
    today = today or today_tokyo()
    ids = [room.id for room in koryu_rooms(visible)] if room_ids is None else list(room_ids)
    (start, cut), (cut, end) = _periods(year, today)
    through = None if cut >= end else cut - timedelta(days=1)
    since = known_since(room_ids=ids) if ids else None
    if since is None or year < since:
        return YearFigure(year, None, through if start < cut else None)
    so_far = booking_stats(start=start, end=cut, room_ids=ids)[0].bookings if start < cut else None
    ahead = Decimal(booking_stats(start=cut, end=end, room_ids=ids)[0].bookings) if cut < end else None
    if so_far is None:
        return YearFigure(year, None, None, ahead)
    return YearFigure(year, Decimal(so_far), through, ahead)
