"""利用率 computed in SQL: bookable units from a calendar CTE x 時間区分 templates minus closures, booked units.

This is THE function for utilization: the staff dashboards, their exports, the JSON API and the indicators
issue (区民センター利用率, 伝統文化交流館「交流の間」利用件数) all call `compute_utilization` and `booking_stats`
from here (`from app.dashboards.utilization import compute_utilization`).

Definitions (shown to staff next to each number, see FORMULAS):

- A *unit* is one 時間区分 of one LEAF room on one day; for a room let by the hour, each whole hour inside a
  時間区分. Units are counted on leaf rooms (rooms without active children): a hall split in two halves
  counts as its two halves, so booking the whole hall books both, booking one half books half of it, and
  nothing is counted twice.
- Which 時間区分 apply on a day follows TimeSlot's rule (date override, else 祝日 rows on a national holiday,
  else weekday rows, else the default rows), as app.facilities.availability.slots_for_day does.
- *Bookable* units: units on days not covered by a closure (休館日, 臨時休館, 行政使用) of the facility, of the
  room or of one of its parent rooms, and not a holiday when the facility closes on holidays.
- *Booked* units: bookable units overlapped by an item of a booking in BOOKED_STATES (予約確定 and 仮予約:
  both hold the slot against everyone else; 承認待ち requests do not count until approved). A booking on a
  unit that was closed afterwards is not counted (the rate never exceeds 100%).
- 利用率 = booked / bookable.
- *Used* units (実利用): booked units whose booking staff did not mark as a no-show (Booking.no_show_at);
  実利用率 = used / bookable. Bookings are "used" until marked, so the figure means most for past periods.
- No-show rate = bookings marked no-show ÷ bookings in BOOKED_STATES (booking_stats).

Everything is one SQL statement per call with GROUP BY; the calendar is a recursive CTE (SQLite and PostgreSQL).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.bookings.models import Booking, BookingItem, BookingState
from app.extensions import db
from app.facilities.models import Closure, Facility, Room, TimeSlot, UserCategory
from app.facilities.queries import holidays_between

BOOKED_STATES = (BookingState.CONFIRMED, BookingState.TENTATIVE)
HOLIDAY_WEEKDAY = 7
HOUR = 60
CELL_MINUTES = 30
GROUP_KEYS = ("facility", "room", "slot", "weekday", "month", "fiscal_year")
BOOKING_GROUP_KEYS = ("facility", "room", "weekday", "month", "fiscal_year")

FORMULAS = {
    "rate": _l("利用率 = 予約された枠数 ÷ 予約できた枠数(時間区分の枠 − 休館日・臨時休館・行政使用)"),
    "booked": _l("予約された枠 = 予約確定または仮予約の予約が入った枠(承認待ちは含みません)"),
    "used": _l("実利用率 = 実際に使われた枠数 ÷ 予約できた枠数(無断キャンセルと記録された予約の枠を除く)"),
    "no_show": _l("無断キャンセル率 = 無断キャンセルと記録された予約の件数 ÷ 利用件数"),
    "count": _l("利用件数 = 予約確定または仮予約の予約の件数"),
    "revenue": _l("使用料 = 予約確定の予約の使用料(減免前 − 減免額 = 収入)"),
    "cancel": _l("直前の取消 = 取消期限を過ぎてからの取消"),
    "lottery": _l("1枠あたりの希望の数 = 抽選の希望の数 ÷ 希望のあった枠(部屋・日・時間区分)の数"),
}


def _rate(numerator: int | None, denominator: int | None) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class UtilizationRow:
    """One group: its key values (by GROUP_KEYS name) and unit counts (used = booked minus no-shows)."""

    key: dict
    bookable: int
    booked: int
    used: int = 0

    @property
    def rate(self) -> Decimal | None:
        """利用率 in percent (one decimal), None when nothing was bookable."""
        return _rate(self.booked, self.bookable)

    @property
    def used_rate(self) -> Decimal | None:
        """実利用率 in percent, None when nothing was bookable."""
        return _rate(self.used, self.bookable)

    @property
    def unbooked(self) -> int:
        return self.bookable - self.booked


class _Dialect:
    """The few date/time expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str):
        self.sqlite = name == "sqlite"

    def day_literal(self, value):
        """A date value (or Date bind parameter) usable as a column value."""
        # SQLite stores dates as ISO text: CAST(... AS DATE) would turn '2026-04-01' into the number 2026.
        literal = value if isinstance(value, sa.BindParameter) else sa.literal(value, sa.Date)
        return literal if self.sqlite else sa.cast(literal, sa.Date)

    def next_day(self, expr):
        return sa.func.date(expr, "+1 day") if self.sqlite else expr + sa.literal(1, sa.Integer)

    def year(self, expr):
        if self.sqlite:
            return sa.cast(sa.func.strftime("%Y", expr), sa.Integer)
        return sa.cast(sa.extract("year", expr), sa.Integer)

    def month(self, expr):
        if self.sqlite:
            return sa.cast(sa.func.strftime("%m", expr), sa.Integer)
        return sa.cast(sa.extract("month", expr), sa.Integer)

    def weekday(self, expr):
        """0 = Monday ... 6 = Sunday."""
        if self.sqlite:
            return (sa.cast(sa.func.strftime("%w", expr), sa.Integer) + 6) % 7
        return sa.cast(sa.extract("isodow", expr), sa.Integer) - 1

    def minutes(self, expr):
        if self.sqlite:  # 'HH:MM:SS[.ffffff]'
            return (sa.cast(sa.func.substr(expr, 1, 2), sa.Integer) * 60
                    + sa.cast(sa.func.substr(expr, 4, 2), sa.Integer))
        return sa.cast(sa.extract("hour", expr) * 60 + sa.extract("minute", expr), sa.Integer)

    def month_key(self, expr):
        return self.year(expr) * 100 + self.month(expr)

    def fiscal_year(self, expr):
        return self.year(expr) - sa.case((self.month(expr) < 4, 1), else_=0)


def _dialect() -> _Dialect:
    return _Dialect(db.session.get_bind().dialect.name)


def _ancestors():
    """Recursive CTE (room_id, anc_id): every room with itself and each of its parents, grandparents ..."""
    base = sa.select(Room.id.label("room_id"), Room.id.label("anc_id"))
    anc = base.cte("room_ancestors", recursive=True)
    parent = sa.orm.aliased(Room)
    return anc.union_all(
        sa.select(anc.c.room_id, parent.parent_id)
        .join(parent, parent.id == anc.c.anc_id)
        .where(parent.parent_id.is_not(None))
    )


def _calendar(d: _Dialect, first, first_wd, last):
    """Recursive CTE (day, wd) of the days from FIRST to LAST included (bind parameters: Date, its weekday with
    0 = Monday, Date)."""
    base = sa.select(d.day_literal(first).label("day"), first_wd.label("wd"))
    cal = base.cte("calendar", recursive=True)
    return cal.union_all(
        sa.select(d.next_day(cal.c.day), (cal.c.wd + 1) % 7)
        .where(cal.c.day < d.day_literal(last))
    )


def _scope_rooms(anc, facility_ids: Sequence[int] | None, room_ids: Sequence[int] | None):
    """Conditions on Room selecting active leaf rooms of active facilities in scope."""
    child = sa.orm.aliased(Room)
    conditions = [
        Room.active.is_(True),
        ~sa.exists().where(child.parent_id == Room.id, child.active.is_(True)),
        Room.facility_id.in_(sa.select(Facility.id).where(Facility.active.is_(True)).scalar_subquery()),
    ]
    if facility_ids is not None:
        conditions.append(Room.facility_id.in_(_in(facility_ids)))
    if room_ids is not None:  # a parent room means the leaves below it
        conditions.append(Room.id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(_in(room_ids)))))
    return conditions


def _check_keys(group_by: Iterable[str], allowed: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(group_by)
    unknown = [k for k in keys if k not in allowed]
    if unknown:
        raise ValueError(f"unknown group key(s): {unknown}")
    return keys


def compute_utilization(
    *,
    start: date,
    end: date,
    facility_ids: Sequence[int] | None = None,
    room_ids: Sequence[int] | None = None,
    group_by: Iterable[str] = (),
    states: Sequence[BookingState] = BOOKED_STATES,
) -> list[UtilizationRow]:
    """Bookable, booked and used units in [start, end) per group (GROUP_KEYS).

    FACILITY_IDS / ROOM_IDS narrow the scope (None = every active facility / room; a parent room means its
    leaves). Keys in the rows: facility (id), room (leaf room id), slot (時間区分 code), weekday (0 = Monday),
    month (year * 100 + month), fiscal_year (年度 by its starting year). Groups without bookable units are
    absent. No group_by gives one total row (also when nothing is bookable).

    Whole months the rollup covers are read from it (one GROUP BY over a few rows per room and month); the
    days around them, or everything when there is no rollup, are computed from the bookings in SQL. Both give
    the same counts (tests/dashboards/test_rollup.py): 1 query for the coverage, 1 for the rollup, 1 per
    stretch of days outside it.
    """
    keys = _check_keys(group_by, GROUP_KEYS)
    if end <= start:
        return [UtilizationRow({}, 0, 0, 0)] if not keys else []
    session = db.session
    parts: list[tuple[dict, int, int, int]] = []
    if set(states) == set(BOOKED_STATES):
        inside, outside = _split(session, start, end)
    else:  # the rollup holds BOOKED_STATES only
        inside, outside = [], [(start, end)]
    for first, last in inside:
        parts += _rollup_utilization(session, first, last, facility_ids=facility_ids, room_ids=room_ids, keys=keys)
    for first, last in outside:
        parts += _live_utilization(session, start=first, end=last, facility_ids=facility_ids, room_ids=room_ids,
                                   keys=keys, states=states)
    merged = _merge(parts, keys, width=3)
    if not keys and not merged:
        merged = [({}, (0, 0, 0))]
    return [UtilizationRow(key, *counts) for key, counts in merged]


def _merge(parts, keys: tuple[str, ...], *, width: int) -> list[tuple[dict, tuple]]:
    """Sum the counts of rows with the same key (rows of disjoint days add up); sorted by the keys."""
    sums: dict[tuple, list[int]] = {}
    for key, *counts in parts:
        total = sums.setdefault(tuple(key[k] for k in keys), [0] * width)
        for i, value in enumerate(counts):
            total[i] += int(value or 0)
    return [(dict(zip(keys, values, strict=True)), tuple(sums[values])) for values in sorted(sums)]


def _split(session, start: date, end: date) -> tuple[list[tuple[date, date]], list[tuple[date, date]]]:
    """[start, end) as the stretches of whole months read from the rollup and the stretches of days computed
    live: the days outside its coverage, and the months holding a key a request left stale (until settle_stale
    recomputes it, normally milliseconds after that request's response)."""
    from app.dashboards.rollup import add_months, coverage, month_ceiling, month_floor, month_key, settle, stale_months

    covered = coverage(session)
    if covered is not None:
        settle(session)  # this transaction's own changes first
    if covered is None:
        return [], [(start, end)]
    first = max(month_ceiling(start), covered[0])
    last = min(month_floor(end), covered[1])
    if first >= last:
        return [], [(start, end)]
    inside: list[tuple[date, date]] = []
    outside = [(start, first)] if start < first else []
    stale = stale_months(session, first, last)
    cursor = first
    while cursor < last:  # runs of fresh months from the rollup, each stale month live
        step = add_months(cursor, 1)
        fresh = month_key(cursor) not in stale
        stretches = inside if fresh else outside
        if stretches and stretches[-1][1] == cursor:  # continues the previous stretch of its kind
            stretches[-1] = (stretches[-1][0], step)
        else:
            stretches.append((cursor, step))
        cursor = step
    if last < end:
        outside.append((last, end))
    return inside, outside


def _rollup_utilization(session, first: date, last: date, *, facility_ids, room_ids, keys):
    """Rows (key, bookable, booked, used) of the whole months [first, last) from the rollup, ONE statement."""
    from app.dashboards.models import UtilizationUnitRollup as R

    key_columns = {"facility": R.facility_id, "room": R.room_id, "slot": R.slot_code, "weekday": R.weekday,
                   "month": R.month, "fiscal_year": R.fiscal_year}
    stmt = sa.select(
        *[key_columns[k].label(k) for k in keys],
        sa.func.sum(R.bookable).label("bookable"), sa.func.sum(R.booked).label("booked"),
        sa.func.sum(R.used).label("used"),
    )
    stmt = _rollup_scope(stmt, R, first, last, facility_ids=facility_ids, room_ids=room_ids)
    if keys:
        stmt = stmt.group_by(*[key_columns[k] for k in keys])
    return [({k: getattr(row, k) for k in keys}, row.bookable, row.booked, row.used)
            for row in session.execute(stmt) if row.bookable]


def _in(values):
    """An IN list: a bind parameter as is (cached statements), else the values as a list."""
    return values if isinstance(values, sa.BindParameter) else list(values)


@functools.lru_cache(maxsize=512)
def _holidays(start: date, end: date) -> tuple[date, ...]:
    """holidays_between as a sorted tuple, kept per range (the library takes milliseconds per month)."""
    return tuple(sorted(holidays_between(start, end)))


def _live_params(start: date, end: date, *, facility_ids, room_ids, weekday, states=None) -> dict:
    """The bind parameters of the cached live statements."""
    params = {"first": start, "end": end, "last": end - timedelta(days=1), "first_wd": start.weekday(),
              "holidays": list(_holidays(start, end))}
    if facility_ids is not None:
        params["facility_ids"] = list(facility_ids)
    if room_ids is not None:
        params["room_ids"] = list(room_ids)
    if weekday is not None:
        params["weekday"] = weekday
    if states is not None:
        params["states"] = list(states)
    return params


def _live_utilization(session, *, start: date, end: date, facility_ids, room_ids, keys, states=BOOKED_STATES,
                      weekday: int | None = None):
    """Rows (key, bookable, booked, used) of [start, end) computed from templates, closures and bookings in ONE
    SQL statement (the definition of the numbers; the rollup stores what this returns). WEEKDAY (0 = Monday)
    keeps the days of that weekday only (the rollup's upkeep of one booking's keys).

    The statement is built once per dialect and shape (lru_cache), with every value a bind parameter:
    building it took most of a booking commit's time when the rollup recomputed at each commit."""
    stmt = _live_utilization_statement(session.get_bind().dialect.name, tuple(keys), facility_ids is not None,
                                       room_ids is not None, weekday is not None)
    params = _live_params(start, end, facility_ids=facility_ids, room_ids=room_ids, weekday=weekday, states=states)
    return [({k: getattr(row, k) for k in keys}, row.bookable, row.booked, row.used)
            for row in session.execute(stmt, params) if row.bookable]


@functools.lru_cache(maxsize=64)
def _live_utilization_statement(dialect: str, keys: tuple[str, ...], by_facility: bool, by_room: bool,
                                by_weekday: bool):
    """The statement of _live_utilization; parameters: first, end, last (= end - 1 day), first_wd (first's
    weekday), holidays, states, and facility_ids / room_ids / weekday when asked for."""
    d = _Dialect(dialect)
    facility_ids = sa.bindparam("facility_ids", expanding=True) if by_facility else None
    room_ids = sa.bindparam("room_ids", expanding=True) if by_room else None
    weekday = sa.bindparam("weekday", type_=sa.Integer) if by_weekday else None
    anc = _ancestors()
    cal = _calendar(d, sa.bindparam("first", type_=sa.Date), sa.bindparam("first_wd", type_=sa.Integer),
                    sa.bindparam("last", type_=sa.Date))

    # 1. Which tier of the template applies per facility and day (date override > 祝日 > weekday > default).
    ts = sa.orm.aliased(TimeSlot)
    is_holiday = cal.c.day.in_(sa.bindparam("holidays", expanding=True))
    has_date = sa.exists().where(ts.facility_id == Facility.id, ts.on_date == cal.c.day)
    has_holiday_rows = sa.exists().where(ts.facility_id == Facility.id, ts.on_date.is_(None),
                                         ts.weekday == HOLIDAY_WEEKDAY)
    has_weekday_rows = sa.exists().where(ts.facility_id == Facility.id, ts.on_date.is_(None), ts.weekday == cal.c.wd)
    tier = sa.case(
        (has_date, "date"),
        (sa.and_(is_holiday, has_holiday_rows), "holiday"),
        (has_weekday_rows, "weekday"),
        else_="default",
    )
    facility_scope = [Facility.active.is_(True)]
    if facility_ids is not None:
        facility_scope.append(Facility.id.in_(facility_ids))
    if weekday is not None:
        facility_scope.append(cal.c.wd == weekday)
    facility_days = (
        sa.select(
            Facility.id.label("facility_id"), cal.c.day, cal.c.wd, tier.label("tier"),
            sa.case((sa.and_(Facility.closed_on_holidays.is_(True), is_holiday), 1), else_=0).label("holiday_closed"),
        )
        .select_from(Facility)
        .join(cal, sa.true())
        .where(*facility_scope)
        .cte("facility_days")
    )

    # 2. The day's slots x leaf rooms x (whole slot, or each whole hour for hourly rooms).
    fd = facility_days
    slot_applies = sa.or_(
        sa.and_(fd.c.tier == "date", TimeSlot.on_date == fd.c.day),
        sa.and_(fd.c.tier == "holiday", TimeSlot.on_date.is_(None), TimeSlot.weekday == HOLIDAY_WEEKDAY),
        sa.and_(fd.c.tier == "weekday", TimeSlot.on_date.is_(None), TimeSlot.weekday == fd.c.wd),
        sa.and_(fd.c.tier == "default", TimeSlot.on_date.is_(None), TimeSlot.weekday.is_(None)),
    )
    # A slot lies inside one day: at most 24 whole hours. Only hourly rooms join the hours (a join of every
    # unit with 24 rows would multiply the work for nothing).
    hours = sa.select(sa.literal(0, sa.Integer).label("k")).cte("hours", recursive=True)
    hours = hours.union_all(sa.select(hours.c.k + 1).where(hours.c.k < 23))
    slot_start = d.minutes(TimeSlot.start_time)
    slot_end = d.minutes(TimeSlot.end_time)
    closed = sa.exists().where(
        Closure.facility_id == fd.c.facility_id,
        Closure.start_date <= fd.c.day,
        Closure.end_date > fd.c.day,
        sa.or_(
            Closure.room_id.is_(None),
            Closure.room_id.in_(
                sa.select(anc.c.anc_id).where(anc.c.room_id == Room.id).correlate_except(anc).scalar_subquery()
            ),
        ),
    )
    open_units = [*_scope_rooms(anc, facility_ids, room_ids), fd.c.holiday_closed == 0, ~closed]

    def unit_select(start_expr, end_expr):
        return sa.select(
            fd.c.facility_id, Room.id.label("room_id"), fd.c.day, fd.c.wd, TimeSlot.id.label("slot_id"),
            TimeSlot.code.label("slot_code"), start_expr.label("unit_start"), end_expr.label("unit_end"),
        ).select_from(fd).join(TimeSlot, sa.and_(TimeSlot.facility_id == fd.c.facility_id, slot_applies)).join(
            Room, Room.facility_id == fd.c.facility_id
        )

    whole = unit_select(slot_start, slot_end).where(Room.hourly.is_(False), *open_units)
    hourly = (
        unit_select(slot_start + hours.c.k * HOUR, slot_start + (hours.c.k + 1) * HOUR)
        .join(hours, slot_start + (hours.c.k + 1) * HOUR <= slot_end)
        .where(Room.hourly.is_(True), *open_units)
    )
    units = sa.union_all(whole, hourly).cte("units")

    # 3. Booked: an item of a booking of this leaf room or of one of its parents overlaps the unit. The items
    # are first spread to leaf rooms once (MATERIALIZED: both databases then look them up by room and day).
    spans = (
        sa.select(anc.c.room_id.label("leaf_id"), Booking.day, BookingItem.start_minute, BookingItem.end_minute,
                  sa.case((Booking.no_show_at.is_(None), 1), else_=0).label("used"))
        .join(BookingItem, BookingItem.booking_id == Booking.id)
        .join(anc, anc.c.anc_id == Booking.room_id)
        .where(Booking.state.in_(sa.bindparam("states", expanding=True)),
               Booking.day >= sa.bindparam("first", type_=sa.Date), Booking.day < sa.bindparam("end", type_=sa.Date))
    )
    if facility_ids is not None:
        spans = spans.where(Booking.facility_id.in_(facility_ids))
    if room_ids is not None:  # bookings of the leaves in scope or of their parents (index on room and day)
        below = sa.orm.aliased(anc)
        spans = spans.where(Booking.room_id.in_(
            sa.select(anc.c.anc_id).where(anc.c.room_id.in_(sa.select(below.c.room_id)
                                                             .where(below.c.anc_id.in_(room_ids))))))
    if weekday is not None:
        spans = spans.where(d.weekday(Booking.day) == weekday)
    spans = spans.cte("booked_spans").prefix_with("MATERIALIZED")
    # One row per unit with a 0/1 flag: a LEFT JOIN on (leaf room, day) that both databases run as an indexed
    # or hashed join (a correlated EXISTS per unit was two orders of magnitude slower on 60 rooms x 5 years).
    hit = sa.and_(
        spans.c.leaf_id == units.c.room_id,
        spans.c.day == units.c.day,
        spans.c.start_minute < units.c.unit_end,
        spans.c.end_minute > units.c.unit_start,
    )
    flagged = (
        sa.select(
            units.c.facility_id, units.c.room_id, units.c.day, units.c.wd, units.c.slot_id, units.c.slot_code,
            units.c.unit_start, sa.func.max(sa.case((spans.c.leaf_id.is_not(None), 1), else_=0)).label("is_booked"),
            sa.func.max(sa.case((spans.c.used == 1, 1), else_=0)).label("is_used"),
        )
        .select_from(units.outerjoin(spans, hit))
        .group_by(units.c.facility_id, units.c.room_id, units.c.day, units.c.wd, units.c.slot_id,
                  units.c.slot_code, units.c.unit_start)
        .cte("flagged")
    )
    u = flagged
    key_columns = {
        "facility": u.c.facility_id,
        "room": u.c.room_id,
        "slot": u.c.slot_code,
        "weekday": u.c.wd,
        "month": d.month_key(u.c.day),
        "fiscal_year": d.fiscal_year(u.c.day),
    }
    selected = [key_columns[k].label(k) for k in keys]
    stmt = sa.select(
        *selected,
        sa.func.count().label("bookable"),
        sa.func.coalesce(sa.func.sum(u.c.is_booked), 0).label("booked"),
        sa.func.coalesce(sa.func.sum(u.c.is_used), 0).label("used"),
    ).select_from(u)
    if keys:
        stmt = stmt.group_by(*[key_columns[k] for k in keys])
    return stmt


@dataclass
class BookingStats:
    """Booking-level figures of one group: counts, cancellations, user mix and fees (yen)."""

    key: dict
    bookings: int = 0  # in BOOKED_STATES
    cancelled: int = 0
    cancelled_late: int = 0
    requested: int = 0
    mix: dict = field(default_factory=dict)  # MIX_KEYS -> count of bookings in BOOKED_STATES
    fee_gross: int = 0  # confirmed bookings only
    fee_reduction: int = 0
    fee_net: int = 0
    no_show: int = 0  # bookings in BOOKED_STATES marked as no-show by staff
    checked_in: int = 0

    @property
    def no_show_rate(self) -> Decimal | None:
        """Share of bookings marked no-show, in percent."""
        return _rate(self.no_show, self.bookings)

    @property
    def cancelled_early(self) -> int:
        return self.cancelled - self.cancelled_late


MIX_KEYS = ("resident_group", "resident_individual", "outside", "commercial")
MIX_LABELS = {
    "resident_group": _l("区内団体"),
    "resident_individual": _l("区内個人"),
    "outside": _l("区外"),
    "commercial": _l("営利"),
}


def _booking_scope(anc, facility_ids, room_ids, start, end):
    conditions = [Booking.day >= start, Booking.day < end]
    if facility_ids is not None:
        conditions.append(Booking.facility_id.in_(_in(facility_ids)))
    if room_ids is not None:  # bookings of the rooms or of rooms below them
        conditions.append(Booking.room_id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(_in(room_ids)))))
    return conditions


def booking_stats(
    *,
    start: date,
    end: date,
    facility_ids: Sequence[int] | None = None,
    room_ids: Sequence[int] | None = None,
    group_by: Iterable[str] = (),
) -> list[BookingStats]:
    """Counts, cancellations (early / late), user mix and fees of bookings whose day is in [start, end).

    Keys as in compute_utilization except `slot` (a booking spans several 時間区分); `room` is the booked room.
    Whole months the rollup covers come from it, the other days from the bookings (as compute_utilization).
    """
    keys = _check_keys(group_by, BOOKING_GROUP_KEYS)
    session = db.session
    parts: list = []
    inside, outside = _split(session, start, end) if end > start else ([], [])
    for first, last in inside:
        parts += _rollup_booking_stats(session, first, last, facility_ids=facility_ids, room_ids=room_ids,
                                       keys=keys)
    for first, last in outside:
        parts += _live_booking_stats(session, start=first, end=last, facility_ids=facility_ids, room_ids=room_ids,
                                     keys=keys)
    result = [_stats_of(key, counts) for key, counts in _merge(parts, keys, width=len(STAT_FIELDS))]
    if not keys and not result:
        result.append(BookingStats(key={}, mix=dict.fromkeys(MIX_KEYS, 0)))
    return result


STAT_FIELDS = ("bookings", "cancelled", "cancelled_late", "requested", "no_show", "checked_in", *MIX_KEYS,
               "fee_gross", "fee_reduction", "fee_net")


def _stats_of(key: dict, counts: Sequence[int]) -> BookingStats:
    values = dict(zip(STAT_FIELDS, counts, strict=True))
    return BookingStats(
        key=key, mix={k: values.pop(k) for k in MIX_KEYS}, **values,
    )


def _rollup_scope(stmt, R, first: date, last: date, *, facility_ids, room_ids):
    """STMT over a rollup table R narrowed to the whole months [first, last), the facilities and the rooms (a room
    also stands for the rooms below it)."""
    from app.dashboards.rollup import month_key

    stmt = stmt.where(R.month >= month_key(first), R.month < month_key(last))
    if facility_ids is not None:
        stmt = stmt.where(R.facility_id.in_(list(facility_ids)))
    if room_ids is not None:
        anc = _ancestors()
        stmt = stmt.where(R.room_id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(list(room_ids)))))
    return stmt


def _rollup_booking_stats(session, first: date, last: date, *, facility_ids, room_ids, keys):
    """Rows (key, *STAT_FIELDS) of the whole months [first, last) from the rollup, ONE statement."""
    from app.dashboards.models import UtilizationBookingRollup as R

    key_columns = {"facility": R.facility_id, "room": R.room_id, "weekday": R.weekday, "month": R.month,
                   "fiscal_year": R.fiscal_year}
    stmt = sa.select(
        *[key_columns[k].label(k) for k in keys], *[sa.func.sum(getattr(R, f)).label(f) for f in STAT_FIELDS],
    )
    stmt = _rollup_scope(stmt, R, first, last, facility_ids=facility_ids, room_ids=room_ids)
    if keys:
        stmt = stmt.group_by(*[key_columns[k] for k in keys])
    return [({k: getattr(row, k) for k in keys}, *[getattr(row, f) for f in STAT_FIELDS])
            for row in session.execute(stmt) if row.bookings is not None]


def _live_booking_stats(session, *, start: date, end: date, facility_ids, room_ids, keys, weekday: int | None = None):
    """Rows (key, *STAT_FIELDS) of bookings whose day is in [start, end), from the bookings in ONE statement
    (built once per dialect and shape, values bound; WEEKDAY as in _live_utilization)."""
    stmt = _live_booking_stats_statement(session.get_bind().dialect.name, tuple(keys), facility_ids is not None,
                                         room_ids is not None, weekday is not None)
    params = {"first": start, "end": end}
    if facility_ids is not None:
        params["facility_ids"] = list(facility_ids)
    if room_ids is not None:
        params["room_ids"] = list(room_ids)
    if weekday is not None:
        params["weekday"] = weekday
    rows = session.execute(stmt, params).all()
    if not keys:  # one aggregate row even without bookings: drop it when it counts nothing
        rows = [row for row in rows if any(getattr(row, f) for f in STAT_FIELDS)]
    return [({k: getattr(row, k) for k in keys}, *[getattr(row, f) for f in STAT_FIELDS]) for row in rows]


@functools.lru_cache(maxsize=64)
def _live_booking_stats_statement(dialect: str, keys: tuple[str, ...], by_facility: bool, by_room: bool,
                                  by_weekday: bool):
    """The statement of _live_booking_stats; parameters: first, end, and facility_ids / room_ids / weekday."""
    d = _Dialect(dialect)
    anc = _ancestors()
    held = Booking.state.in_(list(BOOKED_STATES))
    confirmed = Booking.state == BookingState.CONFIRMED
    resident = Booking.category == UserCategory.RESIDENT

    def count_if(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    def sum_if(condition, column):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, column), else_=0)), 0)

    key_columns = {
        "facility": Booking.facility_id,
        "room": Booking.room_id,
        "weekday": d.weekday(Booking.day),
        "month": d.month_key(Booking.day),
        "fiscal_year": d.fiscal_year(Booking.day),
    }
    stmt = sa.select(
        *[key_columns[k].label(k) for k in keys],
        count_if(held).label("bookings"),
        count_if(Booking.state == BookingState.CANCELLED).label("cancelled"),
        count_if(sa.and_(Booking.state == BookingState.CANCELLED, Booking.late_cancellation.is_(True)))
        .label("cancelled_late"),
        count_if(Booking.state == BookingState.REQUESTED).label("requested"),
        count_if(sa.and_(held, Booking.no_show_at.is_not(None))).label("no_show"),
        count_if(sa.and_(held, Booking.checked_in_at.is_not(None))).label("checked_in"),
        count_if(sa.and_(held, resident, Booking.organization_id.is_not(None))).label("resident_group"),
        count_if(sa.and_(held, resident, Booking.organization_id.is_(None))).label("resident_individual"),
        count_if(sa.and_(held, Booking.category == UserCategory.OUTSIDE)).label("outside"),
        count_if(sa.and_(held, Booking.category == UserCategory.COMMERCIAL)).label("commercial"),
        sum_if(confirmed, Booking.fee_gross_yen).label("fee_gross"),
        sum_if(confirmed, Booking.fee_reduction_yen).label("fee_reduction"),
        sum_if(confirmed, Booking.fee_net_yen).label("fee_net"),
    ).where(*_booking_scope(
        anc, sa.bindparam("facility_ids", expanding=True) if by_facility else None,
        sa.bindparam("room_ids", expanding=True) if by_room else None,
        sa.bindparam("first", type_=sa.Date), sa.bindparam("end", type_=sa.Date)))
    if by_weekday:
        stmt = stmt.where(key_columns["weekday"] == sa.bindparam("weekday", type_=sa.Integer))
    if keys:
        stmt = stmt.group_by(*[key_columns[k] for k in keys])
    return stmt


def top_purposes(
    *, start: date, end: date, facility_ids: Sequence[int] | None = None, room_ids: Sequence[int] | None = None,
    limit: int = 10,
) -> list[tuple[str, int]]:
    """The most frequent purposes (as typed) of bookings in BOOKED_STATES in [start, end), one query."""
    anc = _ancestors()
    count = sa.func.count().label("n")
    stmt = (
        sa.select(Booking.purpose, count)
        .where(Booking.state.in_(list(BOOKED_STATES)), *_booking_scope(anc, facility_ids, room_ids, start, end))
        .group_by(Booking.purpose)
        .order_by(count.desc(), Booking.purpose)
        .limit(limit)
    )
    return [(purpose, int(n)) for purpose, n in db.session.execute(stmt)]


def rate_of(rows: Sequence[UtilizationRow]) -> Decimal | None:
    """The 利用率 of several rows together (sum of booked / sum of bookable)."""
    return _rate(sum(r.booked for r in rows), sum(r.bookable for r in rows))


@dataclass(frozen=True)
class LotteryDemand:
    """抽選 demand for slots in a period: entries, preferences, slots asked for, preferences per slot."""

    entries: int
    preferences: int
    first_choices: int
    slots: int  # distinct (room, day, 時間区分) asked for
    busiest: int  # preferences on the most wanted slot

    @property
    def per_slot(self) -> Decimal | None:
        """Preferences per slot asked for (one decimal)."""
        if not self.slots:
            return None
        return (Decimal(self.preferences) / Decimal(self.slots)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def lottery_demand(
    *, start: date, end: date, facility_ids: Sequence[int] | None = None, room_ids: Sequence[int] | None = None,
) -> LotteryDemand:
    """Lottery preferences for days in [start, end) of the rooms in scope, in ONE query (per-slot subquery)."""
    from app.lottery.models import LotteryPreference

    anc = _ancestors()
    per_slot = (
        sa.select(
            sa.func.count().label("n"),
            sa.func.sum(sa.case((LotteryPreference.rank == 1, 1), else_=0)).label("first"),
        )
        .join(Room, Room.id == LotteryPreference.room_id)
        .where(LotteryPreference.day >= start, LotteryPreference.day < end)
        .group_by(LotteryPreference.room_id, LotteryPreference.day, LotteryPreference.slot_code)
    )
    entries = sa.select(sa.func.count(sa.distinct(LotteryPreference.entry_id))).join(
        Room, Room.id == LotteryPreference.room_id
    ).where(LotteryPreference.day >= start, LotteryPreference.day < end)
    if facility_ids is not None:
        per_slot = per_slot.where(Room.facility_id.in_(list(facility_ids)))
        entries = entries.where(Room.facility_id.in_(list(facility_ids)))
    if room_ids is not None:  # preferences for the rooms or for rooms below them
        below = sa.select(anc.c.room_id).where(anc.c.anc_id.in_(list(room_ids)))
        per_slot = per_slot.where(Room.id.in_(below))
        entries = entries.where(Room.id.in_(below))
    slots = per_slot.subquery()
    row = db.session.execute(sa.select(
        entries.scalar_subquery().label("entries"),
        sa.func.coalesce(sa.func.sum(slots.c.n), 0).label("preferences"),
        sa.func.coalesce(sa.func.sum(slots.c.first), 0).label("first"),
        sa.func.count().label("slots"),
        sa.func.coalesce(sa.func.max(slots.c.n), 0).label("busiest"),
    ).select_from(slots)).one()
    return LotteryDemand(int(row.entries or 0), int(row.preferences), int(row.first), int(row.slots), int(row.busiest))
