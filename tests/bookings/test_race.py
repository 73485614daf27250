"""Concurrency proof through the real HTTP stack: gunicorn on loopback, 20 signed-in browsers posting the booking
form at the same instant (behind a barrier). Exactly one wins, 19 get 409, none 5xx; the same for a whole hall
against its half; and a control server with the claims guard switched off lets several win, which shows the
test would catch a missing guard. Runs on the suite's database kind (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), each time in a fresh database of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.bookings.models import ACTIVE_STATES, Booking
from app.core.time import today_tokyo
from app.extensions import db
from tests.factories import quote_token
from tests.live_server import Browser, Gunicorn, create_residents, fresh_database, post_at_once, seeding

CLIENTS = 20

pytestmark = pytest.mark.slow


def _seed(database_url: str):
    """Migrate the fresh database and add a facility (hall with two halves) and CLIENTS residents."""
    from tests.facilities.factories import make_center

    with seeding(database_url) as app:
        emails = create_residents(app, CLIENTS)
        center = make_center(max_active_per_month=50)
    return app, emails, center


def _race(browsers: list[Browser], requests: list[tuple[int, str, str]]) -> list[int]:
    """Each browser posts its (room, day, unit) booking at the same instant; returns the statuses."""
    prepared = []
    for browser, (room_id, day, unit) in zip(browsers, requests, strict=True):
        token = browser.token_for(f"/bookings/new?room={room_id}&day={day}")
        form = {"csrf_token": token, "room_id": room_id, "day": day, "units": [unit], "purpose": "同時予約の試験",
                "attendees": "10", "category": "resident", "organization_id": ""}
        status, summary, _ = browser.request("POST", "/bookings/new", form)  # the summary with its signed quote
        assert status == 200, status
        prepared.append((browser, "/bookings/new", {**form, "confirm": quote_token(summary)}))
    return [status for status, _, _ in post_at_once(prepared)]


def _active_bookings(app, day) -> int:
    with app.app_context():
        try:
            return db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
                Booking.day == day, Booking.state.in_(list(ACTIVE_STATES))))
        finally:
            db.session.remove()
            db.engine.dispose()


def test_twenty_simultaneous_bookings_one_winner_then_control_without_guard(tmp_path):
    with fresh_database(tmp_path) as url:
        app, emails, center = _seed(url)
        server = Gunicorn(url, tmp_path)
        try:
            browsers = [Browser(server.port) for _ in emails]
            for browser, email in zip(browsers, emails, strict=True):
                browser.sign_in(email)
            morning = f"s{center.slot_ids['morning']}"

            # 1. Twenty requests for the same room and slot.
            day1 = today_tokyo() + timedelta(days=5)
            statuses = _race(browsers, [(center.meeting_id, day1.isoformat(), morning)] * CLIENTS)
            assert sorted(statuses) == [303] + [409] * (CLIENTS - 1), statuses
            assert _active_bookings(app, day1) == 1

            # 2. Parent/child: half the browsers want the whole hall, half want its half A, same slot.
            day2 = today_tokyo() + timedelta(days=6)
            wants = [(center.hall_id if i % 2 else center.hall_a_id, day2.isoformat(), morning)
                     for i in range(CLIENTS)]
            statuses = _race(browsers, wants)
            assert sorted(statuses) == [303] + [409] * (CLIENTS - 1), statuses
            assert _active_bookings(app, day2) == 1
            for browser in browsers:  # the sessions live in the database: the control server accepts them
                browser.port = None
        finally:
            server.stop()

        # 3. Control: the same race against a server whose claims guard is off must let several through.
        control = Gunicorn(url, tmp_path, app="tests.faults:without_booking_claims()")
        try:
            for browser in browsers:
                browser.port = control.port
            day3 = today_tokyo() + timedelta(days=7)
            statuses = _race(browsers, [(center.meeting_id, day3.isoformat(), morning)] * CLIENTS)
            assert all(status < 500 for status in statuses), statuses
            assert statuses.count(303) > 1, statuses
            assert _active_bookings(app, day3) > 1
        finally:
            control.stop()
