"""P09-05-1 地域と連携・協働、支援しているイベントの参加者数: only events ward staff marked 区と連携・協働 or 区が支援
count (not every 地域活動・交流 event); only ward staff set the mark, it is audited, and the staff indicator page
lists the counted events beside the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.audit import AuditEvent
from app.core.errors import NotAllowed
from app.events import series as series_services
from app.events.errors import InvalidEvent
from app.events.models import EventSeries, EventStatus, WardRelation
from app.extensions import db
from app.indicators.models import Indicator, MatchKind
from app.indicators.sources import compute_year, counted_events
from tests.events.factories import make_series
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization
from tests.participation.factories import make_organized, make_report, move_occurrence

JST = timedelta(hours=9)
NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 令和8年度 (2026) in progress


def _jst(*args) -> datetime:
    return datetime(*args, tzinfo=UTC) - JST


def _event(category, starts_at, total=None, relation=None, **report):
    org = make_organized(category=category)
    move_occurrence(org.occurrence_id, starts_at, hours=1)
    if total is not None:
        make_report(org, total, **report)
    if relation is not None:
        with app_context():
            db.session.get(EventSeries, org.series_id).ward_relation = WardRelation(relation)
            db.session.commit()
    return org


def _indicator():
    return db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-05-1"))


def test_only_events_ward_staff_marked_count(staff_user):
    with app_context():  # the starting rules: the two marks, not the 地域活動・交流 category
        assert sorted((r.match, r.value) for r in _indicator().rules) == [
            (MatchKind.WARD_RELATION, "collaboration"), (MatchKind.WARD_RELATION, "support")]
    festival = _event("community", _jst(2026, 5, 10, 10, 0), 200, relation="collaboration")  # counts
    seminar = _event("social_business", _jst(2026, 6, 1, 10, 0), 35, relation="support")  # counts, any category
    _event("community", _jst(2026, 6, 2, 10, 0), 1000)  # 地域活動・交流 but not marked: does not count
    _event("community", _jst(2026, 7, 1, 10, 0), 77, relation="support", approve=False)  # report not approved
    _event("community", _jst(2026, 12, 20, 10, 0), relation="collaboration")  # not ended at NOW
    _event("community", _jst(2026, 3, 20, 10, 0), 50, relation="collaboration")  # 令和7年度
    with app_context():
        indicator = _indicator()
        value = compute_year(2026, [indicator], now=NOW)[indicator.id]
        assert (value.value, value.ended, value.reported) == (Decimal(235), 3, 2)
        events = counted_events(indicator, 2026, now=NOW)
        assert [(s.id, count, total) for s, count, total in events][:2] == [
            (festival.series_id, 1, 200), (seminar.series_id, 1, 35)]
        assert len(events) == 3 and {s.ward_relation for s, _c, _t in events} == {
            WardRelation.COLLABORATION, WardRelation.SUPPORT}
        assert compute_year(2025, [indicator], now=NOW)[indicator.id].value == 50


def test_only_ward_staff_set_the_mark_and_it_is_audited(staff_user):
    org = make_organized(category="community")
    with app_context():
        series = db.session.get(EventSeries, org.series_id)
        organizer = db.session.get(User, org.officer_id)
        with pytest.raises(NotAllowed):
            series_services.set_ward_relation(series, "support", staff=organizer)
        staff = db.session.get(User, staff_user.id)
        with pytest.raises(InvalidEvent):
            series_services.set_ward_relation(series, "sponsor", staff=staff)
        assert series_services.set_ward_relation(series, "support", staff=staff) is True
        assert series_services.set_ward_relation(series, "support", staff=staff) is False  # unchanged: no row
        assert series_services.set_ward_relation(series, "", staff=staff) is True
        db.session.commit()
        audits = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "event.ward_relation")
                                    .order_by(AuditEvent.id)).all()
        assert [(a.actor_id, a.target_id, a.details) for a in audits] == [
            (staff_user.id, str(org.series_id), {"before": None, "after": "support"}),
            (staff_user.id, str(org.series_id), {"before": "support", "after": None})]


def test_a_draft_cannot_be_marked(staff_user):
    officer = make_user()
    group = make_organization(officer_id=officer.id, name="白金町会")
    draft = make_series(organization_id=group.id, actor_id=officer.id, status=EventStatus.DRAFT)
    with app_context():
        from app.core.errors import Conflict

        with pytest.raises(Conflict):
            series_services.set_ward_relation(db.session.get(EventSeries, draft.id), "support",
                                              staff=db.session.get(User, staff_user.id))


def test_the_mark_through_the_pages(app, client, staff_user):
    org = make_organized(category="community")
    url = f"/events/{org.series_id}/ward-relation"
    # The organizer (officer of the organizing group) may not set it.
    login(client, org.officer_email)
    assert client.get("/events/ward-relations").status_code == 403
    response = post_form(client, url, {"ward_relation": "collaboration"}, page=f"/events/{org.series_id}")
    assert response.status_code == 403
    with app_context():
        assert db.session.get(EventSeries, org.series_id).ward_relation is None
    assert app.test_client().get("/events/ward-relations").status_code in (302, 303)  # signed out: log in

    client = app.test_client()
    login(client, staff_user.email)
    page = client.get("/ward/").get_data(as_text=True)
    assert "/events/ward-relations" in page
    listing = client.get("/events/ward-relations")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert f'id="event-{org.series_id}"' in text and 'href="/ward/"' in text  # breadcrumb to the workspace
    response = post_form(client, url, {"ward_relation": "collaboration"}, page="/events/ward-relations")
    assert response.status_code == 303
    with app_context():
        assert db.session.get(EventSeries, org.series_id).ward_relation == WardRelation.COLLABORATION
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "event.ward_relation")) == 1
    # A value not in the list: a clear message, nothing changed, no 500.
    response = post_form(client, url, {"ward_relation": "<script>"}, page="/events/ward-relations",
                         follow_redirects=True)
    assert response.status_code == 200 and "一覧から選んでください" in response.get_data(as_text=True)
    with app_context():
        assert db.session.get(EventSeries, org.series_id).ward_relation == WardRelation.COLLABORATION
    marked = client.get("/events/ward-relations?marked=1").get_data(as_text=True)
    assert f'id="event-{org.series_id}"' in marked


def test_the_staff_indicator_page_lists_the_counted_events(client, staff_user):
    now = datetime.now(UTC)
    counted = _event("community", now - timedelta(hours=3), 64, relation="support")
    _event("community", now - timedelta(hours=4), 9)  # not marked
    with app_context():
        title = db.session.get(EventSeries, counted.series_id).title_ja
        uncounted_ids = [s for s in db.session.scalars(sa.select(EventSeries.id)) if s != counted.series_id]
    login(client, staff_user.email)
    page = client.get("/staff/indicators/P09-05-1").get_data(as_text=True)
    assert 'id="counted-events"' in page and title in page
    section = page.split('id="counted-events"', 1)[1].split("</section>", 1)[0]
    assert f"/events/{counted.series_id}\"" in section and "区が支援" in section and ">64<" in section
    assert all(f"/events/{i}\"" not in section for i in uncounted_ids)


def test_the_rules_page_offers_the_marks(client, staff_user):
    login(client, staff_user.email)
    page = client.get("/staff/indicators/P09-05-1/rules").get_data(as_text=True)
    assert 'name="ward_relations"' in page
    assert page.count('name="ward_relations"') == 2 and page.count("checked") >= 2
    # Saving only the 区が支援 mark keeps that rule alone.
    response = post_form(client, "/staff/indicators/P09-05-1/rules",
                         {"ward_relations": ["support"], "preview_year": "2026", "save": "1"})
    assert response.status_code == 303
    with app_context():
        assert [(r.match, r.value) for r in _indicator().rules] == [(MatchKind.WARD_RELATION, "support")]


def test_a_new_mark_shows_at_once_through_the_cache(staff_user):
    from app.core.time import fiscal_year, utcnow
    from app.indicators import queries

    now = utcnow()
    org = _event("community", now - timedelta(hours=3), 21)
    year = fiscal_year(now)
    with app_context():
        indicator = _indicator()
        assert queries.year_values([indicator], [year])[indicator.id][year].value is None  # cached: unmarked
        series_services.set_ward_relation(db.session.get(EventSeries, org.series_id), "support",
                                          staff=db.session.get(User, staff_user.id))
        db.session.commit()
        assert queries.year_values([indicator], [year])[indicator.id][year].value == 21


def test_a_frozen_year_says_its_list_is_live_data(client, staff_user):
    from app.core.time import fiscal_year, utcnow
    from app.indicators import services

    last = fiscal_year(utcnow()) - 1
    login(client, staff_user.email)
    notice = "この年度の値は確定したときのものです。"
    assert notice not in client.get(f"/staff/indicators/P09-05-1?fy={last}").get_data(as_text=True)
    with app_context():
        services.freeze_year(last, actor_id=staff_user.id)
        db.session.commit()
    assert notice in client.get(f"/staff/indicators/P09-05-1?fy={last}").get_data(as_text=True)
