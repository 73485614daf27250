"""The SQL that defines the utilization numbers, for SQLite and PostgreSQL: the calendar CTE, the room
ancestry, the scope, and the live statements of units (bookable, booked, used) and of booking figures.

Each live statement is built once per dialect and shape (lru_cache) with every value a bind parameter. The
definitions they implement are in app/utilization/compute.py (FORMULAS); the rollup stores what they return.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa

from app.bookings.models import Booking, BookingItem, BookingState
from app.core.db import Dialect
from app.extensions import db
from app.facilities.models import Closure, Facility, Room, TimeSlot, UserCategory
from app.facilities.queries import holidays_between

BOOKED_STATES = (BookingState.CONFIRMED, BookingState.TENTATIVE)


HOLIDAY_WEEKDAY = 7


HOUR = 60


CELL_MINUTES = 30


def dialect() -> Dialect:
    return Dialect(db.session.get_bind().dialect.name)


def ancestors():
    """Recursive CTE (room_id, anc_id): every room with itself and each of its parents, grandparents ..."""
    base = sa.select(Room.id.label("room_id"), Room.id.label("anc_id"))
    anc = base.cte("room_ancestors", recursive=True)
    parent = sa.orm.aliased(Room)
    return anc.union_all(
        sa.select(anc.c.room_id, parent.parent_id)
        .join(parent, parent.id == anc.c.anc_id)
        .where(parent.parent_id.is_not(None))
    )


def calendar(d: Dialect, first, first_wd, last):
    """Recursive CTE (day, wd) of the days from FIRST to LAST included (bind parameters: Date, its weekday with
    0 = Monday, Date)."""
    base = sa.select(d.day_literal(first).label("day"), first_wd.label("wd"))
    cal = base.cte("calendar", recursive=True)
    return cal.union_all(
        sa.select(d.next_day(cal.c.day), (cal.c.wd + 1) % 7)
        .where(cal.c.day < d.day_literal(last))
    )


def scope_rooms(anc, facility_ids: Sequence[int] | None, room_ids: Sequence[int] | None):
    """Conditions on Room selecting active leaf rooms of active facilities in scope."""
    child = sa.orm.aliased(Room)
    conditions = [
        Room.active.is_(True),
        ~sa.exists().where(child.parent_id == Room.id, child.active.is_(True)),
        Room.facility_id.in_(sa.select(Facility.id).where(Facility.active.is_(True)).scalar_subquery()),
    ]
    if facility_ids is not None:
        conditions.append(Room.facility_id.in_(in_list(facility_ids)))
    if room_ids is not None:  # a parent room means the leaves below it
        conditions.append(Room.id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(in_list(room_ids)))))
    return conditions


def in_list(values):
    """An IN list: a bind parameter as is (cached statements), else the values as a list."""
    return values if isinstance(values, sa.BindParameter) else list(values)


@functools.lru_cache(maxsize=512)
def holidays(start: date, end: date) -> tuple[date, ...]:
    """holidays_between as a sorted tuple, kept per range (the library takes milliseconds per month)."""
    return tuple(sorted(holidays_between(start, end)))


def live_params(start: date, end: date, *, facility_ids, room_ids, weekday, states=None) -> dict:
    """The bind parameters of the cached live statements."""
    params = {"first": start, "end": end, "last": end - timedelta(days=1), "first_wd": start.weekday(),
              "holidays": list(holidays(start, end))}
    if facility_ids is not None:
        params["facility_ids"] = list(facility_ids)
    if room_ids is not None:
        params["room_ids"] = list(room_ids)
    if weekday is not None:
        params["weekday"] = weekday
    if states is not None:
        params["states"] = list(states)
    return params


def live_utilization(session, *, start: date, end: date, facility_ids, room_ids, keys, states=BOOKED_STATES,
                      weekday: int | None = None):
    """Rows (key, bookable, booked, used) of [start, end) computed from templates, closures and bookings in ONE
    SQL statement (the definition of the numbers; the rollup stores what this returns). WEEKDAY (0 = Monday)
    keeps the days of that weekday only (the rollup's upkeep of one booking's keys).

    The statement is built once per dialect and shape (lru_cache), with every value a bind parameter:
    building it took most of a booking commit's time when the rollup recomputed at each commit."""
    stmt = live_utilization_statement(session.get_bind().dialect.name, tuple(keys), facility_ids is not None,
                                       room_ids is not None, weekday is not None)
    params = live_params(start, end, facility_ids=facility_ids, room_ids=room_ids, weekday=weekday, states=states)
    return [({k: getattr(row, k) for k in keys}, row.bookable, row.booked, row.used)
            for row in session.execute(stmt, params) if row.bookable]


@functools.lru_cache(maxsize=64)
def live_utilization_statement(dialect: str, keys: tuple[str, ...], by_facility: bool, by_room: bool,
                                by_weekday: bool):
    """The statement of live_utilization; parameters: first, end, last (= end - 1 day), first_wd (first's
    weekday), holidays, states, and facility_ids / room_ids / weekday when asked for."""
    d = Dialect(dialect)
    facility_ids = sa.bindparam("facility_ids", expanding=True) if by_facility else None
    room_ids = sa.bindparam("room_ids", expanding=True) if by_room else None
    weekday = sa.bindparam("weekday", type_=sa.Integer) if by_weekday else None
    anc = ancestors()
    cal = calendar(d, sa.bindparam("first", type_=sa.Date), sa.bindparam("first_wd", type_=sa.Integer),
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
    open_units = [*scope_rooms(anc, facility_ids, room_ids), fd.c.holiday_closed == 0, ~closed]

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


MIX_KEYS = ("resident_group", "resident_individual", "outside", "commercial")


def booking_scope(anc, facility_ids, room_ids, start, end):
    conditions = [Booking.day >= start, Booking.day < end]
    if facility_ids is not None:
        conditions.append(Booking.facility_id.in_(in_list(facility_ids)))
    if room_ids is not None:  # bookings of the rooms or of rooms below them
        conditions.append(Booking.room_id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(in_list(room_ids)))))
    return conditions


STAT_FIELDS = ("bookings", "cancelled", "cancelled_late", "requested", "no_show", "checked_in", *MIX_KEYS,
               "fee_gross", "fee_reduction", "fee_net")


def live_booking_stats(session, *, start: date, end: date, facility_ids, room_ids, keys, weekday: int | None = None):
    """Rows (key, *STAT_FIELDS) of bookings whose day is in [start, end), from the bookings in ONE statement
    (built once per dialect and shape, values bound; WEEKDAY as in live_utilization)."""
    stmt = live_booking_stats_statement(session.get_bind().dialect.name, tuple(keys), facility_ids is not None,
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
def live_booking_stats_statement(dialect: str, keys: tuple[str, ...], by_facility: bool, by_room: bool,
                                  by_weekday: bool):
    """The statement of live_booking_stats; parameters: first, end, and facility_ids / room_ids / weekday."""
    d = Dialect(dialect)
    anc = ancestors()
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
    ).where(*booking_scope(
        anc, sa.bindparam("facility_ids", expanding=True) if by_facility else None,
        sa.bindparam("room_ids", expanding=True) if by_room else None,
        sa.bindparam("first", type_=sa.Date), sa.bindparam("end", type_=sa.Date)))
    if by_weekday:
        stmt = stmt.where(key_columns["weekday"] == sa.bindparam("weekday", type_=sa.Integer))
    if keys:
        stmt = stmt.group_by(*[key_columns[k] for k in keys])
    return stmt
