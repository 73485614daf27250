"""Check-then-write booking rules under concurrency (issue #20): two or more writers released together by a
barrier, each in its own session, the rule asserted afterwards. On PostgreSQL the rule holds by the advisory locks
of app/core/locks.py; on SQLite by BEGIN IMMEDIATE. Each rule's check is widened (tests/faults.py:widened) so that
the racers overlap between check and write in every round; the control (PostgreSQL only: SQLite has no lock to take
out) runs the same rounds without the lock and must see the rule broken, which shows the test would catch it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.bookings import series as series_services
from app.bookings import services as booking_services
from app.bookings.models import ACTIVE_STATES, Booking, BookingItem
from app.core.errors import DomainError
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities import services as facility_services
from app.facilities.models import Closure, ClosureKind, Facility, UserCategory
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center
from tests.factories import make_user
from tests.faults import widened, without_lock

ROUNDS = 5


def _postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def _attempt(write) -> str:
    """Run one writer in the thread's session: "ok" after its commit, "refused" on a rule's DomainError."""
    try:
        write()
        db.session.commit()
        return "ok"
    except DomainError:
        db.session.rollback()
        return "refused"
    finally:
        db.session.remove()


def _book(user_id: int, room_id: int, day, slot_id: int, organization_id: int | None = None) -> None:
    booking_services.book_slots(user=db.session.get(User, user_id), room_id=room_id, day=day,
                                unit_keys=[f"s{slot_id}"], purpose="同時実行の試験", attendees=5,
                                category=UserCategory.RESIDENT, organization_id=organization_id)


# --- a closure and a booking on the same day -------------------------------------------------------------------


def _closure_rounds(app, first_day) -> tuple[int, list[list[str]]]:
    """ROUNDS times, a resident books the meeting room while staff close the facility on that day; returns the
    number of rounds that left an active booking inside a closure, and each round's outcomes."""
    center = make_center()
    resident, staff = make_user(), make_user()
    broken, outcomes = 0, []
    for n in range(ROUNDS):
        day = first_day + timedelta(days=n)

        def close(day=day):
            facility_services.add_closure(facility=db.session.get(Facility, center.facility_id), room_id=None,
                                          kind=ClosureKind.TEMPORARY, first_day=day, last_day=day,
                                          reason="臨時休館", actor=db.session.get(User, staff.id))

        done, errors = at_once_in_app(app, [
            lambda day=day: _attempt(lambda: _book(resident.id, center.meeting_id, day, center.slot_ids["morning"])),
            lambda: _attempt(close)], timeout=60)
        assert not errors, errors
        outcomes.append(done)
        with app.app_context():
            closed = db.session.scalar(sa.select(sa.func.count(Closure.id)).where(
                Closure.facility_id == center.facility_id, Closure.start_date == day))
            booked = db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
                Booking.facility_id == center.facility_id, Booking.day == day,
                Booking.state.in_(sorted(ACTIVE_STATES))))
            db.session.remove()
        broken += bool(closed and booked)
    return broken, outcomes


def test_a_closure_and_a_booking_of_the_same_day_never_both_succeed(app, monkeypatch):
    widened(monkeypatch, facility_queries, "facility_spans")  # the booking's look at the closures
    broken, outcomes = _closure_rounds(app, today_tokyo() + timedelta(days=5))
    assert broken == 0, outcomes
    assert all(sorted(o) == ["ok", "refused"] for o in outcomes), outcomes


def test_control_without_the_calendar_lock_a_booking_lands_inside_a_closure(app, monkeypatch):
    if not _postgresql(app):
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises the writers; there is no lock to take out")
    widened(monkeypatch, facility_queries, "facility_spans")
    without_lock(monkeypatch, "facility-calendar")
    broken, outcomes = _closure_rounds(app, today_tokyo() + timedelta(days=5))
    print(f"\ncontrol closure vs booking: {broken}/{ROUNDS} rounds broken")  # noqa: T201 - the measured rate
    assert broken >= 1, outcomes


# --- the monthly limit ---------------------------------------------------------------------------------------


LIMIT = 2


def _monthly_rounds(app, first_day) -> tuple[int, list[list[str]]]:
    """ROUNDS times, a resident with LIMIT - 1 active bookings this month sends three bookings at once (three slots
    of the meeting room); returns the number of rounds that left them above the limit, and the outcomes."""
    center = make_center(max_active_per_month=LIMIT)
    broken, outcomes = 0, []
    for n in range(ROUNDS):
        day = first_day + timedelta(days=n)
        resident = make_user()
        with app.app_context():
            for _ in range(LIMIT - 1):
                _book(resident.id, center.hall_a_id, day, center.slot_ids["morning"])
            db.session.commit()
            db.session.remove()
        done, errors = at_once_in_app(app, [
            lambda code=code, day=day, who=resident.id: _attempt(
                lambda: _book(who, center.meeting_id, day, center.slot_ids[code]))
            for code in ("morning", "afternoon", "evening")], timeout=60)
        assert not errors, errors
        outcomes.append(done)
        with app.app_context():
            active = db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
                Booking.user_id == resident.id, Booking.state.in_(sorted(ACTIVE_STATES))))
            db.session.remove()
        broken += active > LIMIT
    return broken, outcomes


def test_simultaneous_bookings_of_one_person_never_pass_the_monthly_limit(app, monkeypatch):
    widened(monkeypatch, booking_services, "_check_monthly_limit")
    broken, outcomes = _monthly_rounds(app, today_tokyo() + timedelta(days=5))
    assert broken == 0, outcomes
    assert all(sorted(o) == ["ok", "refused", "refused"] for o in outcomes), outcomes


def test_control_without_the_monthly_lock_a_person_passes_the_limit(app, monkeypatch):
    if not _postgresql(app):
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises the writers; there is no lock to take out")
    widened(monkeypatch, booking_services, "_check_monthly_limit")
    without_lock(monkeypatch, "monthly-limit")
    broken, outcomes = _monthly_rounds(app, today_tokyo() + timedelta(days=5))
    print(f"\ncontrol monthly limit: {broken}/{ROUNDS} rounds broken")  # noqa: T201 - the measured rate
    assert broken >= 1, outcomes


# --- a weekly series against single bookings of its dates ----------------------------------------------------
# No lock of its own: every date of a series is booked by book_slots, whose claim rows (unique room, day, cell)
# refuse whatever raced it, in a series' transaction as in a single booking's. The control removes the claims.

WEEKS = 3


def _series_rounds(app, first_day) -> tuple[int, list[list[str]]]:
    """Three rounds (one per time slot): a resident books a weekly series of WEEKS dates (all or nothing) while
    WEEKS others each book one of its dates, all at once. Returns how many rounds left a date of the slot with two
    active bookings, and the outcomes."""
    center = make_center()
    days = [first_day + timedelta(weeks=w) for w in range(WEEKS)]
    broken, outcomes = 0, []
    for code in ("morning", "afternoon", "evening"):
        slot = center.slot_ids[code]
        owner, singles = make_user(), [make_user() for _ in days]

        def weekly(code=code, slot=slot, owner=owner):
            series_services.book_series(user=db.session.get(User, owner.id), room_id=center.meeting_id,
                                        first_day=days[0], interval_weeks=1, count=WEEKS, unit_keys=[f"s{slot}"],
                                        purpose="くり返しの試験", attendees=5, category=UserCategory.RESIDENT)

        calls = [lambda: _attempt(weekly)] + [
            lambda who=who.id, day=day, slot=slot: _attempt(lambda: _book(who, center.meeting_id, day, slot))
            for who, day in zip(singles, days, strict=True)]
        done, errors = at_once_in_app(app, calls, timeout=60)
        assert not errors, errors
        outcomes.append(done)
        with app.app_context():
            per_day = dict(db.session.execute(
                sa.select(Booking.day, sa.func.count(Booking.id)).join(BookingItem)
                .where(Booking.room_id == center.meeting_id, BookingItem.slot_code == code,
                       Booking.state.in_(sorted(ACTIVE_STATES)))
                .group_by(Booking.day)).all())
            db.session.remove()
        assert set(per_day) == set(days), per_day  # every date went to someone
        broken += any(n > 1 for n in per_day.values())
    return broken, outcomes


def test_a_series_and_single_bookings_of_its_dates_never_double_book(app):
    broken, outcomes = _series_rounds(app, today_tokyo() + timedelta(days=5))
    assert broken == 0, outcomes
    # All or nothing: either the series holds every date, or it is refused and the singles hold them.
    assert all(sorted(o) in (["ok"] + ["refused"] * WEEKS, ["ok"] * WEEKS + ["refused"]) for o in outcomes), outcomes


def test_control_without_the_claims_a_series_double_books_a_single_booking(app, monkeypatch):
    monkeypatch.setattr(booking_services, "_claim_cells", lambda booking, q, day: None)
    broken, outcomes = _series_rounds(app, today_tokyo() + timedelta(days=5))
    print(f"\ncontrol series vs singles: {broken}/3 rounds broken")  # noqa: T201 - the measured rate
    assert broken >= 1, outcomes
