"""Property test: compute_utilization (SQL, live and through the rollup) equals a brute-force count in Python."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.bookings.models import Booking, BookingItem, BookingState
from app.core.districts import District
from app.core.time import utcnow
from app.extensions import db
from app.facilities.availability import RoomNode, SlotDef, slots_for_day, units_for
from app.facilities.models import Closure, ClosureKind, Facility, FacilityKind, Room, RoomKind, TimeSlot, UserCategory
from app.facilities.queries import holidays_between
from app.utilization import rollup
from app.utilization.compute import BOOKED_STATES, compute_utilization

START = date(2026, 4, 27)  # a week with 昭和の日 and the Golden Week holidays, across a month and no fiscal year end
DAYS = 12
END = START + timedelta(days=DAYS)
ROLLUP_FIRST, ROLLUP_END = date(2026, 4, 1), date(2026, 6, 1)  # the whole months around START .. END
_n = itertools.count(1)

slot_st = st.tuples(
    st.sampled_from([None, None, 0, 2, 5, 6, 7, "date"]),  # weekday, 7 = holiday rows, "date" = an override
    st.integers(min_value=0, max_value=DAYS - 1),
    st.integers(min_value=16, max_value=40),  # start in half hours (8:00 .. 20:00)
    st.integers(min_value=1, max_value=8),  # length in half hours
)
closure_st = st.tuples(
    st.integers(min_value=-2, max_value=DAYS - 1), st.integers(min_value=1, max_value=4),
    st.sampled_from([None, "hall", "half_a", "meeting"]),
)
booking_st = st.tuples(
    st.sampled_from(["hall", "half_a", "half_b", "meeting", "studio"]),
    st.integers(min_value=0, max_value=DAYS - 1),
    st.integers(min_value=14, max_value=44), st.integers(min_value=1, max_value=6),
    st.sampled_from(list(BookingState)),
    st.booleans(),  # marked as a no-show
)


def _make(slots, closures, bookings, closed_on_holidays):
    facility = Facility(kind=FacilityKind.COMMUNITY_CENTER, district=District.SHIBA, name_ja=f"性質{next(_n)}",
                        address_ja="港区", closed_on_holidays=closed_on_holidays)
    db.session.add(facility)
    db.session.flush()
    rooms = {}
    rooms["hall"] = Room(facility_id=facility.id, kind=RoomKind.HALL, name_ja="ホール", capacity=10)
    db.session.add(rooms["hall"])
    db.session.flush()
    rooms["half_a"] = Room(facility_id=facility.id, parent_id=rooms["hall"].id, kind=RoomKind.HALL, name_ja="A",
                           capacity=5)
    rooms["half_b"] = Room(facility_id=facility.id, parent_id=rooms["hall"].id, kind=RoomKind.HALL, name_ja="B",
                           capacity=5)
    rooms["meeting"] = Room(facility_id=facility.id, kind=RoomKind.MEETING, name_ja="会議室", capacity=5)
    rooms["studio"] = Room(facility_id=facility.id, kind=RoomKind.MUSIC, name_ja="スタジオ", capacity=5, hourly=True)
    rooms["gone"] = Room(facility_id=facility.id, kind=RoomKind.MEETING, name_ja="廃止", capacity=5, active=False)
    db.session.add_all(list(rooms.values()))
    db.session.flush()
    for i, (weekday, offset, first, length) in enumerate(slots):
        end = min(first + length, 47)
        db.session.add(TimeSlot(
            facility_id=facility.id, code=f"c{i % 3}", label_ja="枠",
            weekday=None if weekday == "date" else weekday,
            on_date=START + timedelta(days=offset) if weekday == "date" else None,
            start_time=time(first // 2, 30 * (first % 2)), end_time=time(end // 2, 30 * (end % 2)),
        ))
    for offset, length, room in closures:
        db.session.add(Closure(facility_id=facility.id, room_id=rooms[room].id if room else None,
                               kind=ClosureKind.TEMPORARY, start_date=START + timedelta(days=offset),
                               end_date=START + timedelta(days=offset + length), reason_ja="点検"))
    for room, offset, first, length, state, no_show in bookings:
        booking = Booking(facility_id=facility.id, room_id=rooms[room].id, day=START + timedelta(days=offset),
                          state=state, category=UserCategory.RESIDENT, purpose="会議", attendees=1,
                          no_show_at=utcnow() if no_show else None)
        booking.items = [BookingItem(slot_code="x", label_ja="x", start_minute=first * 30,
                                     end_minute=(first + length) * 30)]
        db.session.add(booking)
    db.session.flush()
    return facility, rooms


def _brute_force(facility, rooms, start: date = START, end: date = END) -> Counter:
    """Counters (weekday, slot code) -> bookable, booked and used units, counted one unit at a time."""
    holidays = holidays_between(start, end)
    slots = [SlotDef(s.id, s.code, s.code, s.start_time.hour * 60 + s.start_time.minute,
                     s.end_time.hour * 60 + s.end_time.minute, s.weekday, s.on_date)
             for s in db.session.scalars(db.select(TimeSlot).where(TimeSlot.facility_id == facility.id))]
    closures = list(db.session.scalars(db.select(Closure).where(Closure.facility_id == facility.id)))
    bookings = list(db.session.scalars(db.select(Booking).where(Booking.facility_id == facility.id)))
    active = [r for r in rooms.values() if r.active]
    leaves = [r for r in active if not any(c.parent_id == r.id for c in active)]
    bookable, booked, used = Counter(), Counter(), Counter()
    for i in range((end - start).days):
        day = start + timedelta(days=i)
        if facility.closed_on_holidays and day in holidays:
            continue
        day_slots = slots_for_day(slots, day, holidays)
        for leaf in leaves:
            mine = {leaf.id} | ({leaf.parent_id} if leaf.parent_id else set())
            if any(c.start_date <= day < c.end_date and (c.room_id is None or c.room_id in mine) for c in closures):
                continue
            for unit in units_for(RoomNode(leaf.id, leaf.parent_id, leaf.hourly), day_slots):
                key = (day.weekday(), unit.slot.code)
                bookable[key] += 1
                hits = [b for b in bookings if b.day == day and b.room_id in mine and b.state in BOOKED_STATES
                        and any(it.start_minute < unit.end and it.end_minute > unit.start for it in b.items)]
                if hits:
                    booked[key] += 1
                if any(b.no_show_at is None for b in hits):
                    used[key] += 1
    return bookable, booked, used


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slots=st.lists(slot_st, min_size=0, max_size=6),
    closures=st.lists(closure_st, max_size=3),
    bookings=st.lists(booking_st, max_size=12),
    closed_on_holidays=st.booleans(),
)
def test_sql_matches_brute_force(app_ctx, slots, closures, bookings, closed_on_holidays):
    facility, rooms = _make(slots, closures, bookings, closed_on_holidays)
    try:
        expected_bookable, expected_booked, expected_used = _brute_force(facility, rooms)
        rows = compute_utilization(start=START, end=END, facility_ids=[facility.id], group_by=("weekday", "slot"))
        got_bookable = Counter({(r.key["weekday"], r.key["slot"]): r.bookable for r in rows})
        got_booked = Counter({(r.key["weekday"], r.key["slot"]): r.booked for r in rows if r.booked})
        assert got_bookable == expected_bookable
        assert got_booked == expected_booked
        assert Counter({(r.key["weekday"], r.key["slot"]): r.used for r in rows if r.used}) == expected_used
        total = compute_utilization(start=START, end=END, facility_ids=[facility.id])[0]
        assert (total.bookable, total.booked, total.used) == (
            expected_bookable.total(), expected_booked.total(), expected_used.total())

        # The same through the rollup: April and May from it (whole months), the days before START live.
        rollup.rebuild(db.session, first=ROLLUP_FIRST, end=ROLLUP_END)
        for start in (ROLLUP_FIRST, START - timedelta(days=3)):
            bookable, booked, used = _brute_force(facility, rooms, start, ROLLUP_END)
            rows = compute_utilization(start=start, end=ROLLUP_END, facility_ids=[facility.id],
                                       group_by=("weekday", "slot"))
            assert Counter({(r.key["weekday"], r.key["slot"]): r.bookable for r in rows}) == bookable
            assert Counter({(r.key["weekday"], r.key["slot"]): r.booked for r in rows if r.booked}) == booked
            assert Counter({(r.key["weekday"], r.key["slot"]): r.used for r in rows if r.used}) == used
    finally:
        db.session.rollback()
