"""Capacity under concurrency through the real HTTP stack: gunicorn on loopback, 30 signed-in browsers posting the
registration form at the same instant (behind a barrier) for 5 seats. Exactly 5 are confirmed and 25 waitlisted,
no 5xx. A control server with the capacity guard switched off (tests/faults.py) lets more than 5
through, which shows the test would catch a missing guard. Runs on the suite's database kind (SQLite file, or
PostgreSQL when TEST_DATABASE_URL is set), in a fresh database of its own."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts import services as account_services
from app.core.permissions import Role
from app.events.models import EventOccurrence, EventStatus, Registration, RegistrationStatus
from app.extensions import db
from tests.live_server import PASSWORD, Browser, Gunicorn, create_residents, fresh_database, post_at_once, seeding

CLIENTS = 30
SEATS = 5

pytestmark = pytest.mark.slow


def _seed(database_url: str):
    """Migrate the fresh database; add CLIENTS residents and two published events with SEATS seats each."""
    from tests.events.factories import make_series
    from tests.organizations.factories import make_organization

    with seeding(database_url) as app:
        emails = create_residents(app, CLIENTS, name="参加者")
        with app.app_context():
            editor_id = account_services.create_user(email="editor@example.jp", password=PASSWORD,
                                                     display_name="主催者", role=Role.RESIDENT).id
            db.session.commit()
            db.session.remove()
        org = make_organization(editor_id=editor_id)
        events = []
        for title in ("同時申込の試験", "対照試験"):
            series = make_series(organization_id=org.id, actor_id=editor_id, capacity=SEATS,
                                 status=EventStatus.PUBLISHED, texts={"title_ja": title})
            with app.app_context():
                occurrence_id = db.session.scalar(sa.select(EventOccurrence.id)
                                                  .where(EventOccurrence.series_id == series.id))
                db.session.remove()
            events.append((series.id, occurrence_id))
    return app, emails, events


def _race(browsers: list[Browser], series_id: int, occurrence_id: int) -> list[tuple[int, str | None]]:
    """Every browser posts the registration form at the same instant; returns (status, registration status)."""
    posts = [(browser, f"/events/occurrences/{occurrence_id}/register",
              {"csrf_token": browser.token_for(f"/events/{series_id}")}) for browser in browsers]
    return [(status, headers.get("X-Registration-Status")) for status, _, headers in post_at_once(posts)]


def _stored(app, occurrence_id: int) -> dict[RegistrationStatus, int]:
    with app.app_context():
        try:
            rows = db.session.execute(sa.select(Registration.status, sa.func.count())
                                      .where(Registration.occurrence_id == occurrence_id)
                                      .group_by(Registration.status)).all()
            return dict(rows)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_thirty_registrations_for_five_seats_then_control_without_guard(tmp_path):
    with fresh_database(tmp_path) as url:
        app, emails, events = _seed(url)
        (series_id, occurrence_id), (control_series_id, control_occurrence_id) = events
        server = Gunicorn(url, tmp_path)
        try:
            browsers = [Browser(server.port) for _ in emails]
            for browser, email in zip(browsers, emails, strict=True):
                browser.sign_in(email)
            results = _race(browsers, series_id, occurrence_id)
            assert all(status == 303 for status, _ in results), results
            outcome = [kind for _, kind in results]
            assert outcome.count("confirmed") == SEATS and outcome.count("waitlisted") == CLIENTS - SEATS, outcome
            assert _stored(app, occurrence_id) == {RegistrationStatus.CONFIRMED: SEATS,
                                                   RegistrationStatus.WAITLISTED: CLIENTS - SEATS}
        finally:
            server.stop()

        # Control: the same race against a server whose capacity guard is off must overfill the event.
        control = Gunicorn(url, tmp_path, app="tests.faults:without_seat_lock()")
        try:
            for browser in browsers:  # sessions live in the database: the control server accepts them
                browser.port = control.port
            results = _race(browsers, control_series_id, control_occurrence_id)
            assert all(status < 500 for status, _ in results), results
            stored = _stored(app, control_occurrence_id)
            assert stored.get(RegistrationStatus.CONFIRMED, 0) > SEATS, stored
        finally:
            control.stop()
