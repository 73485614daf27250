"""axe-core on every public page and the main signed-in pages, in 日本語, English and やさしい日本語.

The officer's pages (the group's dashboard, event and occurrence forms, registrations, the door, the participation
report, members and invitations, the group's bookings and lottery entry, the profile edit with a logo uploaded through
it) are audited as the demo officer (DEMO_ACCOUNTS["officer"]) in their demo group that has events (past and
upcoming, with registrations) and bookings; the test adds a second member, an open invitation and a lottery entry so
those pages show their forms, lists and tables.

No serious or critical violation may remain (moderate and minor ones are reported by axe but not failed here).
"""

from __future__ import annotations

import io
import re
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from app.accounts import services as account_services
from app.accounts.models import User
from app.bookings.models import Booking, BookingSeries
from app.core.permissions import Role
from app.core.time import utcnow
from app.demo.accounts import DEMO_ACCOUNTS
from app.events.models import EventOccurrence, EventSeries, EventStatus, OccurrenceStatus, Registration
from app.extensions import db
from app.facilities.models import Facility, FacilityStaff, Room
from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryPreference
from app.organizations.models import Invitation, Membership, MembershipRole, Organization
from app.organizations.services import _sha256
from app.participation.models import ParticipationReport
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
    return ["/", "/my/", "/account/profile", "/bookings/mine", f"/bookings/new?room={ids['room']}", "/events/mine",
            "/organizations/mine", "/organizations/new", "/lotteries/mine"]


def staff_pages(ids: dict) -> list[str]:
    return ["/ward/", "/desk/", "/", "/staff/utilization", f"/staff/utilization/facilities/{ids['facility']}",
            "/staff/indicators",
            "/organizations/review", "/events/review", "/participation/staff/reports",
            "/participation/staff/participants", f"/bookings/desk/{ids['facility']}",
            f"/bookings/desk/{ids['facility']}/closures", "/lotteries/staff"]


MEMBER_EMAIL = "member-a11y@example.jp"
PASSWORD = "Browser-Minato-Officer-2026"  # noqa: S105


def _officer_ids(live) -> dict:
    """The demo officer's group that has both published events and bookings, made (once) to show every page's
    forms, lists and tables; its pages' ids."""
    def read():
        now = utcnow()
        officer = db.session.scalar(sa.select(User.id).where(User.email == DEMO_ACCOUNTS["officer"].email))
        assert officer is not None, "the demo data has no officer account"
        events_of = sa.select(EventSeries.organization_id).where(EventSeries.status == EventStatus.PUBLISHED)
        officer_of = sa.select(Membership.organization_id).where(Membership.user_id == officer,
                                                                 Membership.role == MembershipRole.OFFICER)
        org = db.session.scalar(sa.select(BookingSeries.organization_id)
                                .where(BookingSeries.organization_id.in_(events_of),
                                       BookingSeries.organization_id.in_(officer_of))
                                .order_by(BookingSeries.organization_id).limit(1))
        assert org is not None, "the demo officer runs no group with both events and a booking series"
        lottery = db.session.scalar(sa.select(LotteryPeriod.id).order_by(LotteryPeriod.id).limit(1))
        if db.session.scalar(sa.select(User.id).where(User.email == MEMBER_EMAIL)) is None:
            member = account_services.create_user(email=MEMBER_EMAIL, password=PASSWORD, role=Role.RESIDENT,
                                                  display_name="会員 花子")
            db.session.flush()
            db.session.add_all([
                Membership(organization_id=org, user_id=member.id, role=MembershipRole.MEMBER),
                Invitation(organization_id=org, email="invited-a11y@example.jp", role=MembershipRole.EDITOR,
                           token_hash=_sha256(secrets.token_urlsafe(32)), invited_by_id=officer,
                           expires_at=now + timedelta(days=14)),
            ])
            # The group's entry in the demo lottery (its tier is open now), as the authorization matrix makes one.
            period = db.session.get(LotteryPeriod, lottery)
            db.session.add(LotteryEntry(period_id=period.id, user_id=officer, organization_id=org,
                                        group_key=f"org:{org}", tier=1, preferences=[LotteryPreference(
                                            rank=1, room_id=period.room_id, day=period.start_date,
                                            slot_code="morning")]))
        # An open invitation the officer can open too (the page an invitee sees); a new one each call, by token.
        token = secrets.token_urlsafe(32)
        db.session.add(Invitation(organization_id=org, email="invitee-a11y@example.jp", role=MembershipRole.MEMBER,
                                  token_hash=_sha256(token), expires_at=now + timedelta(days=14)))
        registered = sa.select(Registration.occurrence_id)
        reported = sa.select(ParticipationReport.occurrence_id)
        occurrences = (sa.select(EventOccurrence.id).join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                       .where(EventSeries.organization_id == org, EventSeries.status == EventStatus.PUBLISHED,
                              EventOccurrence.status == OccurrenceStatus.SCHEDULED))
        upcoming = db.session.scalar(occurrences.where(EventOccurrence.starts_at > now,
                                                       EventOccurrence.id.in_(registered))
                                     .order_by(EventOccurrence.starts_at).limit(1))
        ended = occurrences.where(EventOccurrence.ends_at <= now).order_by(EventOccurrence.starts_at.desc()).limit(1)
        return {
            "organization": org,
            "series": db.session.scalar(sa.select(EventOccurrence.series_id).where(EventOccurrence.id == upcoming)),
            "upcoming": upcoming,
            "reported": db.session.scalar(ended.where(EventOccurrence.id.in_(reported))),
            "unreported": db.session.scalar(ended.where(EventOccurrence.id.not_in(reported))),
            "booking": db.session.scalar(sa.select(Booking.id).where(Booking.organization_id == org)
                                         .order_by(Booking.day).limit(1)),
            "booking_series": db.session.scalar(sa.select(BookingSeries.id).where(BookingSeries.organization_id == org)
                                                .order_by(BookingSeries.id).limit(1)),
            "invitation": token,
            "lottery": lottery,
            "entry": db.session.scalar(sa.select(LotteryEntry.id).where(LotteryEntry.organization_id == org)
                                       .order_by(LotteryEntry.id).limit(1)),
            "room": db.session.scalar(sa.select(Booking.room_id).where(Booking.organization_id == org).limit(1)),
        }

    ids = live.run(read)
    assert all(ids.values()), ids
    return ids


def officer_pages(ids: dict) -> list[str]:
    org, series, upcoming = ids["organization"], ids["series"], ids["upcoming"]
    return [
        "/", "/manage/", "/organizations/mine", f"/organizations/{org}", f"/organizations/{org}/edit",
        f"/organizations/{org}/members",
        f"/organizations/invitations/{ids['invitation']}",
        f"/events/organizations/{org}/manage", f"/events/new?org={org}", f"/events/{series}",
        f"/events/{series}/edit", f"/events/{series}/cancel",
        f"/events/occurrences/{upcoming}/edit", f"/events/occurrences/{upcoming}/cancel",
        f"/events/occurrences/{upcoming}/registrations", f"/participation/occurrences/{upcoming}/checkin",
        f"/participation/occurrences/{upcoming}/report", f"/participation/occurrences/{ids['unreported']}/report",
        f"/participation/occurrences/{ids['reported']}/report", f"/participation/organizations/{org}/reports",
        "/bookings/mine", f"/bookings/{ids['booking']}", f"/bookings/{ids['booking']}/cancel",
        f"/bookings/series/{ids['booking_series']}", f"/bookings/series/{ids['booking_series']}/cancel",
        f"/bookings/new?room={ids['room']}", f"/bookings/series/new?room={ids['room']}",  # "for the group" choice
        f"/lotteries/{ids['lottery']}/apply", "/lotteries/mine", f"/lotteries/entries/{ids['entry']}",
    ]


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


@pytest.mark.parametrize("lang", ["ja", "en", "ja-easy"])
def test_officer_pages_have_no_serious_violations(live, demo_user, lang):
    ids = _officer_ids(live)
    page = demo_user("officer", lang, axe=True)
    _upload_logo(page, ids["organization"])  # so the edit form and the group's page show the logo too
    assert _audit(page, officer_pages(ids), "officer") == {}


def _upload_logo(page, org: int) -> None:
    """Upload a logo through the group's edit form, unless it has one already."""
    page.goto(f"/organizations/{org}/edit")
    if page.locator("main img.org-logo").count():
        return
    image = io.BytesIO()
    Image.new("RGB", (240, 160), (0, 102, 153)).save(image, "PNG")
    page.set_input_files("input[name=logo]", files=[{"name": "logo.png", "mimeType": "image/png",
                                                     "buffer": image.getvalue()}])
    page.locator("main form[enctype] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/organizations/{org}$"))
