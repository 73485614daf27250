"""The home page, the header's role menus, the workspaces and the breadcrumbs (app/portal)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.bookings.models import Booking, BookingState
from app.core.permissions import Role
from app.core.time import today_tokyo, utcnow
from app.events.models import EventStatus
from app.extensions import db
from app.participation.models import CountingMethod, ParticipationReport, ReportStatus
from app.portal.views import DISTRICT_COOKIE
from tests.events.factories import make_series
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, recorded_statements
from tests.organizations.factories import make_organization
from tests.participation.factories import ended, make_organized, make_registration
from tests.utilization.factories import add_booking

SOON = today_tokyo() + timedelta(days=1)


def _html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _main(html: str) -> str:
    """The page's own content, without the header (whose menus repeat many links)."""
    return html.split('<main id="main"', 1)[1]


def _event(title: str, district: str, day=SOON):
    user = make_user()
    organization = make_organization(officer_id=user.id)
    return make_series(organization_id=organization.id, actor_id=user.id, district=district, first_date=day,
                       texts={"title_ja": title, "summary_ja": "説明"})


# ---------------------------------------------------------------- the home page


def test_home_lists_this_weeks_events_and_remembers_the_chosen_district(client):
    _event("芝の防災訓練", "shiba")
    _event("麻布の夏祭り", "azabu")
    _event("来月の講座", "shiba", day=today_tokyo() + timedelta(days=40))
    html = _html(client, "/")
    assert "芝の防災訓練" in html and "麻布の夏祭り" in html
    assert "来月の講座" not in html  # not this week

    response = client.get("/?district=azabu")
    html = response.get_data(as_text=True)
    assert "麻布の夏祭り" in html and "芝の防災訓練" not in html
    assert f"{DISTRICT_COOKIE}=azabu" in response.headers["Set-Cookie"]
    html = _html(client, "/")  # the choice is remembered
    assert "麻布の夏祭り" in html and "芝の防災訓練" not in html
    assert re.search(r'<option value="azabu" selected>', html)
    # "all districts" forgets it
    response = client.get("/?district=")
    assert f"{DISTRICT_COOKIE}=;" in response.headers["Set-Cookie"]
    assert "芝の防災訓練" in _html(client, "/")


def test_home_ignores_an_unknown_district(client):
    _event("芝の防災訓練", "shiba")
    client.set_cookie(DISTRICT_COOKIE, "atlantis")
    assert "芝の防災訓練" in _html(client, "/")
    assert "芝の防災訓練" in _html(client, "/?district=<script>")


def test_home_links_the_public_sections_and_the_quick_room_search(client):
    html = _html(client, "/")
    for href in ('/events/"', '/events/calendar"', '/facilities/"', '/lotteries/"', '/organizations/"',
                 '/indicators"', '/alerts/freed"'):
        assert f'href="{href}' in _main(html) or f'href="{href}' in html, href
    form = re.search(r'<form method="get" action="/facilities/search".*?</form>', html, re.S).group(0)
    assert all(f'name="{name}"' in form for name in ("day", "start", "capacity"))
    assert 'href="/my/"' not in html  # nothing of a signed-in person's


def test_signed_in_home_shows_the_next_registration_with_its_ticket_and_the_booking_number(client):
    org = make_organized(starts_at=utcnow() + timedelta(days=2))
    registration_id, user_id, email = make_registration(org.occurrence_id)
    center = make_center()
    with app_context():
        booking_id = add_booking(center.meeting_id, SOON, [(540, 720)])
        db.session.get(Booking, booking_id).user_id = user_id
        db.session.commit()
    login(client, email)
    html = _main(_html(client, "/"))
    assert f'href="/participation/registrations/{registration_id}/ticket"' in html
    assert f'href="/bookings/{booking_id}"' in html and f"予約番号 {booking_id}" in html


def test_an_unpaid_tentative_booking_is_a_notice_with_its_deadline(client):
    user = make_user()
    center = make_center()
    booking_id = add_booking(center.meeting_id, SOON, [(540, 720)], state=BookingState.TENTATIVE)
    with app_context():
        booking = db.session.get(Booking, booking_id)
        booking.user_id, booking.hold_until = user.id, utcnow() + timedelta(days=2)
        db.session.commit()
    login(client, user.email)
    html = _main(_html(client, "/"))
    assert "仮予約があります" in html and f'href="/bookings/{booking_id}"' in html
    assert f"予約番号 {booking_id}" in html and "会議室" in html  # which booking: several read alike otherwise


# ---------------------------------------------------------------- menus and workspaces


def test_each_role_sees_only_its_own_menus(client):
    resident = make_user()
    login(client, resident.email)
    html = _html(client, "/")
    assert 'href="/my/"' in html
    assert not any(f'href="/{w}/"' in html for w in ("manage", "desk", "ward"))
    staff = make_user(role=Role.WARD_STAFF)
    other = client.application.test_client()
    login(other, staff.email)
    html = _html(other, "/")
    assert 'href="/ward/"' in html and 'href="/desk/"' not in html and 'href="/manage/"' not in html


def test_an_officers_due_report_is_counted_in_the_menu_and_listed_until_submitted(client):
    org = make_organized(starts_at=ended())
    login(client, org.officer_email)
    html = _html(client, "/")
    assert re.search(rf'href="/manage/#org-{org.organization_id}">[^<]*<span class="count">1<', html)
    manage = _main(_html(client, "/manage/"))
    assert f'href="/participation/organizations/{org.organization_id}/reports"' in manage
    with app_context():
        db.session.add(ParticipationReport(occurrence_id=org.occurrence_id, revision=1, total=5,
                                           counting_method=CountingMethod.HEAD_COUNT,
                                           status=ReportStatus.SUBMITTED, submitted_by_id=org.officer_id))
        db.session.commit()
    html = _html(client, "/")  # with the ward now, not due from the group
    assert not re.search(rf'href="/manage/#org-{org.organization_id}">[^<]*<span class="count">', html)


def test_todays_occurrence_offers_the_door_check_in_in_the_workspace(client):
    org = make_organized(starts_at=utcnow() + timedelta(minutes=30))
    tomorrow = make_organized(starts_at=utcnow() + timedelta(days=3))
    login(client, org.officer_email)
    manage = _main(_html(client, "/manage/"))
    assert f'href="/participation/occurrences/{org.occurrence_id}/checkin"' in manage
    assert f'href="/events/occurrences/{org.occurrence_id}/registrations"' in manage
    assert f"/participation/occurrences/{tomorrow.occurrence_id}/checkin" not in manage


def test_an_editor_gets_the_group_workspace_without_the_officers_pages(client):
    org = make_organized(editor=True)
    login(client, org.officer_email)
    manage = _main(_html(client, "/manage/"))
    assert f'href="/events/organizations/{org.organization_id}/manage"' in manage
    assert f'/organizations/{org.organization_id}/members' not in manage


def test_the_ward_counts_are_the_lengths_of_the_queues(client):
    staff = make_user(role=Role.WARD_STAFF)
    make_organization(name="申請中の町会", verified=False)
    make_organization(name="もう一つの申請", verified=False)
    user = make_user()
    organization = make_organization(officer_id=user.id)
    make_series(organization_id=organization.id, actor_id=user.id, status=EventStatus.SUBMITTED)
    overdue = make_organized(starts_at=utcnow() - timedelta(days=30))
    login(client, staff.email)
    ward = _main(_html(client, "/ward/"))

    def count(href: str) -> int:
        return int(re.search(rf'href="{href}">[^<]*</a> <span class="count count-neutral">(\d+)<', ward).group(1))

    assert count("/organizations/review") == 2
    assert count("/events/review") == 1
    assert count("/participation/staff/reports") == 0  # nothing submitted yet
    assert re.search(r'期限を過ぎた報告</a> <span class="count count-neutral">1<', ward)  # 30 days ago
    review = _html(client, "/organizations/review")  # the page the count links to lists both
    assert "申請中の町会" in review and "もう一つの申請" in review
    staff_reports = _html(client, "/participation/staff/reports")
    assert f"/participation/occurrences/{overdue.occurrence_id}/" in staff_reports or "防災訓練" in staff_reports


def test_the_desk_lists_waiting_approvals_and_tentative_bookings_near_their_deadline(client):
    staff = make_user(role=Role.FACILITY_STAFF)
    center, elsewhere = make_center(), make_center()
    assign_staff(staff.id, center.facility_id)
    waiting = add_booking(center.meeting_id, SOON, [(540, 720)], state=BookingState.REQUESTED)
    add_booking(elsewhere.meeting_id, SOON, [(540, 720)], state=BookingState.REQUESTED)  # not this desk's
    near = add_booking(center.meeting_id, SOON + timedelta(days=1), [(540, 720)], state=BookingState.TENTATIVE)
    far = add_booking(center.meeting_id, SOON + timedelta(days=2), [(540, 720)], state=BookingState.TENTATIVE)
    with app_context():
        db.session.get(Booking, near).hold_until = utcnow() + timedelta(days=1)
        db.session.get(Booking, far).hold_until = utcnow() + timedelta(days=20)
        db.session.commit()
    login(client, staff.email)
    desk = _main(_html(client, "/desk/"))
    assert f"予約番号 {waiting}" in desk and f"予約番号 {near}" in desk
    assert f"予約番号 {far}" not in desk
    assert len(re.findall(r"予約番号 \d+", desk)) == 2
    html = _html(client, "/")  # the menu counts what the desk lists
    assert re.search(rf'href="/bookings/desk/{center.facility_id}">[^<]*<span class="count">2<', html)


# ---------------------------------------------------------------- breadcrumbs and cost


@pytest.mark.parametrize(("role", "url", "workspace"), [
    (Role.RESIDENT, "/bookings/mine", "/my/"),
    (Role.WARD_STAFF, "/organizations/review", "/ward/"),
])
def test_pages_below_a_workspace_have_a_breadcrumb_to_it(client, role, url, workspace):
    user = make_user(role=role)
    login(client, user.email)
    html = _html(client, url)
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)
    assert 'href="/"' in crumbs and f'href="{workspace}"' in crumbs and 'aria-current="page"' in crumbs
    assert '<nav class="breadcrumbs"' not in _html(client, "/events/")  # a public page is not below a workspace


def test_the_home_page_costs_the_same_number_of_queries_whatever_the_data(app, client):
    staff = make_user(role=Role.ADMIN)
    login(client, staff.email)

    def measure() -> int:
        with recorded_statements(app) as statements:
            _html(client, "/")
        return len(statements)

    make_center()
    _event("一つ目", "shiba")
    small = measure()
    for n in range(4):
        center = make_center()
        assign_staff(staff.id, center.facility_id)
        add_booking(center.meeting_id, SOON, [(540, 720)], state=BookingState.REQUESTED)
        _event(f"イベント{n}", "azabu")
        make_organization(name=f"申請{n}", verified=False)
        make_organized(starts_at=ended())
    assert measure() == small


def test_the_workspaces_refuse_people_without_the_role(client):
    resident = make_user()
    login(client, resident.email)
    assert client.get("/desk/").status_code == 403
    assert client.get("/ward/").status_code == 403
    assert "あなたが役員や編集者になっている団体はありません" in _html(client, "/manage/")
