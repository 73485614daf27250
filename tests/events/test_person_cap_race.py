"""One place per person and occurrence under concurrency (issue #20): one resident's registration sent four times
at the same instant (a double click, two tabs), each in its own session behind a barrier. Exactly one place is
stored and the others are told "already registered". The guard is the occurrence's row lock
(registrations._lock_occurrence, FOR UPDATE; BEGIN IMMEDIATE on SQLite), under which the earlier registration is
looked for; the unique (occurrence, user) constraint is the backstop. The window between the look and the commit
is widened (tests/faults.py:widened). The control (PostgreSQL only) takes the row lock out: the place is still
stored once (the constraint), but the late racers fail with an IntegrityError, a 500 instead of the message,
which the test catches."""

from __future__ import annotations

from functools import partial

import pytest
import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.core.errors import DomainError
from app.events import registrations
from app.events.models import EventOccurrence, Registration
from app.extensions import db
from tests.concurrency import at_once_in_app
from tests.events.factories import make_series
from tests.factories import make_user
from tests.faults import widened
from tests.organizations.factories import make_organization

ROUNDS = 3
CLICKS = 4


def _register(occurrence_id: int, user_id: int) -> str:
    try:
        with current_app.test_request_context():  # the e-mail builds links with url_for
            registrations.register(occurrence_id=occurrence_id, user=db.session.get(User, user_id))
        db.session.commit()
        return "ok"
    except DomainError:
        db.session.rollback()
        return "refused"
    finally:
        db.session.remove()


def _rounds(app) -> tuple[list[int], list[list[str]], int]:
    """ROUNDS residents each send CLICKS registrations for the same occurrence at once. Returns the number of places
    stored per resident, the outcomes, and how many racers failed with something else than a DomainError."""
    editor = make_user()
    organization = make_organization(editor_id=editor.id)
    series = make_series(organization_id=organization.id, actor_id=editor.id, capacity=10)
    with app.app_context():
        occurrence_id = db.session.scalar(sa.select(EventOccurrence.id).where(EventOccurrence.series_id == series.id))
        db.session.remove()
    stored, outcomes, failures = [], [], 0
    for _ in range(ROUNDS):
        resident = make_user()
        done, errors = at_once_in_app(app, [partial(_register, occurrence_id, resident.id)] * CLICKS, timeout=60)
        outcomes.append(done + [type(e).__name__ for e in errors])
        failures += len(errors)
        with app.app_context():
            stored.append(db.session.scalar(sa.select(sa.func.count(Registration.id)).where(
                Registration.occurrence_id == occurrence_id, Registration.user_id == resident.id)))
            db.session.remove()
    return stored, outcomes, failures


def test_one_person_registering_four_times_at_once_gets_one_place(app, monkeypatch):
    widened(monkeypatch, registrations, "mail_registrant")
    stored, outcomes, failures = _rounds(app)
    assert stored == [1] * ROUNDS and failures == 0, outcomes
    assert all(sorted(o) == ["ok"] + ["refused"] * (CLICKS - 1) for o in outcomes), outcomes


def test_control_without_the_occurrence_lock_late_racers_fail(app, monkeypatch):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises the writers; there is no lock to take out")
    widened(monkeypatch, registrations, "mail_registrant")
    monkeypatch.setattr(registrations, "_lock_occurrence",
                        lambda occurrence_id: db.session.get(EventOccurrence, occurrence_id))
    stored, outcomes, failures = _rounds(app)
    print(f"\ncontrol one place per person: {failures} of {ROUNDS * CLICKS} racers failed")  # noqa: T201
    assert stored == [1] * ROUNDS, outcomes  # the unique constraint still holds the rule
    assert failures >= 1, outcomes
