"""利用率 computed in SQL: bookable units from a calendar CTE x 時間区分 templates minus closures, booked units.

This is THE function for utilization: the staff dashboards, their exports, the JSON API and the indicators
issue (区民センター利用率, 伝統文化交流館「交流の間」利用件数) all call `compute_utilization` and `booking_stats`
from here (`from app.utilization.compute import compute_utilization`).

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.bookings.models import Booking, BookingState
from app.extensions import db
from app.facilities.models import Room
from app.lottery.models import LotteryPreference
from app.utilization.models import UtilizationBookingRollup, UtilizationUnitRollup
from app.utilization.months import add_months, month_ceiling, month_floor, month_key
from app.utilization.rollup import coverage, settle, stale_months
from app.utilization.sql import (
    BOOKED_STATES,
    MIX_KEYS,
    STAT_FIELDS,
    ancestors,
    booking_scope,
    live_booking_stats,
    live_utilization,
)

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
    the same counts (tests/utilization/test_rollup.py): 1 query for the coverage, 1 for the rollup, 1 per
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
        parts += live_utilization(session, start=first, end=last, facility_ids=facility_ids, room_ids=room_ids,
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
    R = UtilizationUnitRollup

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


MIX_LABELS = {
    "resident_group": _l("区内団体"),
    "resident_individual": _l("区内個人"),
    "outside": _l("区外"),
    "commercial": _l("営利"),
}


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
        parts += live_booking_stats(session, start=first, end=last, facility_ids=facility_ids, room_ids=room_ids,
                                     keys=keys)
    result = [_stats_of(key, counts) for key, counts in _merge(parts, keys, width=len(STAT_FIELDS))]
    if not keys and not result:
        result.append(BookingStats(key={}, mix=dict.fromkeys(MIX_KEYS, 0)))
    return result


def _stats_of(key: dict, counts: Sequence[int]) -> BookingStats:
    values = dict(zip(STAT_FIELDS, counts, strict=True))
    return BookingStats(
        key=key, mix={k: values.pop(k) for k in MIX_KEYS}, **values,
    )


def _rollup_scope(stmt, R, first: date, last: date, *, facility_ids, room_ids):
    """STMT over a rollup table R narrowed to the whole months [first, last), the facilities and the rooms (a room
    also stands for the rooms below it)."""
    stmt = stmt.where(R.month >= month_key(first), R.month < month_key(last))
    if facility_ids is not None:
        stmt = stmt.where(R.facility_id.in_(list(facility_ids)))
    if room_ids is not None:
        anc = ancestors()
        stmt = stmt.where(R.room_id.in_(sa.select(anc.c.room_id).where(anc.c.anc_id.in_(list(room_ids)))))
    return stmt


def _rollup_booking_stats(session, first: date, last: date, *, facility_ids, room_ids, keys):
    """Rows (key, *STAT_FIELDS) of the whole months [first, last) from the rollup, ONE statement."""
    R = UtilizationBookingRollup

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


def top_purposes(
    *, start: date, end: date, facility_ids: Sequence[int] | None = None, room_ids: Sequence[int] | None = None,
    limit: int = 10,
) -> list[tuple[str, int]]:
    """The most frequent purposes (as typed) of bookings in BOOKED_STATES in [start, end), one query."""
    anc = ancestors()
    count = sa.func.count().label("n")
    stmt = (
        sa.select(Booking.purpose, count)
        .where(Booking.state.in_(list(BOOKED_STATES)), *booking_scope(anc, facility_ids, room_ids, start, end))
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
    anc = ancestors()
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
