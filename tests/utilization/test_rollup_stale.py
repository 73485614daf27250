"""A request's booking marks its rollup key stale instead of recomputing it before the commit; the key is settled
after the response is sent (or by the job), and readers compute a stale month live until then: always exact."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.bookings import services
from app.core.jobs import run_due
from app.core.time import today_tokyo, utcnow
from app.facilities.models import UserCategory
from app.utilization import rollup
from app.utilization.compute import _rollup_utilization, _split, booking_stats, compute_utilization
from app.utilization.models import UtilizationRollupStale
from tests.api.factories import bearer, make_token
from tests.facilities.factories import make_center
from tests.factories import make_user
from tests.utilization.test_rollup import _assert_equals_rebuild, _user


def _next_month() -> date:
    return rollup.add_months(today_tokyo().replace(day=1), 1)


def _build_rollup(app, first: date, months: int = 1) -> None:
    from app.extensions import db

    with app.app_context():
        rollup.rebuild(db.session, first=first, end=rollup.add_months(first, months))
        db.session.commit()


def _stale_keys(app) -> list[tuple]:
    from app.extensions import db

    with app.app_context():
        table = UtilizationRollupStale.__table__
        return sorted(tuple(row) for row in db.session.execute(
            sa.select(table.c.room_id, table.c.month, table.c.weekday, table.c.facility_id)))


def _book_over_api(client, center, secret: str, day: date, slot: str = "morning"):
    return client.post("/api/v1/bookings", headers=bearer(secret), json={
        "room_id": center.meeting_id, "day": day.isoformat(), "units": [f"s{center.slot_ids[slot]}"],
        "purpose": "集会", "attendees": 5})


def test_a_request_marks_its_booking_stale_readers_stay_exact_and_the_key_settles_after_the_response(app, client):
    from app.extensions import db

    center = make_center()
    first = _next_month()
    _build_rollup(app, first)
    _, secret = make_token(make_user())
    day = first + timedelta(days=3)
    response = _book_over_api(client, center, secret, day)
    assert response.status_code == 201, response.get_json()
    # The commit wrote one stale key (the booked room, its month and weekday) and no rollup rows.
    assert _stale_keys(app) == [(center.meeting_id, first.year * 100 + first.month, day.weekday(), center.facility_id)]
    end = rollup.add_months(first, 1)
    with app.app_context():
        assert _rollup_utilization(db.session, first, end, facility_ids=[center.facility_id], room_ids=None,
                                   keys=())[0][2] == 0  # the rollup itself has not seen the booking yet
        inside, outside = _split(db.session, first, end)
        assert (inside, outside) == ([], [(first, end)])  # so the month is read live ...
        [month] = compute_utilization(start=first, end=end, facility_ids=[center.facility_id])
        [stats] = booking_stats(start=first, end=end, facility_ids=[center.facility_id])
        assert (month.booked, stats.bookings) == (1, 1)  # ... and the figures include the booking
        db.session.rollback()
    response.close()  # the WSGI server closes the response once it is sent: the key is settled then
    assert _stale_keys(app) == []
    with app.app_context():
        assert _split(db.session, first, end) == ([(first, end)], [])
        assert _rollup_utilization(db.session, first, end, facility_ids=[center.facility_id], room_ids=None,
                                   keys=())[0][2] == 1
        _assert_equals_rebuild(db)
        db.session.rollback()


def test_a_cancellation_over_the_api_is_deferred_too_and_the_job_settles_what_no_response_did(app, client):
    from app.extensions import db

    center = make_center()
    first = _next_month()
    _build_rollup(app, first)
    _, secret = make_token(make_user())
    booked = _book_over_api(client, center, secret, first + timedelta(days=5), "evening")
    assert booked.status_code == 201
    cancelled = client.post(f"/api/v1/bookings/{booked.get_json()['id']}/cancel", headers=bearer(secret))
    assert cancelled.status_code == 200
    # Two commits of the same key: one row, touched twice.
    [(room_id, *_rest)] = _stale_keys(app)
    with app.app_context():
        assert db.session.scalar(sa.select(UtilizationRollupStale.touches)) == 2
        [stats] = booking_stats(start=first, end=rollup.add_months(first, 1), facility_ids=[center.facility_id])
        assert (stats.bookings, stats.cancelled) == (0, 1)  # counted live: the rollup still has neither
        db.session.rollback()
        [outcome] = run_due(now=utcnow(), only={"utilization.settle-stale"})
        assert (outcome.status, outcome.result) == ("succeeded", "1")
    assert _stale_keys(app) == []
    with app.app_context():
        _assert_equals_rebuild(db)
        db.session.rollback()


def test_outside_a_request_the_upkeep_still_settles_before_the_commit(app):
    from app.extensions import db

    center = make_center()
    first = _next_month()
    _build_rollup(app, first)
    user_id = make_user().id
    with app.app_context():
        services.book_slots(user=_user(db, user_id), room_id=center.meeting_id, day=first + timedelta(days=8),
                            unit_keys=[f"s{center.slot_ids['morning']}"], attendees=5,
                            category=UserCategory.RESIDENT, purpose="窓口")
        db.session.commit()
    assert _stale_keys(app) == []
    with app.app_context():
        _assert_equals_rebuild(db)
        db.session.rollback()


def test_split_reads_runs_of_fresh_months_from_the_rollup_and_stale_months_live(app):
    from app.extensions import db

    center = make_center()
    first = _next_month()
    _build_rollup(app, first, months=4)
    months = [rollup.add_months(first, n) for n in range(5)]
    with app.app_context():
        def stale(month: date) -> None:
            db.session.execute(sa.insert(UtilizationRollupStale.__table__).values(
                room_id=center.meeting_id, month=month.year * 100 + month.month, weekday=2,
                facility_id=center.facility_id, touches=1))

        start, end = first + timedelta(days=10), months[4] + timedelta(days=3)
        assert _split(db.session, start, end) == ([(months[1], months[4])], [(start, months[1]), (months[4], end)])
        stale(months[2])
        assert _split(db.session, start, end) == (
            [(months[1], months[2]), (months[3], months[4])],
            [(start, months[1]), (months[2], months[3]), (months[4], end)])
        stale(months[1])
        stale(months[3])
        assert _split(db.session, first, months[4]) == ([(months[0], months[1])], [(months[1], months[4])])
        db.session.rollback()


def test_simultaneous_deferred_bookings_and_settlers_keep_the_rollup_exact(app):
    """Eight requests book a hall and its halves on one weekday of one month at once, and each settles after its
    'response' (as call_on_close does), racing the others' bookings and settles: no error, nothing left stale,
    the rollup equal to a rebuild. The hall's key recomputes its halves' rows too, so settlers of different keys
    may write the same rows: on PostgreSQL the facilities' advisory locks keep them apart, the locks whose absence
    test_rollup.py's control shows to lose the race."""
    from app.extensions import db

    errors = _simultaneous_deferred_bookings(app)
    assert errors == []
    assert _stale_keys(app) == []
    center, first = app.config["_test_center"], _next_month()
    with app.app_context():
        [month] = compute_utilization(start=first, end=rollup.add_months(first, 1), facility_ids=[center.facility_id])
        assert month.booked == 12  # 4 halves, and the hall's 4 bookings count once per half
        _assert_equals_rebuild(db)
        db.session.rollback()


def _simultaneous_deferred_bookings(app) -> list[BaseException]:
    from app.extensions import db

    center = make_center(max_active_per_month=50)
    app.config["_test_center"] = center
    users = [make_user().id for _ in range(8)]
    first = _next_month()
    _build_rollup(app, first)
    weekday_offset = (7 - first.weekday()) % 7  # the month's first Monday: four Mondays follow in the month
    plan = [(center.hall_a_id, 0, "morning"), (center.hall_b_id, 0, "morning"), (center.hall_a_id, 1, "morning"),
            (center.hall_b_id, 1, "morning"), (center.hall_id, 2, "morning"), (center.hall_id, 3, "morning"),
            (center.hall_id, 2, "evening"), (center.hall_id, 3, "evening")]
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def book(index: int, user_id: int) -> None:
        room_id, week, slot = plan[index]
        try:
            with app.test_request_context("/api/v1/bookings", method="POST"):
                barrier.wait()
                services.book_slots(user=_user(db, user_id), room_id=room_id,
                                    day=first + timedelta(days=weekday_offset + 7 * week),
                                    unit_keys=[f"s{center.slot_ids[slot]}"], attendees=5,
                                    category=UserCategory.RESIDENT, purpose="同時")
                db.session.commit()
                db.session.remove()
            _settle_or_raise(app)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=book, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _settle_or_raise(app) -> None:
    """What settle_stale_now does after a response, but raising its error for the test to see."""
    from app.core.db import write_intent
    from app.extensions import db

    with app.app_context():
        intent = write_intent.set(True)
        try:
            rollup.settle_stale(db.session)
            db.session.commit()
        finally:
            db.session.rollback()
            db.session.remove()
            write_intent.reset(intent)


@pytest.mark.parametrize("defer", [True, False])
def test_deferring_can_be_switched_off(app, client, defer):
    center = make_center()
    first = _next_month()
    _build_rollup(app, first)
    _, secret = make_token(make_user())
    app.config["UTILIZATION_ROLLUP_DEFER"] = defer
    try:
        assert _book_over_api(client, center, secret, first + timedelta(days=2)).status_code == 201
    finally:
        app.config["UTILIZATION_ROLLUP_DEFER"] = True
    assert bool(_stale_keys(app)) is defer
