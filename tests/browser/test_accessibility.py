"""axe-core on every public page and the main signed-in pages, in 日本語, English and やさしい日本語.

No serious or critical violation may remain (moderate and minor ones are reported by axe but not failed here).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.events.models import EventOccurrence, EventSeries, EventStatus
from app.extensions import db
from app.facilities.models import Facility, FacilityStaff, LotteryPeriod, Room
from app.organizations.models import Organization
from tests.browser.conftest import run_axe, with_axe

pytestmark = pytest.mark.browser


def _ids(live) -> dict:
    def read():
        staff_facility = db.session.scalar(sa.select(FacilityStaff.facility_id).order_by(FacilityStaff.id).limit(1))
        event = db.session.scalar(sa.select(EventSeries.id).where(EventSeries.status == EventStatus.PUBLISHED)
                                  .order_by(EventSeries.id).limit(1))
        return {
            "event": event,
            "occurrence": db.session.scalar(sa.select(EventOccurrence.id).where(EventOccurrence.series_id == event)
                                            .order_by(EventOccurrence.starts_at.desc()).limit(1)),
            "lottery": db.session.scalar(sa.select(LotteryPeriod.id).order_by(LotteryPeriod.id).limit(1)),
            "organization": db.session.scalar(sa.select(Organization.id).order_by(Organization.id).limit(1)),
            "facility": staff_facility or db.session.scalar(sa.select(Facility.id).order_by(Facility.id).limit(1)),
            "room": db.session.scalar(sa.select(Room.id).where(Room.facility_id == staff_facility)
                                      .order_by(Room.id).limit(1)),
        }

    return live.run(read)


def public_pages(ids: dict) -> list[str]:
    return [
        "/", "/events/", "/events/calendar", f"/events/{ids['event']}", "/organizations/",
        f"/organizations/{ids['organization']}", "/facilities/", f"/facilities/{ids['facility']}",
        f"/facilities/{ids['facility']}/availability", f"/facilities/{ids['facility']}/availability?view=month",
        "/facilities/search", "/indicators", "/account/login", "/account/signup", "/account/forgot",
        "/account/signup/sent", "/account/confirm/not-a-token", "/account/reset/not-a-token",
        f"/events/occurrences/{ids['occurrence']}/guest", "/alerts/freed", "/lotteries/",
        *([f"/lotteries/{ids['lottery']}"] if ids["lottery"] else []),
        "/no-such-page",
    ]


def resident_pages(ids: dict) -> list[str]:
    return ["/account/profile", "/bookings/mine", f"/bookings/new?room={ids['room']}", "/events/mine",
            "/organizations/mine", "/organizations/new", "/lotteries/mine"]


def staff_pages(ids: dict) -> list[str]:
    return ["/staff/utilization", f"/staff/utilization/facilities/{ids['facility']}", "/staff/indicators",
            "/organizations/review", "/events/review", "/participation/staff/reports",
            "/participation/staff/participants", f"/bookings/desk/{ids['facility']}",
            f"/bookings/desk/{ids['facility']}/closures", "/lotteries/staff"]


# Error pages audited on purpose; every other page must answer 200 (an audit of a 404 page would prove nothing).
ERROR_PAGES = {"/no-such-page": 404, "/account/reset/not-a-token": 400}


def _audit(page, paths: list[str], who: str = "anonymous") -> dict[str, list[dict]]:
    found = {}
    for path in paths:
        status = page.goto(path).status
        if status != ERROR_PAGES.get(path, 200):
            found[f"{who} {path}"] = [{"status": status}]
        violations = run_axe(page)
        if violations:
            found[f"{who} {path}"] = violations
    return found


@pytest.mark.parametrize("lang", ["ja", "en", "ja-easy"])
def test_public_pages_have_no_serious_violations(live, open_context, lang):
    page = with_axe(open_context(lang)).new_page()
    assert _audit(page, public_pages(_ids(live))) == {}


@pytest.mark.parametrize("lang", ["ja", "en", "ja-easy"])
def test_signed_in_pages_have_no_serious_violations(live, demo_user, lang):
    ids = _ids(live)
    found = _audit(demo_user("resident", lang, axe=True), resident_pages(ids), "resident")
    found |= _audit(demo_user("facility_staff", lang, axe=True),
                    [p for p in staff_pages(ids) if "desk" in p], "facility staff")
    found |= _audit(demo_user("ward_staff", lang, axe=True),
                    [p for p in staff_pages(ids) if "desk" not in p], "ward staff")
    assert found == {}
