"""The utilization rollup: kept current on every flush (equal to a rebuild after any operations), used by the
readers only for the whole months it covers, dropped on bulk writes, rebuilt by the CLI and the daily job."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from app.bookings import services
from app.bookings.models import Booking, BookingItem, BookingState
from app.core.time import fiscal_year, today_tokyo, utcnow
from app.facilities import services as facility_services
from app.facilities.models import Closure, ClosureKind, Room, TimeSlot, UserCategory
from app.utilization import rollup
from app.utilization.compute import booking_stats, compute_utilization
from app.utilization.models import UtilizationBookingRollup, UtilizationUnitRollup
from tests.facilities.factories import make_center
from tests.factories import make_user
from tests.utilization.test_compute_property import DAYS, START, _make, booking_st, closure_st, slot_st

FIRST, END = date(2026, 4, 1), date(2026, 7, 1)  # the rollup's months in the random test


def _snapshot(db) -> list:
    rollup.settle(db.session)  # what this transaction changed (a commit would do it)
    rows = []
    for model in (UtilizationUnitRollup, UtilizationBookingRollup):
        table = model.__table__
        rows.append(sorted(tuple(row) for row in db.session.execute(sa.select(table))))
    return rows


def _assert_equals_rebuild(db) -> None:
    """The rollup as maintained so far equals a rebuild of the same months (and the coverage was kept)."""
    covered = rollup.coverage(db.session)
    assert covered is not None
    maintained = _snapshot(db)
    rollup.rebuild(db.session, first=covered[0], end=covered[1])
    rebuilt = _snapshot(db)
    differences = [(sorted(set(m) - set(r)), sorted(set(r) - set(m))) for m, r in zip(maintained, rebuilt, strict=True)]
    assert rebuilt == maintained, f"(maintained only, rebuilt only) per table: {differences}"


op_st = st.one_of(
    st.tuples(st.just("book"), booking_st, st.sampled_from(list(UserCategory))),
    st.tuples(st.just("state"), st.integers(0, 30), st.sampled_from(list(BookingState))),
    st.tuples(st.just("attendance"), st.integers(0, 30), st.sampled_from([None, "came", "no_show"])),
    st.tuples(st.just("move"), st.integers(0, 30), st.integers(-40, DAYS + 60)),  # also out of the rollup
    st.tuples(st.just("resize"), st.integers(0, 30), st.integers(14, 44), st.integers(1, 6)),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("fee"), st.integers(0, 30), st.integers(0, 5000), st.booleans()),
    st.tuples(st.just("close"), closure_st),
    st.tuples(st.just("move_closure"), st.integers(0, 5), st.integers(-10, 50)),
    st.tuples(st.just("reopen"), st.integers(0, 5)),
    st.tuples(st.just("slot"), slot_st),
    st.tuples(st.just("drop_slot"), st.integers(0, 5)),
    st.tuples(st.just("room"), st.sampled_from(["hall", "half_a", "half_b", "meeting", "studio", "gone"]),
              st.booleans()),
    st.tuples(st.just("hourly"), st.sampled_from(["meeting", "studio"]), st.booleans()),
    st.tuples(st.just("facility"), st.booleans()),
    # A booking moved to another room (a hall to one of its halves and back), a weekly series crossing the
    # month end, and a commit in the middle (the upkeep settles what was noted so far).
    st.tuples(st.just("reroom"), st.integers(0, 30), st.sampled_from(["hall", "half_a", "half_b", "meeting"])),
    st.tuples(st.just("series"), booking_st, st.integers(2, 5)),
    st.tuples(st.just("settle"),),
)


def _apply(db, facility, rooms, op) -> None:
    kind, *args = op
    bookings = list(db.session.scalars(sa.select(Booking).where(Booking.facility_id == facility.id)
                                       .order_by(Booking.id)))
    closures = list(db.session.scalars(sa.select(Closure).where(Closure.facility_id == facility.id)
                                       .order_by(Closure.id)))
    slots = list(db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id == facility.id)
                                    .order_by(TimeSlot.id)))
    on_booking = kind in ("state", "attendance", "move", "resize", "delete", "fee", "reroom")
    booking = bookings[args[0] % len(bookings)] if bookings and on_booking else None
    if kind == "book":
        (room, offset, first, length, state, no_show), category = args
        new = Booking(facility_id=facility.id, room_id=rooms[room].id, day=START + timedelta(days=offset),
                      state=state, category=category, purpose="会議", attendees=1, fee_gross_yen=1000,
                      fee_net_yen=1000, no_show_at=utcnow() if no_show else None)
        new.items = [BookingItem(slot_code="x", label_ja="x", start_minute=first * 30,
                                 end_minute=(first + length) * 30)]
        db.session.add(new)
    elif kind == "state" and booking:
        booking.state = args[1]
        booking.late_cancellation = args[1] == BookingState.CANCELLED and args[0] % 2 == 0
    elif kind == "attendance" and booking:
        booking.checked_in_at = utcnow() if args[1] == "came" else None
        booking.no_show_at = utcnow() if args[1] == "no_show" else None
    elif kind == "move" and booking:
        booking.day = START + timedelta(days=args[1])
    elif kind == "reroom" and booking:
        booking.room_id = rooms[args[1]].id
    elif kind == "series":
        (room, offset, first, length, state, _no_show), count = args
        for week in range(count):  # START + 0..11 days + up to 4 weeks: April into May, also into June
            new = Booking(facility_id=facility.id, room_id=rooms[room].id,
                          day=START + timedelta(days=offset + 7 * week), state=state, category=UserCategory.RESIDENT,
                          purpose="定例会", attendees=1, fee_gross_yen=500, fee_net_yen=500)
            new.items = [BookingItem(slot_code="x", label_ja="x", start_minute=first * 30,
                                     end_minute=(first + length) * 30)]
            db.session.add(new)
    elif kind == "settle":
        rollup.settle(db.session)  # what a commit does before committing
    elif kind == "resize" and booking:
        item = booking.items[0]
        item.start_minute, item.end_minute = args[1] * 30, (args[1] + args[2]) * 30
    elif kind == "delete" and booking:
        db.session.delete(booking)
    elif kind == "fee" and booking:
        booking.fee_gross_yen, booking.fee_reduction_yen, booking.fee_net_yen = args[1], 0, args[1]
        booking.organization_id = None
        booking.category = UserCategory.OUTSIDE if args[2] else UserCategory.RESIDENT
    elif kind == "close":
        offset, length, room = args[0]
        db.session.add(Closure(facility_id=facility.id, room_id=rooms[room].id if room else None,
                               kind=ClosureKind.TEMPORARY, start_date=START + timedelta(days=offset),
                               end_date=START + timedelta(days=offset + length), reason_ja="点検"))
    elif kind == "move_closure" and closures:
        closure = closures[args[0] % len(closures)]
        length = closure.end_date - closure.start_date
        closure.start_date = START + timedelta(days=args[1])
        closure.end_date = closure.start_date + length
    elif kind == "reopen" and closures:
        db.session.delete(closures[args[0] % len(closures)])
    elif kind == "slot":
        weekday, offset, first, length = args[0]
        end = min(first + length, 47)
        from datetime import time

        db.session.add(TimeSlot(
            facility_id=facility.id, code=f"c{len(slots) % 3}", label_ja="枠",
            weekday=None if weekday == "date" else weekday,
            on_date=START + timedelta(days=offset) if weekday == "date" else None,
            start_time=time(first // 2, 30 * (first % 2)), end_time=time(end // 2, 30 * (end % 2))))
    elif kind == "drop_slot" and slots:
        db.session.delete(slots[args[0] % len(slots)])
    elif kind == "room":
        rooms[args[0]].active = args[1]
    elif kind == "hourly":
        rooms[args[0]].hourly = args[1]
    elif kind == "facility":
        facility.closed_on_holidays = args[0]
    db.session.flush()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slots=st.lists(slot_st, min_size=1, max_size=4),
    closures=st.lists(closure_st, max_size=2),
    bookings=st.lists(booking_st, max_size=8),
    ops=st.lists(op_st, min_size=1, max_size=12),
)
def test_maintained_rollup_equals_a_rebuild_after_random_operations(app_ctx, slots, closures, bookings, ops):
    db = app_ctx
    facility, rooms = _make(slots, closures, bookings, closed_on_holidays=False)
    try:
        rollup.rebuild(db.session, first=FIRST, end=END)
        before = compute_utilization(start=FIRST, end=END, facility_ids=[facility.id])[0]
        for op in ops:
            _apply(db, facility, rooms, op)
        maintained = compute_utilization(start=FIRST, end=END, facility_ids=[facility.id], group_by=("month",))
        stats = booking_stats(start=FIRST, end=END, facility_ids=[facility.id], group_by=("room", "weekday"))
        _assert_equals_rebuild(db)
        # ... and what readers get from it equals the live SQL (the definition)
        rollup.drop_coverage(db.session)
        assert compute_utilization(start=FIRST, end=END, facility_ids=[facility.id], group_by=("month",)) \
            == maintained
        assert [(s.key, s.bookings, s.cancelled_late, s.no_show, s.mix, s.fee_net) for s in stats] == [
            (s.key, s.bookings, s.cancelled_late, s.no_show, s.mix, s.fee_net)
            for s in booking_stats(start=FIRST, end=END, facility_ids=[facility.id], group_by=("room", "weekday"))]
        assert before.bookable >= 0
    finally:
        db.session.rollback()


def _user(db, user_id):
    from app.accounts.models import User

    return db.session.get(User, user_id)


def test_every_booking_service_keeps_the_rollup_current(app_ctx):
    from app.facilities.models import Facility

    db = app_ctx
    center = make_center(tentative_hold_days=3)
    user, staff = _user(db, make_user().id), _user(db, make_user().id)
    year = fiscal_year(today_tokyo())
    rollup.rebuild(db.session, first=date(year, 4, 1), end=date(year + 2, 4, 1))
    db.session.commit()
    day = today_tokyo() + timedelta(days=10)
    morning, evening = f"s{center.slot_ids['morning']}", f"s{center.slot_ids['evening']}"

    def book(room_id, keys):
        booking = services.book_slots(user=user, room_id=room_id, day=day, unit_keys=keys, attendees=5,
                                      category=UserCategory.RESIDENT, purpose="町会の会議")
        db.session.commit()
        return booking

    def month_of(on):
        first = on.replace(day=1)
        return compute_utilization(start=first, end=rollup.add_months(first, 1),
                                   facility_ids=[center.facility_id])[0]

    empty = month_of(day)
    hall = book(center.hall_id, [morning])  # 仮予約 (a fee): both halves booked
    assert hall.state == BookingState.TENTATIVE
    assert month_of(day).booked == empty.booked + 2
    _assert_equals_rebuild(db)
    services.record_payment(hall, actor=staff)
    meeting = book(center.meeting_id, [morning, evening])
    services.cancel_booking(meeting, actor=user)
    db.session.commit()
    assert month_of(day).booked == empty.booked + 2
    _assert_equals_rebuild(db)
    book(center.meeting_id, [evening])
    assert month_of(day).booked == empty.booked + 3
    assert services.expire_tentative(now=utcnow() + timedelta(days=4)) == 1
    db.session.commit()
    assert month_of(day).booked == empty.booked + 2
    _assert_equals_rebuild(db)
    db.session.get(Room, center.meeting_id).requires_approval = True
    db.session.commit()
    rejected = book(center.meeting_id, [morning])
    assert (rejected.state, month_of(day).booked) == (BookingState.REQUESTED, empty.booked + 2)  # not counted
    services.decide_booking(rejected, actor=staff, approve=False)
    db.session.commit()
    approved = book(center.meeting_id, [morning])
    services.decide_booking(approved, actor=staff, approve=True)
    db.session.commit()
    assert month_of(day).booked == empty.booked + 3
    _assert_equals_rebuild(db)
    services.mark_attendance(hall, actor=staff, came=False, now=utcnow() + timedelta(days=11))
    db.session.commit()
    assert month_of(day).used == empty.used + 1  # the meeting room's morning; the hall's halves were no-shows
    _assert_equals_rebuild(db)
    later = day + timedelta(days=40)
    closure = facility_services.add_closure(
        facility=db.session.get(Facility, center.facility_id), room_id=None, kind=ClosureKind.TEMPORARY,
        first_day=later, last_day=later + timedelta(days=2), reason="点検", actor=staff)
    db.session.commit()
    closed = month_of(later)
    _assert_equals_rebuild(db)
    facility_services.remove_closure(closure, actor=staff)
    db.session.commit()
    assert month_of(later).bookable > closed.bookable  # 3 days x 19 units, less any 祝日 the centre closes on
    _assert_equals_rebuild(db)
    db.session.commit()


def test_one_commit_of_mixed_booking_changes_rewrites_only_their_keys(app_ctx):
    """One commit moves a hall booking to a half on another day, cancels a half's booking, moves a booking
    across the month end and adds one in a later month: the rollup equals a rebuild, and a row of a key no
    booking touched (tampered with beforehand) was not rewritten - the upkeep is by room x month x weekday."""
    db = app_ctx
    center = make_center()
    rollup.rebuild(db.session, first=date(2026, 4, 1), end=date(2026, 8, 1))
    db.session.commit()

    def add(room_id, day, start, end):
        booking = Booking(facility_id=center.facility_id, room_id=room_id, day=day, state=BookingState.CONFIRMED,
                          category=UserCategory.RESIDENT, purpose="会議", attendees=1, fee_gross_yen=800,
                          fee_net_yen=800)
        booking.items = [BookingItem(slot_code="x", label_ja="x", start_minute=start, end_minute=end)]
        db.session.add(booking)
        return booking

    hall = add(center.hall_id, date(2026, 5, 13), 9 * 60, 12 * 60)  # Wednesday: both halves booked
    half = add(center.hall_a_id, date(2026, 5, 14), 13 * 60, 17 * 60)
    meeting = add(center.meeting_id, date(2026, 5, 29), 18 * 60, 21 * 60)  # the last Friday of May
    db.session.commit()
    _assert_equals_rebuild(db)
    db.session.commit()
    units = UtilizationUnitRollup.__table__
    untouched = sa.and_(units.c.room_id == center.studio_id, units.c.month == 202605, units.c.weekday == 0)
    original = sorted(tuple(row) for row in db.session.execute(sa.select(units).where(untouched)))
    assert original and any(row.bookable > row.booked for row in db.session.execute(sa.select(units).where(untouched)))
    db.session.execute(sa.update(units).where(untouched).values(booked=units.c.bookable))  # never done by the app
    db.session.commit()

    hall.room_id, hall.day = center.hall_b_id, date(2026, 5, 20)
    half.state, half.late_cancellation = BookingState.CANCELLED, True
    meeting.day = date(2026, 6, 5)  # into June, same weekday
    add(center.hall_id, date(2026, 7, 7), 9 * 60, 17 * 60)
    db.session.commit()

    tampered = db.session.execute(sa.select(units).where(untouched)).all()
    assert all(row.booked == row.bookable for row in tampered)  # not rewritten: nobody touched that key
    db.session.execute(sa.delete(units).where(untouched))
    db.session.execute(sa.insert(units), [dict(zip(units.c.keys(), row, strict=True)) for row in original])
    _assert_equals_rebuild(db)
    may = compute_utilization(start=date(2026, 5, 1), end=date(2026, 6, 1), facility_ids=[center.facility_id],
                              group_by=("room",))
    assert {r.key["room"]: r.booked for r in may if r.booked} == {center.hall_b_id: 1}
    june = booking_stats(start=date(2026, 6, 1), end=date(2026, 7, 1), facility_ids=[center.facility_id])[0]
    assert (june.bookings, june.fee_net) == (1, 800)
    db.session.commit()


def test_a_bulk_write_drops_the_coverage_and_readers_go_live(app_ctx):
    db = app_ctx
    center = make_center()
    rollup.rebuild(db.session, first=date(2026, 4, 1), end=date(2026, 6, 1))
    db.session.commit()
    add = Booking(facility_id=center.facility_id, room_id=center.meeting_id, day=date(2026, 5, 11),
                  state=BookingState.CONFIRMED, category=UserCategory.RESIDENT, purpose="会議", attendees=1)
    add.items = [BookingItem(slot_code="x", label_ja="x", start_minute=9 * 60, end_minute=12 * 60)]
    db.session.add(add)
    db.session.commit()
    assert rollup.coverage(db.session) is not None
    db.session.execute(sa.update(Booking).where(Booking.id == add.id).values(state=BookingState.CANCELLED))
    assert rollup.coverage(db.session) is None  # the rollup cannot know which rows changed
    db.session.commit()
    total = compute_utilization(start=date(2026, 5, 1), end=date(2026, 6, 1), facility_ids=[center.facility_id])
    assert total[0].booked == 0
    rollup.rebuild(db.session, first=date(2026, 4, 1), end=date(2026, 6, 1))
    db.session.commit()
    assert compute_utilization(start=date(2026, 5, 1), end=date(2026, 6, 1),
                               facility_ids=[center.facility_id])[0] == total[0]


def test_readers_use_the_rollup_for_whole_months_only(app_ctx):
    db = app_ctx
    center = make_center()
    rollup.rebuild(db.session, first=date(2026, 4, 1), end=date(2026, 6, 1))
    db.session.commit()
    # Tamper with the rollup (never done by the app) to see which days come from it.
    db.session.execute(sa.update(UtilizationUnitRollup).where(UtilizationUnitRollup.month == 202605)
                       .values(booked=UtilizationUnitRollup.bookable))
    whole = compute_utilization(start=date(2026, 5, 1), end=date(2026, 6, 1), facility_ids=[center.facility_id])[0]
    assert whole.booked == whole.bookable > 0  # May: from the rollup
    part = compute_utilization(start=date(2026, 5, 2), end=date(2026, 6, 1), facility_ids=[center.facility_id])[0]
    assert part.booked == 0  # not a whole month: live
    wider = compute_utilization(start=date(2026, 4, 30), end=date(2026, 6, 2), facility_ids=[center.facility_id])[0]
    assert wider.booked == whole.booked  # May from the rollup, April 30 and June 1 live
    assert wider.bookable == whole.bookable + 2 * 19
    db.session.rollback()


def test_cli_rebuild_is_idempotent_and_checks_its_dates(app):
    center = make_center()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["utilization", "rebuild", "--from", "2026-04-15", "--to", "2026-06-01"])
    assert result.exit_code == 0, result.output
    assert "2026-04-01 .. 2026-06-01" in result.output
    with app.app_context():
        first = _snapshot(rollup_db())
        assert any(row[0] == center.meeting_id for row in first[0])
    again = runner.invoke(args=["utilization", "rebuild", "--from", "2026-04-01", "--to", "2026-06-01"])
    assert again.exit_code == 0
    with app.app_context():
        assert _snapshot(rollup_db()) == first
        assert rollup.coverage(rollup_db().session) == (date(2026, 4, 1), date(2026, 6, 1))
    bad = runner.invoke(args=["utilization", "rebuild", "--from", "2026-13-01"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def rollup_db():
    from app.extensions import db

    return db


def test_the_daily_job_builds_then_extends(app_ctx):
    db = app_ctx
    make_center()
    assert rollup.coverage(db.session) is None
    today = today_tokyo()
    assert rollup.extend(db.session) > 0
    first, end = rollup.coverage(db.session)
    assert first <= date(fiscal_year(today) - 1, 4, 1) and end == date(fiscal_year(today) + 2, 4, 1)
    assert rollup.extend(db.session, today=date(fiscal_year(today) + 1, 4, 1)) > 0  # a year later: one more year
    assert rollup.coverage(db.session) == (first, date(fiscal_year(today) + 3, 4, 1))
    db.session.commit()


def test_simultaneous_bookings_in_one_facility_month_keep_the_rollup_exact(app):
    """8 threads book the same room on the same weekday of one month at once (the same rollup rows), each in
    its own transaction: none fails (PostgreSQL: the advisory lock orders the recomputes; SQLite: writers are
    serialised) and the rollup equals a rebuild."""
    import threading

    center, first = _center_with_a_rollup_month(app)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    # Four weeks x two slots of one room: every booking rewrites the same rollup rows (one room, month and
    # weekday), which two writers must never do at once.
    bookings = [(first + timedelta(days=7 * week), center.slot_ids[slot])
                for slot in ("morning", "evening") for week in range(4)]
    _run([threading.Thread(target=_book_and_commit, args=(app, errors, make_user().id, center, day, slot_id,
                                                          barrier.wait))
          for day, slot_id in bookings])
    assert errors == []
    _assert_month_booked(app, center, first, 8)


def test_interleaved_upkeep_waits_for_the_lock_and_collides_without_it_postgresql(app, monkeypatch):
    """One schedule forced, not hoped for: A books and recomputes its room's rollup rows (month, weekday) and has
    not committed when B, booking the same room on the same weekday, starts its own recompute. With the advisory
    lock B waits for A's commit and the rollup stays exact; the control, the same schedule without the lock,
    collides on the rollup's keys - which shows the tests above would catch a missing lock."""
    from app.extensions import db

    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers: B cannot begin its upkeep while A holds its writes")
    center, first = _center_with_a_rollup_month(app)
    assert _interleaved_upkeep(app, monkeypatch, center, first, weeks=(0, 1)) == []
    _assert_month_booked(app, center, first, 2)

    monkeypatch.setattr(rollup, "_lock", lambda *args, **kwargs: None)
    errors = _interleaved_upkeep(app, monkeypatch, center, first, weeks=(2, 3))  # the same rollup rows
    assert [type(error) for error in errors] == [IntegrityError]


def _interleaved_upkeep(app, monkeypatch, center, first: date, weeks: tuple[int, int]) -> list[BaseException]:
    """A and B book the meeting room's morning FIRST + WEEKS weeks on (one weekday of one month); after its upkeep
    wrote, A's commit waits until B's upkeep has begun and B waits on a lock. The errors raised (B's, if any)."""
    import threading

    from app.extensions import db
    from tests.concurrency import wait_for_a_lock_waiter

    a_wrote, b_settling = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    settle = rollup.settle

    def scheduled_settle(session, **kwargs):
        if threading.current_thread().name == "B":
            b_settling.set()
        settle(session, **kwargs)
        if threading.current_thread().name == "A":
            a_wrote.set()
            if not (b_settling.wait(timeout=30) and wait_for_a_lock_waiter(db.engine)):
                raise AssertionError("B's upkeep never waited on A: the schedule was not the one under test")

    def after_a() -> None:
        if not a_wrote.wait(timeout=30):
            raise AssertionError("A never wrote its upkeep")

    monkeypatch.setattr(rollup, "settle", scheduled_settle)
    morning = center.slot_ids["morning"]
    _run([threading.Thread(target=_book_and_commit, name=name,
                           args=(app, errors, make_user().id, center, first + timedelta(days=7 * week), morning, wait))
          for name, week, wait in (("A", weeks[0], None), ("B", weeks[1], after_a))])
    monkeypatch.setattr(rollup, "settle", settle)
    return errors


def _center_with_a_rollup_month(app):
    """A committed center, and next month's first day: the rollup covers that month."""
    from app.extensions import db

    center = make_center(max_active_per_month=50)
    first = rollup.add_months(today_tokyo().replace(day=1), 1)
    with app.app_context():
        rollup.rebuild(db.session, first=first, end=rollup.add_months(first, 1))
        db.session.commit()
        db.session.remove()
    return center, first


def _book_and_commit(app, errors: list, user_id: int, center, day: date, slot_id: int, wait=None) -> None:
    """In its own app context and transaction: (WAIT, then) book the meeting room's slot and commit; an error is
    appended to ERRORS."""
    from app.extensions import db

    with app.app_context():
        try:
            if wait is not None:
                wait()
            services.book_slots(user=_user(db, user_id), room_id=center.meeting_id, day=day,
                                unit_keys=[f"s{slot_id}"], attendees=5, category=UserCategory.RESIDENT,
                                purpose="同時")
            db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)
            db.session.rollback()
        finally:
            db.session.remove()


def _run(threads) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def _assert_month_booked(app, center, first: date, booked: int) -> None:
    """The month from FIRST holds BOOKED booked units, and the rollup equals a rebuild."""
    from app.extensions import db

    with app.app_context():
        try:
            month = compute_utilization(start=first, end=rollup.add_months(first, 1),
                                        facility_ids=[center.facility_id])[0]
            assert month.booked == booked
            _assert_equals_rebuild(db)
        finally:
            db.session.rollback()
            db.session.remove()
