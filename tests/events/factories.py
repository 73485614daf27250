"""Factories for events: a published series with occurrences, and the form data a browser would post."""

from __future__ import annotations

from datetime import date, time, timedelta

from app.accounts.models import User
from app.core.time import utcnow
from app.events.models import EventOccurrence, EventSeries, EventStatus
from app.events.series import SeriesInput, save_series
from app.extensions import db
from app.organizations.models import Organization
from tests.factories import app_context, detach


def series_input(**overrides) -> SeriesInput:
    """Valid input for a one-off event ten days from now."""
    values = dict(
        texts={"title_ja": "防災訓練", "summary_ja": "地域の防災訓練です。"}, category="safety", audiences=[],
        district="shiba", venue_name="芝公園", venue_address="港区芝公園4-1", online_url=None, fee_yen=0,
        fee_note=None, registration_required=True, capacity=5, registration_opens_at=None,
        registration_deadline_days=None, accessibility={}, foreign_languages=[], contact={}, partner_ids=[],
        frequency="once", first_date=date.today() + timedelta(days=10), until_date=None, nth=None, dates=[],
        start_time=time(10, 0), end_time=time(12, 0),
    )
    values.update(overrides)
    return SeriesInput(**values)


def make_series(*, organization_id: int, actor_id: int, status: EventStatus = EventStatus.PUBLISHED,
                **overrides) -> EventSeries:
    """A committed series (published by default) with its occurrences; detached."""
    with app_context():
        organization = db.session.get(Organization, organization_id)
        actor = db.session.get(User, actor_id)
        series = save_series(organization=organization, actor=actor, data=series_input(**overrides))
        series.status = status
        if status in (EventStatus.PUBLISHED, EventStatus.CANCELLED):
            series.published_at = utcnow()
        db.session.commit()
        return detach(series)


def occurrence_ids(series_id: int) -> list[int]:
    """The ids of a series' occurrences in date order."""
    with app_context():
        return list(db.session.scalars(
            db.select(EventOccurrence.id).where(EventOccurrence.series_id == series_id)
            .order_by(EventOccurrence.starts_at)))


def form_data(**overrides) -> dict:
    """What the event form posts for a valid one-off event."""
    data = {
        "title_ja": "日本語教室", "summary_ja": "やさしい日本語で話します。", "category": "japanese_learning",
        "district": "azabu", "venue_name": "麻布区民センター", "fee_yen": "0", "registration_required": "y",
        "capacity": "10", "frequency": "once", "first_date": (date.today() + timedelta(days=14)).isoformat(),
        "nth": "1", "start_time": "18:00", "end_time": "20:00",
    }
    data.update(overrides)
    return data
