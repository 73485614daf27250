"""History that stays true: cancelling the rest of a series never removes its held and reported occurrences from
any computed indicator (participant sums, partner counts, their breakdowns and provenance)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core.time import fiscal_year, utcnow
from app.events import series as series_services
from app.events.models import EventOccurrence, EventSeries, EventStatus, OccurrenceStatus
from app.extensions import db
from app.indicators.models import Indicator
from app.indicators.participants import participant_sums
from app.indicators.sources import EVENT_KINDS, breakdowns, compute_year, provenance
from app.organizations.models import OrganizationKind
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, make_user
from tests.organizations.factories import make_organization
from tests.participation.factories import Organized, make_report, move_occurrence


def _snapshot(year, now):
    """Every event-based indicator's value, completeness, breakdowns and counted occurrences for YEAR."""
    with app_context():
        indicators = db.session.scalars(sa.select(Indicator).where(Indicator.source_kind.in_(EVENT_KINDS))).all()
        values = compute_year(year, indicators, now=now)
        out = {}
        for indicator in indicators:
            value = values[indicator.id]
            out[indicator.code] = (
                value.value, value.ended, value.reported, breakdowns(indicator, year, now=now),
                sorted(o.id for o, _report in provenance(indicator, year, now=now)["occurrences"]),
            )
        sums = {code: (s.participants, s.ended_occurrences, s.approved_reports)
                for code, s in participant_sums(year, now=now).items()}
        return out, sums


def test_cancelling_the_rest_of_a_series_keeps_its_held_reported_occurrences(staff_user):
    officer = make_user()
    group = make_organization(officer_id=officer.id, name="芝浦町会")
    partner = make_organization(name="芝浦商店会", kind=OrganizationKind.SHOPPING_STREET)
    start = date.today() + timedelta(days=1)
    series = make_series(organization_id=group.id, actor_id=officer.id, category="community", frequency="weekly",
                         first_date=start, until_date=start + timedelta(days=35), partner_ids=[partner.id])
    ids = occurrence_ids(series.id)
    assert len(ids) >= 4
    now = utcnow()
    # The first two were held (moved into the past, both in this fiscal year) and reported; the rest are ahead.
    held = [(ids[0], max(now - timedelta(days=8), _year_start(now))), (ids[1], now - timedelta(hours=5))]
    for (occurrence_id, starts_at), total in zip(held, (30, 12), strict=True):
        move_occurrence(occurrence_id, starts_at, hours=2)
        make_report(Organized(officer.email, officer.id, group.id, series.id, occurrence_id), total)
    with app_context():
        _flag_for_indicators(series.id)
    year = fiscal_year(now)
    before, sums_before = _snapshot(year, utcnow())
    assert before["P09-05-1"][:3] == (42, 2, 2)  # participants of the held occurrences
    assert before["P10-03-2"][:3] == (1, 2, 2)  # 芝浦商店会 with this event
    assert sorted(before["P09-05-1"][4]) == sorted(i for i, _ in held)

    with app_context():
        organizer = db.session.get(User, officer.id)
        series_services.cancel_series(db.session.get(EventSeries, series.id), actor=organizer, reason="会場の工事")
        db.session.commit()
        # The cancel cancelled the rest only: the held occurrences stay held.
        statuses = dict(db.session.execute(sa.select(EventOccurrence.id, EventOccurrence.status)
                                           .where(EventOccurrence.series_id == series.id)).all())
        assert db.session.get(EventSeries, series.id).status == EventStatus.CANCELLED
    assert [statuses[i] for i, _ in held] == [OccurrenceStatus.SCHEDULED] * 2
    assert all(statuses[i] == OccurrenceStatus.CANCELLED for i in ids[2:])

    after, sums_after = _snapshot(year, utcnow())
    assert after == before
    assert sums_after == sums_before and sums_after["P09-05-1"] == (42, 2, 2)


def test_occurrences_of_a_cancelled_series_that_never_took_place_do_not_count(staff_user):
    """A series cancelled before any date: its dates never happened, even once they are in the past."""
    officer = make_user()
    group = make_organization(officer_id=officer.id, name="高輪町会")
    series = make_series(organization_id=group.id, actor_id=officer.id, category="community")
    with app_context():
        _flag_for_indicators(series.id)
        organizer = db.session.get(User, officer.id)
        series_services.cancel_series(db.session.get(EventSeries, series.id), actor=organizer, reason="中止")
        db.session.commit()
        occurrence = db.session.get(EventOccurrence, occurrence_ids(series.id)[0])
        later = occurrence.ends_at + timedelta(hours=1)
        indicators = db.session.scalars(sa.select(Indicator).where(Indicator.code == "P09-05-1")).all()
        value = compute_year(fiscal_year(occurrence.starts_at), indicators, now=later)[indicators[0].id]
    assert value.value is None and value.ended == 0


def _year_start(now):
    from app.core.time import FiscalYear

    return FiscalYear(fiscal_year(now)).start_at + timedelta(hours=1)


def _flag_for_indicators(series_id: int) -> None:
    """Ward staff mark the event 区と連携・協働, so that P09-05-1 counts it."""
    from app.events.models import WardRelation

    db.session.get(EventSeries, series_id).ward_relation = WardRelation.COLLABORATION
    db.session.commit()


def test_a_held_occurrence_of_a_cancelled_series_is_still_due_its_report(staff_user):
    """The completeness counts it, so staff's queue and the reminders still ask for its report."""
    from app.participation.reports import occurrences_without_approved_report, remind_now

    officer = make_user()
    group = make_organization(officer_id=officer.id, name="三田町会")
    start = date.today() + timedelta(days=1)
    series = make_series(organization_id=group.id, actor_id=officer.id, category="community", frequency="weekly",
                         first_date=start, until_date=start + timedelta(days=14))
    ids = occurrence_ids(series.id)
    move_occurrence(ids[0], utcnow() - timedelta(hours=5), hours=2)
    with app_context():
        series_services.cancel_series(db.session.get(EventSeries, series.id),
                                      actor=db.session.get(User, officer.id), reason="会場の工事")
        db.session.commit()
        due = [occurrence.id for occurrence, _report in occurrences_without_approved_report()]
        assert ids[0] in due and not set(ids[1:]) & set(due)
        assert remind_now(db.session.get(EventOccurrence, ids[0]), staff=db.session.get(User, staff_user.id)) == 1
        db.session.rollback()
