"""Computed indicator values on known data: participant sums, partner counts, bookings and the registry per
fiscal year (boundaries in JST), mapping rules with preview, freezing and reopening a year, and how the values
reach the dashboard, the public page, the exports and the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import load_workbook

from app.core.audit import AuditEvent
from app.core.time import fiscal_year, utcnow
from app.events.models import EventPartner
from app.extensions import db
from app.facilities.models import Facility, FacilityKind
from app.indicators import services
from app.indicators.models import FrozenYear, Indicator, MappingRule, MatchKind, Snapshot
from app.indicators.sources import Rule, breakdowns, compute_year, preview_rules
from app.organizations.models import NpoGrantUse, OrganizationKind
from tests.facilities.factories import add_closure, make_center
from tests.factories import app_context, login, make_user, post_form, recorded_statements
from tests.organizations.factories import make_organization
from tests.participation.factories import ended, make_organized, make_report, move_occurrence
from tests.utilization.factories import add_booking

JST = timedelta(hours=9)
NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 令和8年度 (2026) in progress


def _jst(*args) -> datetime:
    return datetime(*args, tzinfo=UTC) - JST


def _event(category, starts_at, total=None, **report):
    org = make_organized(category=category)
    move_occurrence(org.occurrence_id, starts_at, hours=1)
    if total is not None:
        make_report(org, total, **report)
    return org


def _values(year, *codes, now=NOW):
    with app_context():
        indicators = db.session.scalars(sa.select(Indicator).where(Indicator.code.in_(codes))).all()
        by_id = compute_year(year, indicators, now=now)
        return {i.code: by_id[i.id] for i in indicators}


def _set_rules(code, rules):
    with app_context():
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == code))
        services.save_rules(indicator, rules, actor_id=None)
        db.session.commit()


def test_participant_sums_exact_with_fiscal_year_boundary_amendments_and_approval(staff_user):
    _event("safety", _jst(2026, 3, 31, 23, 59), 7)  # 令和7年度: starts before 4/1 00:00 JST
    _event("safety", _jst(2026, 4, 1, 0, 0), 11)  # 令和8年度: the first minute
    _event("safety", _jst(2026, 5, 10, 10, 0), 100, amend_to=40)  # the amendment replaces, it does not add
    _event("safety", _jst(2026, 6, 1, 10, 0), 1000, approve=False)  # not approved: does not count
    _event("safety", _jst(2026, 7, 1, 10, 0))  # no report yet
    _event("other", _jst(2026, 8, 2, 10, 0), 9)  # mapped to nothing
    _event("safety", _jst(2026, 12, 1, 10, 0))  # not ended at NOW: not counted, not in the completeness
    this_year = _values(2026, "P09-02-2")["P09-02-2"]
    assert (this_year.value, this_year.ended, this_year.reported) == (Decimal(51), 4, 2)
    assert this_year.completeness == Decimal("0.5") and this_year.partial
    last_year = _values(2025, "P09-02-2")["P09-02-2"]
    assert (last_year.value, last_year.ended, last_year.reported, last_year.partial) == (Decimal(7), 1, 1, False)
    # A year with no ended matched occurrence has no value (not a zero).
    assert _values(2024, "P09-02-2")["P09-02-2"].value is None
    assert _values(2026, "P09-02-1")["P09-02-1"].value is None


def test_an_event_counts_once_in_each_indicator_and_once_when_two_rules_match(staff_user):
    drill = _event("safety", _jst(2026, 9, 1, 10, 0), 30)
    _event("community", _jst(2026, 9, 2, 10, 0), 500)
    # P09-05-1 matches the drill twice over (category and explicit link) and the festival by category.
    _set_rules("P09-05-1", [Rule(MatchKind.CATEGORY, "safety"), Rule(MatchKind.CATEGORY, "community"),
                            Rule(MatchKind.SERIES, str(drill.series_id)),
                            Rule(MatchKind.ORGANIZATION_KIND, "neighborhood_association")])
    values = _values(2026, "P09-02-2", "P09-05-1")
    assert values["P09-02-2"].value == 30
    assert (values["P09-05-1"].value, values["P09-05-1"].ended) == (530, 2)
    with app_context():  # the preview of the same rules gives the same number
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-05-1"))
        value, rows = preview_rules(indicator, [Rule(r.match, r.value) for r in indicator.rules], 2026, now=NOW)
        assert value.value == 530 and len(rows) == 2


def test_rules_on_organization_kind_and_explicit_event(staff_user):
    npo = make_user()
    group = make_organization(kind=OrganizationKind.NPO, officer_id=npo.id, name="NPO法人みなと")
    from tests.events.factories import make_series, occurrence_ids

    series = make_series(organization_id=group.id, actor_id=npo.id, category="other")
    linked = _event("other", _jst(2026, 6, 1, 10, 0), 5)
    org = type(linked)(npo.email, npo.id, group.id, series.id, occurrence_ids(series.id)[0])
    move_occurrence(org.occurrence_id, _jst(2026, 6, 2, 10, 0))
    make_report(org, 12)
    _set_rules("P11-03-1", [Rule(MatchKind.ORGANIZATION_KIND, "npo"), Rule(MatchKind.SERIES, str(linked.series_id))])
    assert _values(2026, "P11-03-1")["P11-03-1"].value == 17


def test_partner_organizations_distinct_and_cumulative(staff_user):
    first = _event("culture_arts", _jst(2026, 5, 1, 10, 0), 10)
    second = _event("culture_arts", _jst(2026, 6, 1, 10, 0))
    partners = [make_organization(name=f"劇団{n}", kind=OrganizationKind.CULTURE_ARTS).id for n in range(3)]
    with app_context():
        for series_id, organization_ids in ((first.series_id, partners[:2]), (second.series_id, partners[1:])):
            for organization_id in organization_ids:
                db.session.add(EventPartner(series_id=series_id, organization_id=organization_id))
        db.session.commit()
    _set_rules("P10-03-2", [Rule(MatchKind.CATEGORY, "culture_arts")])  # 多様な主体との連携数(延べ)
    values = _values(2026, "P14-02-1", "P10-03-2")
    assert values["P14-02-1"].value == 3  # distinct groups: 劇団0, 劇団1, 劇団2
    assert values["P10-03-2"].value == 4  # 延べ: every (event, group) pair
    assert (values["P14-02-1"].ended, values["P14-02-1"].reported) == (2, 1)


def test_registry_counts(staff_user):
    with app_context():
        pass
    for n, (shops, member) in enumerate(((40, True), (25, False), (None, True))):
        make_organization(name=f"商店会{n}", kind=OrganizationKind.SHOPPING_STREET, shop_count=shops,
                          in_shotengai_federation=member)
    make_organization(name="未確認の商店会", kind=OrganizationKind.SHOPPING_STREET, verified=False, shop_count=99,
                      in_shotengai_federation=True)
    npo_ids = [make_organization(name=f"NPO{n}", kind=OrganizationKind.NPO).id for n in range(3)]
    with app_context():
        db.session.add_all([NpoGrantUse(organization_id=npo_ids[0], fiscal_year=2026),
                            NpoGrantUse(organization_id=npo_ids[1], fiscal_year=2026),
                            NpoGrantUse(organization_id=npo_ids[2], fiscal_year=2026, uses_grant=False),
                            NpoGrantUse(organization_id=npo_ids[2], fiscal_year=2025)])
        db.session.commit()
    values = _values(2026, "P09-01-2", "P12-02-1", "P12-02-2")
    assert values["P09-01-2"].value == 2 and values["P09-01-2"].completeness is None
    assert (values["P12-02-1"].value, values["P12-02-1"].reported, values["P12-02-1"].ended) == (2, 3, 3)
    assert (values["P12-02-2"].value, values["P12-02-2"].reported, values["P12-02-2"].ended) == (65, 2, 3)
    past = _values(2025, "P09-01-2", "P12-02-1")
    assert past["P09-01-2"].value == 1
    assert past["P12-02-1"].value is None  # the registry holds groups as they are now
    assert _values(2024, "P09-01-2")["P09-01-2"].value is None  # nothing recorded for the year: unknown, not 0


def test_booking_indicators_come_from_the_utilization_function(staff_user):
    center = make_center()
    add_closure(center.facility_id, date(2025, 4, 1), date(2026, 3, 30))  # open 3/30 and 3/31: 2 x 19 units
    add_booking(center.hall_id, date(2026, 3, 30), [(9 * 60, 12 * 60)])  # the whole hall: its two halves
    hall = make_center(name="伝統文化交流館")
    with app_context():
        db.session.get(Facility, hall.facility_id).kind = FacilityKind.TRADITIONAL_CULTURE
        db.session.commit()
    add_closure(hall.facility_id, date(2025, 4, 1), date(2026, 3, 30))
    for day in (date(2026, 3, 30), date(2026, 3, 31)):
        add_booking(hall.meeting_id, day, [(9 * 60, 12 * 60)])
    add_booking(hall.hall_id, date(2026, 3, 31), [(13 * 60, 17 * 60)])  # another room of the building
    _set_rules("P09-04-2", [Rule(MatchKind.ROOM, str(hall.meeting_id))])  # the room that is 「交流の間」
    values = _values(2025, "P09-04-1", "P09-04-2")
    assert values["P09-04-1"].value == Decimal("5.3")  # 2 / 38 = 5.26 %
    assert values["P09-04-2"].value == 2
    assert values["P09-04-1"].completeness is None  # completeness applies to reports only
    with app_context():
        rate = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-04-1"))
        count = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-04-2"))
        assert breakdowns(rate, 2025, now=NOW) == {"district": [["akasaka", "5.3"]], "month": [["202603", "5.3"]]}
        assert breakdowns(count, 2025, now=NOW) == {"district": [["akasaka", 2]], "month": [["202603", 2]]}


def test_rules_page_previews_without_saving_then_saves_with_an_audit_row(client, staff_user):
    tour = _event("tourism", ended(), 80)
    walk = _event("know_the_area", ended(), 20)
    login(client, staff_user.email)
    page = "/staff/indicators/P13-03-1/rules"
    html = client.get(page).get_data(as_text=True)
    assert f"/events/{tour.series_id}" in html and f"/events/{walk.series_id}" not in html
    year = str(fiscal_year(utcnow()))
    proposal = {"categories": ["tourism", "know_the_area"], "series": "", "preview_year": year, "preview": "1"}
    html = post_form(client, page, proposal, page=page).get_data(as_text=True)
    assert f"/events/{walk.series_id}" in html and "100人" in html
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MappingRule).join(Indicator)
                                 .where(Indicator.code == "P13-03-1")) == 1  # the preview saved nothing
    response = post_form(client, page, {**proposal, "save": "1"}, page=page)
    assert response.status_code == 303
    with app_context():
        rules = db.session.execute(sa.select(MappingRule.match, MappingRule.value).join(Indicator)
                                   .where(Indicator.code == "P13-03-1").order_by(MappingRule.value)).all()
        assert rules == [(MatchKind.CATEGORY, "know_the_area"), (MatchKind.CATEGORY, "tourism")]
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "indicator.rules"))
        assert audit.target_id == "P13-03-1" and audit.details["before"] == [["category", "tourism"]]
    assert _values(fiscal_year(utcnow()), "P13-03-1", now=utcnow())["P13-03-1"].value == 100


def test_rules_bad_input_is_a_clear_422_and_saves_nothing(client, staff_user):
    login(client, staff_user.email)
    page = "/staff/indicators/P13-03-1/rules"
    year = str(fiscal_year(utcnow()))
    for data, message in (({"series": "12a"}, "イベント番号は数字"), ({"series": "999999"}, "999999 は見つかりません"),
                          ({"series": "\u1369"}, "イベント番号は数字"),  # Ethiopic one: isdigit() yet not int()
                          ({"categories": ["nope"]}, "一覧から選んで")):
        response = post_form(client, page, {"preview_year": year, "save": "1", **data}, page=page)
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and message in html
    with app_context():
        assert db.session.scalar(sa.select(Indicator.rules_edited_at).where(Indicator.code == "P13-03-1")) is None
    assert client.get("/staff/indicators/P09-00-1/rules").status_code == 404  # a survey has no rules
    resident = client.application.test_client()
    login(resident, make_user().email)
    assert resident.get(page).status_code == 403


def test_freeze_keeps_values_and_reopen_recomputes(client, staff_user):
    current = fiscal_year(utcnow())
    last = current - 1
    _event("tourism", _jst(last, 6, 1, 10, 0), 10)
    login(client, staff_user.email)
    years_page = "/staff/indicators/years"
    confirm_page = f"/staff/indicators/years/{last}/freeze"
    assert post_form(client, confirm_page, {"confirmed": "1"}, page=confirm_page).status_code == 303
    _event("tourism", _jst(last, 7, 1, 10, 0), 5)  # arrives after the freeze
    item = client.get("/api/v1/indicators/P13-03-1").get_json()
    frozen = next(v for v in item["yearly_values"] if v["fiscal_year"] == last)
    assert (frozen["value"], frozen["origin"], frozen["frozen"], frozen["completeness"]) == ("10", "snapshot", True,
                                                                                              "1")
    # Staff cannot enter a survey value for a frozen year.
    survey = "/staff/indicators/P09-01-1"
    response = post_form(client, f"{survey}/values", {"fiscal_year": str(last), "value": "50",
                                                      "source_document": "調査"}, page=survey)
    assert response.status_code == 422 and "確定済み" in response.get_data(as_text=True)
    # The current year cannot be frozen; freezing twice is refused.
    for year in (current, last):
        client.post(f"/staff/indicators/years/{year}/freeze",
                    data={"csrf_token": _csrf(client, years_page), "confirmed": "1"})
    with app_context():
        assert db.session.scalars(sa.select(FrozenYear.fiscal_year)).all() == [last]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot)) == 40
    assert post_form(client, f"/staff/indicators/years/{last}/reopen", {}, page=years_page).status_code == 303
    item = client.get("/api/v1/indicators/P13-03-1").get_json()
    live = next(v for v in item["yearly_values"] if v["fiscal_year"] == last)
    assert (live["value"], live["origin"], live["frozen"]) == ("15", "computed", False)
    with app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("indicator.%_year"))
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["indicator.freeze_year", "indicator.reopen_year"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot)) == 0
    resident = client.application.test_client()
    login(resident, make_user().email)
    assert post_form(resident, f"/staff/indicators/years/{last}/freeze", {}, page="/").status_code == 403


def _csrf(client, url):
    from tests.factories import csrf_token

    return csrf_token(client, url)


def test_computed_values_reach_dashboard_public_page_exports_and_api(client, staff_user):
    officer = _event("tourism", ended(), 1234)
    _event("tourism", ended())  # no report: completeness 1 / 2
    login(client, staff_user.email)
    html = client.get("/staff/indicators").get_data(as_text=True)
    card = re.search(r'<article class="ind-card">\s*<h3><a href="/staff/indicators/P13-03-1">.*?</article>', html,
                     re.S).group(0)
    assert "1,234人" in card and "報告率" in card and "50.0%" in card and "(1 / 2)" in card
    # 1,234 < 4,000 (令和8年度末), but the year is not over: judged when it ends, not 未達成 in the middle of it.
    assert "未達成" not in card and "年度の終わりに判定します" in card
    rows = list(csv.reader(io.StringIO(client.get("/staff/indicators/export.csv").get_data(as_text=True)[1:])))
    row = next(r for r in rows if r[0] == "P13-03-1")
    header = rows[0]
    assert row[header.index("実績")] == "1234" and row[header.index("年度途中")] == "年度途中"
    assert row[header.index("報告率")] == "0.5" and row[header.index("判定")] == "年度の終わりに判定します"
    book = load_workbook(io.BytesIO(client.get("/staff/indicators/export.xlsx").data))
    sheet = book.active
    values = {r[0]: r for r in sheet.iter_rows(values_only=True)}
    assert values["P13-03-1"][header.index("実績")] == 1234
    item = client.get("/api/v1/indicators/P13-03-1").get_json()
    assert item["latest"]["value"] == "1234" and item["latest"]["completeness"] == "0.5"
    assert item["latest"]["partial"] is True
    assert item["latest"]["judgement"] is None and item["latest"]["judgement_pending"] is True
    anonymous = client.application.test_client()
    public = anonymous.get("/indicators").get_data(as_text=True)
    assert "1,234人" in public and officer.officer_email not in public and "区職員 佐藤" not in public


def test_detail_page_chart_breakdown_and_sources(client, staff_user):
    tour = _event("tourism", ended(), 42)
    login(client, staff_user.email)
    html = client.get("/staff/indicators/P13-03-1").get_data(as_text=True)
    assert 'id="chart-years"' in html and "目標へのペース" in html
    assert f"/events/{tour.series_id}" in html and "42人" in html
    assert '<th scope="row">芝地区</th><td>42</td>' in html  # the district of the event
    assert "/staff/indicators/P13-03-1/rules" in html
    center = client.get("/staff/indicators/P09-04-1").get_data(as_text=True)
    assert "対象の施設" in center and "利用率 = 予約された枠数" in center  # the formula beside the number
    assert "参加者数 = 対象のイベント" in html
    bad = client.get("/staff/indicators/P09-04-1?fy=abc")
    assert bad.status_code == 200  # this fiscal year, and a notice that says so
    assert "「abc」は選べる年度ではありません(令和元年度(2019年度)から" in bad.get_data(as_text=True)
    assert "を表示しています。" in bad.get_data(as_text=True)
    assert "選べる年度ではありません" not in client.get("/staff/indicators/P09-04-1?fy=2019").get_data(as_text=True)
    assert "選べる年度ではありません" in client.get("/staff/indicators/P09-04-1?fy=2018").get_data(as_text=True)


def test_staff_list_query_count_does_not_grow_with_events(client, staff_user, app):
    login(client, staff_user.email)

    def measure():
        with recorded_statements(app) as statements:
            assert client.get("/staff/indicators").status_code == 200
        return len(statements)

    _event("tourism", ended(), 3)
    small = measure()
    for n in range(4):
        _event(["tourism", "safety", "community", "culture_arts"][n], ended(), n + 1)
    assert measure() == small


def test_catalog_load_seeds_default_rules_once_and_keeps_staff_edits(staff_user):
    with app_context():
        services.load_catalog()  # a second load adds nothing
        db.session.commit()
        counts = dict(db.session.execute(sa.select(Indicator.code, sa.func.count(MappingRule.id))
                                         .join(MappingRule).group_by(Indicator.code)).all())
        assert counts["P09-02-2"] == 1 and counts["P10-03-2"] == 2 and "P09-00-1" not in counts
    _set_rules("P09-02-2", [])  # staff removed every rule on purpose
    with app_context():
        services.load_catalog()
        db.session.commit()
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-02-2"))
        assert indicator.rules == [] and indicator.rules_edited_at is not None
    _event("safety", _jst(2026, 5, 1, 10, 0), 10)
    assert _values(2026, "P09-02-2")["P09-02-2"].value is None  # no rules: nothing counts


def test_unknown_plan_baseline_leaves_the_progress_unknown_but_judges_against_the_target(staff_user):
    from app.indicators import queries

    _event("social_business", _jst(2026, 5, 1, 10, 0), 2500)  # P11-03-1: baseline garbled in the plan
    with app_context():
        indicator = queries.get_by_code("P11-03-1")
        summary = queries.summarize(indicator, queries.year_values([indicator], [2025, 2026], now=NOW)[indicator.id])
        assert summary.baseline.value is None and summary.final_target.value == 2000
        assert summary.latest.value == 2500 and summary.progress is None
        assert summary.judgement.value == "achieved" and summary.pace(2026) is None


def test_a_year_to_date_value_is_judged_at_year_end_unless_it_already_reached_the_target(staff_user):
    from app.indicators import queries
    from app.indicators.sources import YearValue

    with app_context():
        indicator = queries.get_by_code("P13-03-1")  # 観光案内者数, higher is better, 4,000 by 令和8年度末
        whole_year = queries.summarize(indicator, {2026: YearValue(2026, Decimal(1234), "computed")})
        assert whole_year.judgement.value == "not_achieved" and not whole_year.pending  # the target's year
        assert whole_year.pace_now is None and whole_year.final_judgement
        # Half of 令和8年度 gone (1 October is day 184 of 365, today counts): 4,000 x 184 / 365 = 2,016.4.
        half = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 10月1日 01:00 in Tokyo
        so_far = queries.summarize(indicator, {2026: YearValue(2026, Decimal(1234), "computed", partial=True)},
                                   now=half)
        assert so_far.judgement is None and so_far.pending
        assert so_far.progress is None  # a count so far is set against the pace, not the whole year's target
        assert so_far.pace_now == Decimal("2016.4") and so_far.on_pace is False
        ahead = queries.summarize(indicator, {2026: YearValue(2026, Decimal(2100), "computed", partial=True)},
                                  now=half)
        assert ahead.judgement is None and ahead.on_pace is True
        reached = queries.summarize(indicator, {2026: YearValue(2026, Decimal(4500), "computed", partial=True)})
        assert reached.judgement.value == "achieved" and not reached.pending  # a count only grows
