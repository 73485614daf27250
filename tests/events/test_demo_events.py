"""The demo events loader: a year of events with registrations, idempotent, never over capacity."""

from __future__ import annotations

import sqlalchemy as sa

from app.demo.events import EVENTS
from app.events.models import EventOccurrence, EventSeries, EventStatus, Registration, RegistrationStatus
from app.extensions import db


def _load(app):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output + repr(result.exception)


def test_demo_events_load_once_and_respect_capacity(app, client):
    _load(app)
    with app.app_context():
        series = db.session.scalar(sa.select(sa.func.count()).select_from(EventSeries))
        occurrences = db.session.scalar(sa.select(sa.func.count()).select_from(EventOccurrence))
        registrations = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
        assert series == len(EVENTS)
        assert occurrences > 100 and registrations > 50
        over = db.session.execute(
            sa.select(EventOccurrence.id).join(Registration, Registration.occurrence_id == EventOccurrence.id)
            .where(Registration.status == RegistrationStatus.CONFIRMED, EventOccurrence.capacity.is_not(None))
            .group_by(EventOccurrence.id, EventOccurrence.capacity)
            .having(sa.func.count() > EventOccurrence.capacity)).all()
        assert over == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
            Registration.status == RegistrationStatus.WAITLISTED)) > 0
        cancelled = db.session.scalar(sa.select(sa.func.count()).select_from(EventSeries).where(
            EventSeries.status == EventStatus.CANCELLED))
        assert cancelled == 1
    _load(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == registrations
    html = client.get("/events/?q=日本語教室").get_data(as_text=True)
    assert "はじめての日本語教室" in html
