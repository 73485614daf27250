"""The cache of computed indicator values (served while nothing changed, recomputed at once after a change in
any source, also one made outside this process's sessions, or when an occurrence ends), query counts of the
public page and the API list, the rule preview saying when its list is cut, and freezing a year only after a
confirmation page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.time import FiscalYear, fiscal_year, today_tokyo, utcnow
from app.events.models import EventOccurrence, EventPartner
from app.extensions import db
from app.facilities.models import Facility, FacilityKind
from app.indicators import cache, queries, services, sources
from app.indicators.models import FrozenYear, Indicator, MatchKind, Snapshot
from app.indicators.sources import Rule
from app.organizations.models import NpoGrantUse, Organization, OrganizationKind
from app.participation.models import ParticipationReport, ReportStatus
from tests.facilities.factories import make_center
from tests.factories import app_context, login, make_user, post_form, recorded_statements
from tests.indicators.test_sources import _event, _set_rules
from tests.organizations.factories import make_organization
from tests.participation.factories import ended, move_occurrence
from tests.utilization.factories import add_booking


def _current(client, code):
    """The current fiscal year's value of CODE as the API list gives it (None when it has none)."""
    items = client.get("/api/v1/indicators").get_json()
    item = next(i for i in items if i["code"] == code)
    year = fiscal_year(utcnow())
    value = next((v for v in item["yearly_values"] if v["fiscal_year"] == year), None)
    return None if value is None else value["value"]


def _raw(statement, **params):
    """A write through a plain connection, as another process would make it (no session, no session events)."""
    with app_context(), db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_event_sources_are_reflected_at_once(client, staff_user):
    _event("tourism", ended(), 10)
    assert _current(client, "P13-03-1") == "10"
    assert _current(client, "P13-03-1") == "10"  # served from the cache
    _event("tourism", ended(), 5)  # a new approved report
    assert _current(client, "P13-03-1") == "15"
    late = _event("tourism", ended(), 7, approve=False)
    assert _current(client, "P13-03-1") == "15"  # submitted, not approved: does not count
    from app.accounts.models import User
    from app.participation import reports

    with app_context():
        report = db.session.scalar(sa.select(ParticipationReport)
                                   .where(ParticipationReport.occurrence_id == late.occurrence_id))
        staff = db.session.get(User, staff_user.id)
        reports.approve_report(report=report, staff=staff)
        db.session.commit()
    assert _current(client, "P13-03-1") == "22"  # approval
    _event("tourism", ended(), 100, amend_to=1)
    assert _current(client, "P13-03-1") == "23"  # the amendment replaces 100
    waiting = _event("tourism", ended(), 4, approve=False)
    assert _current(client, "P13-03-1") == "23"
    # Another process approves it (no session of ours sees that): the data signature does.
    _raw("UPDATE participation_reports SET status = :s, reviewed_at = :t WHERE occurrence_id = :o AND is_latest",
         s=ReportStatus.APPROVED.value, t=utcnow(), o=waiting.occurrence_id)
    assert _current(client, "P13-03-1") == "27"
    _set_rules("P13-03-1", [Rule(MatchKind.CATEGORY, "safety")])  # mapping rules
    assert _current(client, "P13-03-1") is None
    _set_rules("P13-03-1", [Rule(MatchKind.CATEGORY, "tourism")])
    assert _current(client, "P13-03-1") == "27"
    # An occurrence cancelled elsewhere (its updated_at moves).
    _raw("UPDATE event_occurrences SET status = 'cancelled', updated_at = :t WHERE id = :o",
         t=utcnow() + timedelta(seconds=6), o=late.occurrence_id)
    assert _current(client, "P13-03-1") == "20"


def test_partner_registry_booking_and_manual_sources_are_reflected_at_once(client, staff_user):
    show = _event("culture_arts", ended(), 3)
    assert _current(client, "P14-02-1") == "0"
    partner = make_organization(name="劇団", kind=OrganizationKind.CULTURE_ARTS)
    with app_context():
        db.session.add(EventPartner(series_id=show.series_id, organization_id=partner.id))
        db.session.commit()
    assert _current(client, "P14-02-1") == "1"  # event partners
    _raw("DELETE FROM event_partners")  # removed elsewhere
    assert _current(client, "P14-02-1") == "0"

    street = make_organization(name="商店会", kind=OrganizationKind.SHOPPING_STREET, shop_count=30,
                               in_shotengai_federation=True)
    assert (_current(client, "P12-02-1"), _current(client, "P12-02-2")) == ("1", "30")
    with app_context():
        db.session.get(Organization, street.id).shop_count = 45
        db.session.commit()
    assert _current(client, "P12-02-2") == "45"  # organizations

    npo = make_organization(name="NPO", kind=OrganizationKind.NPO)
    assert _current(client, "P09-01-2") is None
    with app_context():
        db.session.add(NpoGrantUse(organization_id=npo.id, fiscal_year=fiscal_year(utcnow())))
        db.session.commit()
    assert _current(client, "P09-01-2") == "1"  # NPO grant uses

    hall = make_center(name="伝統文化交流館")
    with app_context():
        db.session.get(Facility, hall.facility_id).kind = FacilityKind.TRADITIONAL_CULTURE
        db.session.commit()
    assert _current(client, "P09-04-2") is None  # no room named by the rule: unknown
    _set_rules("P09-04-2", [Rule(MatchKind.ROOM, str(hall.meeting_id))])
    assert _current(client, "P09-04-2") is None  # the room was never booked in Tsudoi: unknown, not 0
    booking_id = add_booking(hall.meeting_id, today_tokyo(), [(9 * 60, 12 * 60)])
    assert _current(client, "P09-04-2") == "1"  # bookings
    _raw("UPDATE bookings SET state = 'cancelled' WHERE id = :b", b=booking_id)  # cancelled elsewhere
    assert _current(client, "P09-04-2") == "0"

    login(client, staff_user.email)
    survey = "/staff/indicators/P09-00-1"
    year = fiscal_year(utcnow())
    post_form(client, f"{survey}/values",
              {"fiscal_year": str(year), "value": "61.5", "source_document": "区民意識調査"}, page=survey)
    assert _current(client, "P09-00-1") == "61.5"  # manual values


def test_frozen_and_reopened_years_are_reflected_at_once(client, staff_user):
    last = fiscal_year(utcnow()) - 1
    start = FiscalYear(last).start_at + timedelta(days=60)
    _event("tourism", start, 10)

    def last_year():
        item = client.get("/api/v1/indicators/P13-03-1").get_json()
        value = next(v for v in item["yearly_values"] if v["fiscal_year"] == last)
        return value["value"], value["origin"]

    assert last_year() == ("10", "computed")
    with app_context():
        services.freeze_year(last, actor_id=None)
        db.session.commit()
    _event("tourism", start + timedelta(days=1), 5)
    assert last_year() == ("10", "snapshot")
    with app_context():
        services.reopen_year(last, actor_id=None)
        db.session.commit()
    assert last_year() == ("15", "computed")


def test_a_value_changes_when_an_occurrence_ends_without_any_row_changing(staff_user):
    org = _event("tourism", ended(), 10)
    starts = utcnow() + timedelta(hours=1)
    move_occurrence(org.occurrence_id, starts, hours=2)  # the report stays; the occurrence is ahead again
    year = fiscal_year(utcnow())
    with app_context():
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P13-03-1"))

        def value(now):
            return queries.year_values([indicator], [year], now=now)[indicator.id][year].value

        before = utcnow()
        assert value(before) is None  # not ended: nothing counts
        assert value(starts + timedelta(hours=3)) == 10  # ended: the cached entry ends with the occurrence
        assert value(before) is None  # an entry computed later is not served for an earlier instant


def test_cached_values_equal_a_recomputation(staff_user):
    _event("tourism", ended(), 12)
    _event("safety", ended(), 4)
    make_center()
    year = fiscal_year(utcnow())
    with app_context():
        indicators = list(db.session.scalars(queries._query()))
        cached_first = queries.year_values(indicators, [year - 1, year])
        cached_again = queries.year_values(indicators, [year - 1, year])
        live = queries.year_values(indicators, [year - 1, year], cached=False)
    for indicator in indicators:
        for y in (year - 1, year):
            a, b, c = (v[indicator.id].get(y) for v in (cached_first, cached_again, live))
            assert (a is None) == (b is None) == (c is None)
            if a is not None:
                assert (a.value, a.ended, a.reported, a.partial) == (c.value, c.ended, c.reported, c.partial)
                assert (b.value, b.ended, b.reported) == (c.value, c.ended, c.reported)


def _statements(app, client, url):
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


@pytest.mark.parametrize("url", ["/indicators", "/api/v1/indicators"])
def test_public_page_and_api_list_query_counts_do_not_grow_with_data(app, client, staff_user, url):
    def measure():
        cache.values.clear()
        cold = _statements(app, client, url)
        warm = _statements(app, client, url)
        return cold, warm

    _event("tourism", ended(), 3)
    first = make_center()
    add_booking(first.meeting_id, today_tokyo(), [(9 * 60, 10 * 60)])  # the centres' figure is known
    small = measure()
    assert small[1] < small[0]  # a warm request reads the signature, not the sources
    for n in range(5):
        org = _event(["tourism", "safety", "community", "culture_arts", "international"][n], ended(), n + 1)
        partner = make_organization(name=f"協力団体{n}", kind=OrganizationKind.NPO)
        with app_context():
            db.session.add(EventPartner(series_id=org.series_id, organization_id=partner.id))
            db.session.add(NpoGrantUse(organization_id=partner.id, fiscal_year=fiscal_year(utcnow())))
            db.session.commit()
        make_organization(name=f"商店会{n}", kind=OrganizationKind.SHOPPING_STREET, shop_count=n)
    center = make_center()
    for hour in (9, 13):
        add_booking(center.meeting_id, today_tokyo(), [(hour * 60, (hour + 2) * 60)])
    assert measure() == small


def test_rules_preview_and_indicator_page_say_when_the_list_is_cut(client, staff_user, monkeypatch):
    for total in (1, 2, 4):
        _event("tourism", ended(), total)
    login(client, staff_user.email)
    page = "/staff/indicators/P13-03-1/rules"
    html = client.get(page).get_data(as_text=True)
    assert "件まで表示" not in html  # everything is listed
    monkeypatch.setattr(sources, "PREVIEW_LIMIT", 2)
    monkeypatch.setattr(sources, "PROVENANCE_LIMIT", 2)
    html = client.get(page).get_data(as_text=True)
    assert "2件まで表示; 全 3 件" in html and "7人" in html  # the value still counts all three
    assert len(re.findall(r'href="/events/\d+"', html)) == 2  # event pages (the header links the list)
    year = str(fiscal_year(utcnow()))
    html = post_form(client, page, {"categories": ["tourism"], "series": "", "preview_year": year, "preview": "1"},
                     page=page).get_data(as_text=True)
    assert "2件まで表示; 全 3 件" in html
    html = client.get("/staff/indicators/P13-03-1").get_data(as_text=True)
    assert "2件まで表示; 全 3 件" in html


def test_rules_preview_query_count_does_not_grow_with_occurrences(app, client, staff_user):
    login(client, staff_user.email)
    page = "/staff/indicators/P13-03-1/rules"
    _event("tourism", ended(), 1)
    small = _statements(app, client, page)
    for n in range(4):
        _event("tourism", ended(), n)
    assert _statements(app, client, page) == small


def test_freezing_a_year_needs_the_confirmation_page(client, staff_user):
    current = fiscal_year(utcnow())
    last = current - 1
    _event("tourism", FiscalYear(last).start_at + timedelta(days=30), 1234)
    login(client, staff_user.email)
    years_page = client.get("/staff/indicators/years").get_data(as_text=True)
    confirm = f"/staff/indicators/years/{last}/freeze"
    assert f'href="{confirm}"' in years_page
    html = client.get(confirm).get_data(as_text=True)
    assert "1,234人" in html and "P13-03-1" in html and "40件の指標" in html
    assert 'name="confirmed"' in html and 'value="1"' in html
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FrozenYear)) == 0  # GET writes nothing
    # A POST that did not come from the confirmation page is sent there, nothing frozen.
    response = post_form(client, confirm, {}, page="/staff/indicators/years")
    assert response.status_code == 303 and response.headers["Location"].endswith(confirm)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FrozenYear)) == 0
    response = post_form(client, confirm, {"confirmed": "1"}, page=confirm)
    assert response.status_code == 303
    with app_context():
        assert db.session.scalars(sa.select(FrozenYear.fiscal_year)).all() == [last]
        stored = db.session.scalar(sa.select(Snapshot.value).join(Indicator, Indicator.id == Snapshot.indicator_id)
                                   .where(Indicator.code == "P13-03-1"))
        assert stored == 1234  # what the confirmation page showed
    # Frozen already, the current year, or before the plan: back to the years page with the reason.
    for year, message in ((last, "すでに確定"), (current, "終わった年度だけ"), (2000, "確定できません")):
        response = client.get(f"/staff/indicators/years/{year}/freeze", follow_redirects=True)
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert client.post(confirm, data={"confirmed": "1"}).status_code == 400  # no CSRF token
    resident = client.application.test_client()
    login(resident, make_user().email)
    assert resident.get(confirm).status_code == 403


def test_occurrence_rows_of_the_preview_come_with_their_series(staff_user):
    _event("tourism", ended(), 5)
    with app_context():
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P13-03-1"))
        value, rows = sources.preview_rules(indicator, sources.saved_rules(indicator), fiscal_year(utcnow()))
        assert value.ended == len(rows) == 1
        occurrence = rows[0][0]
        assert isinstance(occurrence, EventOccurrence)
        assert "series" in occurrence.__dict__ and "organization" in occurrence.series.__dict__  # loaded eagerly
