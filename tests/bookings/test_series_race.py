"""Two weekly series that overlap, posted at the same instant by many browsers through gunicorn: never a double
booking. All-or-nothing requests: exactly one wins; "free dates only" requests: every date is booked once; and a
control server with the claims guard off lets several overlapping series through."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.bookings.models import ACTIVE_STATES, Booking
from app.core.time import today_tokyo
from app.extensions import db
from tests.live_server import Browser, Gunicorn, create_residents, fresh_database, post_at_once, seeding

CLIENTS = 8
CONFIRM_RE = re.compile(r'name="confirm"[^>]*value="([^"]+)"')

pytestmark = pytest.mark.slow


def _prepare(browser: Browser, room_id: int, first, unit: str, mode: str) -> dict:
    """Plan the series (as a browser would) and return the confirming form for MODE."""
    page = f"/bookings/series/new?room={room_id}&day={first.isoformat()}"
    form = {"csrf_token": browser.token_for(page), "room_id": room_id, "day": first.isoformat(), "units": [unit],
            "interval_weeks": "1", "count": "4", "until": "", "purpose": "同時予約の試験", "attendees": "10",
            "category": "resident", "organization_id": ""}
    status, text, _ = browser.request("POST", "/bookings/series/new", form)
    assert status == 200, text[:500]
    return {**form, "confirm": CONFIRM_RE.search(text).group(1), "mode": mode}


def _fire(pairs: list[tuple[Browser, dict]]) -> list[int]:
    return [status for status, _, _ in post_at_once([(b, "/bookings/series/new", form) for b, form in pairs])]


def _active_per_day(app, room_id: int) -> dict:
    with app.app_context():
        try:
            rows = db.session.execute(sa.select(Booking.day, sa.func.count(Booking.id)).where(
                Booking.room_id == room_id, Booking.state.in_(list(ACTIVE_STATES))).group_by(Booking.day))
            return dict(rows.all())
        finally:
            db.session.remove()
            db.engine.dispose()


def test_overlapping_series_race_never_double_books(tmp_path):
    from tests.facilities.factories import make_center

    with fresh_database(tmp_path) as url:
        with seeding(url) as app:
            emails = create_residents(app, CLIENTS)
            center = make_center(max_active_per_month=50)
        server = Gunicorn(url, tmp_path, workers=2, threads=4)
        try:
            browsers = [Browser(server.port) for _ in emails]
            for browser, email in zip(browsers, emails, strict=True):
                browser.sign_in(email)
            morning = f"s{center.slot_ids['morning']}"
            first = today_tokyo() + timedelta(days=3)

            # 1. All or nothing: half want 4 weeks from FIRST, half 4 weeks from a week later (3 dates shared).
            pairs = [(b, _prepare(b, center.meeting_id, first + timedelta(days=7 * (i % 2)), morning, "all"))
                     for i, b in enumerate(browsers)]
            statuses = _fire(pairs)
            assert sorted(statuses) == [303] + [409] * (CLIENTS - 1), statuses
            per_day = _active_per_day(app, center.meeting_id)
            assert sum(per_day.values()) == 4 and set(per_day.values()) == {1}, per_day

            # 2. Free dates only, on the hall and its half (parent/child), overlapping series: each cell once.
            later = first + timedelta(days=35)
            pairs = [(b, _prepare(b, center.hall_id if i % 2 else center.hall_a_id, later + timedelta(days=7 * (i % 3)),
                                  morning, "free")) for i, b in enumerate(browsers)]
            statuses = _fire(pairs)
            assert all(s in (303, 409) for s in statuses), statuses
            hall, half = _active_per_day(app, center.hall_id), _active_per_day(app, center.hall_a_id)
            assert hall or half
            assert set(hall.values()) | set(half.values()) <= {1}
            assert not set(hall) & set(half), (hall, half)  # a day held by the whole hall is never held by a half
            for browser in browsers:  # the sessions live in the database: the control server accepts them
                browser.port = None
        finally:
            server.stop()

        # 3. Control: without the claims guard the same all-or-nothing race lets several series through, which shows
        # the test above would catch a missing guard.
        control = Gunicorn(url, tmp_path, workers=2, threads=4, app="tests.faults:without_booking_claims()")
        try:
            for browser in browsers:
                browser.port = control.port
            later = first + timedelta(days=35)  # the meeting room is free from here, inside the window
            pairs = [(b, _prepare(b, center.meeting_id, later + timedelta(days=7 * (i % 2)), morning, "all"))
                     for i, b in enumerate(browsers)]
            statuses = _fire(pairs)
            assert all(status < 500 for status in statuses), statuses
            per_day = {d: n for d, n in _active_per_day(app, center.meeting_id).items() if d >= later}
            assert statuses.count(303) > 1 and max(per_day.values()) > 1, (statuses, per_day)
        finally:
            control.stop()
