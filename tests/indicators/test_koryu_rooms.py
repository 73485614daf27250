"""P09-04-2 「交流の間」利用件数 counts the bookings of the rooms its room rule names, not the whole building: the rule
is seeded from the room named 交流の間, shown on the pages and edited (previewed, saved, audited) by ward staff."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from app.bookings.models import BookingState
from app.core.audit import AuditEvent
from app.extensions import db
from app.facilities.models import Facility, FacilityKind, Room
from app.indicators import services
from app.indicators.errors import InvalidRules
from app.indicators.models import Indicator, MappingRule, MatchKind
from app.indicators.sources import Rule
from app.utilization import figures
from tests.facilities.factories import make_center
from tests.factories import app_context, login, post_form
from tests.utilization.factories import add_booking

YEAR = 2025
MORNING, AFTERNOON = (9 * 60, 12 * 60), (13 * 60, 17 * 60)


def _building(kind=FacilityKind.TRADITIONAL_CULTURE, name="伝統文化交流館"):
    building = make_center(name=name)
    with app_context():
        db.session.get(Facility, building.facility_id).kind = kind
        db.session.get(Room, building.hall_id).name_ja = "交流の間"
        db.session.commit()
    return building


def _rules():
    return sorted(db.session.execute(sa.select(MappingRule.match, MappingRule.value).join(Indicator)
                                     .where(Indicator.code == "P09-04-2")).all())


def test_the_catalog_seeds_the_room_named_koryu_no_ma_of_the_culture_hall_only(app):
    koryu = _building()
    _building(FacilityKind.COMMUNITY_CENTER, "区民センター")  # a room of that name elsewhere: not the plan's
    with app.app_context():
        services.load_catalog()
        db.session.commit()
        assert _rules() == [(MatchKind.ROOM, str(koryu.hall_id))]
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-04-2"))
        assert indicator.rules[0].value_label == "伝統文化交流館 交流の間"
        services.save_rules(indicator, [], actor_id=None)  # staff clear it: the next load keeps it cleared
        services.load_catalog()
        db.session.commit()
        assert _rules() == []
        assert figures.koryu_count(YEAR).value is None  # no room named: unknown, not the whole building


def test_only_the_named_rooms_bookings_count(app):
    koryu = _building()
    with app.app_context():
        services.load_catalog()
        db.session.commit()
    add_booking(koryu.hall_id, date(YEAR, 6, 1), [MORNING])  # counts
    add_booking(koryu.hall_id, date(YEAR, 6, 2), [MORNING], state=BookingState.TENTATIVE)  # counts
    add_booking(koryu.hall_a_id, date(YEAR, 6, 3), [MORNING])  # a part of 交流の間 (分割利用): counts
    add_booking(koryu.hall_id, date(YEAR, 6, 4), [MORNING], state=BookingState.REQUESTED)  # 申込中: not yet
    add_booking(koryu.hall_id, date(YEAR, 6, 5), [MORNING], state=BookingState.EXPIRED)  # no
    add_booking(koryu.meeting_id, date(YEAR, 6, 1), [AFTERNOON])  # the building's meeting room: no
    add_booking(koryu.studio_id, date(YEAR, 6, 1), [(600, 660)])  # its studio: no
    with app.app_context():
        assert figures.koryu_count(YEAR).value == 3
        assert figures.koryu_count(YEAR, room_ids=[koryu.meeting_id]).value == 1


def test_rules_page_previews_saves_and_refuses_bad_rooms(client, staff_user):
    koryu = _building()
    with app_context():
        services.load_catalog()
        db.session.commit()
    add_booking(koryu.hall_id, date(YEAR, 6, 1), [MORNING])
    add_booking(koryu.meeting_id, date(YEAR, 6, 1), [AFTERNOON])
    add_booking(koryu.meeting_id, date(YEAR, 6, 2), [AFTERNOON])
    login(client, staff_user.email)
    page = "/staff/indicators/P09-04-2/rules"
    html = client.get(page).get_data(as_text=True)
    assert re.search(rf'<input checked id="rooms-\d+" name="rooms" type="checkbox" value="{koryu.hall_id}"> '
                     r'<span>伝統文化交流館 交流の間</span>', html)
    proposal = {"rooms": [str(koryu.meeting_id)], "preview_year": str(YEAR), "preview": "1"}
    html = post_form(client, page, proposal, page=page).get_data(as_text=True)
    assert '<strong id="preview-value">2件</strong>' in html
    with app_context():
        assert _rules() == [(MatchKind.ROOM, str(koryu.hall_id))]  # the preview saved nothing
    for bad in (["999999"], ["x"], ["１"]):
        response = post_form(client, page, {**proposal, "rooms": bad}, page=page)
        assert response.status_code == 422 and "部屋は一覧から選んでください。" in response.get_data(as_text=True)
    assert post_form(client, page, {**proposal, "save": "1"}, page=page).status_code == 303
    with app_context():
        assert _rules() == [(MatchKind.ROOM, str(koryu.meeting_id))]
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "indicator.rules"))
        assert audit.details["before"] == [["room", str(koryu.hall_id)]]
    detail = client.get("/staff/indicators/P09-04-2").get_data(as_text=True)
    assert "数える部屋: 伝統文化交流館 会議室" in detail and f'id="year-value-{YEAR}">2件' in detail


def test_rule_kinds_do_not_mix(app, catalog):
    with app.app_context():
        count = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-04-2"))
        tours = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P13-03-1"))
        for indicator, rules in ((count, [Rule(MatchKind.CATEGORY, "tourism")]), (tours, [Rule(MatchKind.ROOM, "1")])):
            try:
                services.save_rules(indicator, rules, actor_id=None)
            except InvalidRules:
                continue
            raise AssertionError(f"{indicator.code} took {rules}")
