"""Door concurrency: two phones checking in the same person, and many walk-in taps at once, on the suite's
database (SQLite file with BEGIN IMMEDIATE, or PostgreSQL). The database is the arbiter: one check-in row,
every tap counted."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import EventOccurrence, Registration
from app.extensions import db
from app.participation import checkin
from app.participation.models import Checkin, CheckinMethod, WalkinCount
from tests.concurrency import at_once_in_app
from tests.participation.factories import make_organized, make_registration, today

THREADS = 8


def _run_at_once(app, work):
    """WORK in THREADS threads at once, each committing its own transaction: (results, errors)."""

    def work_and_commit():
        result = work()
        db.session.commit()
        return result

    return at_once_in_app(app, [work_and_commit] * THREADS, timeout=60)


def test_same_person_checked_in_from_many_phones_at_once_is_one_row(app):
    org = make_organized(starts_at=today())
    registration_id, _u, _e = make_registration(org.occurrence_id)

    def work():
        registration = db.session.get(Registration, registration_id)
        officer = db.session.get(User, org.officer_id)
        _row, created = checkin.check_in(registration=registration, by=officer, method=CheckinMethod.QR)
        return created

    results, errors = _run_at_once(app, work)
    assert errors == []
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Checkin)) == 1


def test_every_walk_in_tap_counts(app):
    org = make_organized(starts_at=today())

    def work():
        occurrence = db.session.get(EventOccurrence, org.occurrence_id)
        officer = db.session.get(User, org.officer_id)
        return checkin.adjust_walkins(occurrence=occurrence, delta=1, by=officer)

    results, errors = _run_at_once(app, work)
    assert errors == []
    with app.app_context():
        assert db.session.get(WalkinCount, org.occurrence_id).count == THREADS
