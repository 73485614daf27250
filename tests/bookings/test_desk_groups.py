"""The staff desk books on behalf of a registered group: fees and 減免 by the group's kind, the booking attributed
to the group (its officer as contact unless an e-mail is given), the group's monthly limit, audit logged."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.bookings.models import Booking
from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from app.organizations.models import OrganizationKind
from tests.facilities.factories import assign_staff, make_center, make_organization
from tests.factories import app_context, login, make_user, post_confirmed, post_form


def _form(c, day, **over):
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids['morning']}"],
            "purpose": "町会の定例会", "attendees": "12", "category": "resident", "organization_id": "",
            "user_email": ""}
    data.update(over)
    return data


def _desk(client, c):
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    login(client, staff.email)
    return staff


def test_desk_books_for_a_group_with_its_reduction_and_officer_as_contact(client, outbox):
    c = make_center(fee=2000)
    officer = make_user(email="chokai.officer@example.jp")
    org = make_organization(kind=OrganizationKind.NPO, officer_id=officer.id, reduction_percent=50)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=6)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    assert "テスト町会" in client.get(page).get_data(as_text=True)  # the registered group is offered
    neither = post_form(client, url, _form(c, day), page=page)
    assert neither.status_code == 422 and "団体を選んでください" in neither.get_data(as_text=True)
    preview = post_form(client, url, _form(c, day, organization_id=str(org)), page=page)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "1,000円" in text and "(50%)" in text
    done = post_confirmed(client, url, _form(c, day, organization_id=str(org)), page=page)
    assert done.status_code == 303
    with app_context():
        [booking] = db.session.scalars(sa.select(Booking)).all()
        assert (booking.organization_id, booking.user_id, booking.created_by_id) == (org, officer.id, staff.id)
        assert (booking.fee_gross_yen, booking.fee_reduction_yen, booking.fee_net_yen) == (2000, 1000, 1000)
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.create"))
        assert audit.actor_id == staff.id and audit.details["organization_id"] == org and audit.details["on_behalf"]
    assert [m["To"] for m in outbox] == [officer.email]
    desk = client.get(f"/bookings/desk/{c.facility_id}?day={day.isoformat()}").get_data(as_text=True)
    assert "テスト町会" in desk


def test_desk_group_booking_refuses_unregistered_groups_and_keeps_the_group_limit(client):
    c = make_center(max_active_per_month=1)
    pending = make_organization(verified=False, officer_id=make_user().id)
    org = make_organization(officer_id=make_user().id)
    contact = make_user(email="contact.person@example.jp")
    _desk(client, c)
    day = today_tokyo() + timedelta(days=6)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    refused = post_confirmed(client, url, _form(c, day, organization_id=str(pending)), page=page)
    assert refused.status_code == 422 and "登録済みの団体を選んでください" in refused.get_data(as_text=True)
    # A named contact instead of the officer.
    done = post_confirmed(client, url, _form(c, day, organization_id=str(org), user_email=contact.email),
                     page=page)
    assert done.status_code == 303
    # The group's monthly limit (1) applies to the desk too.
    again = post_confirmed(client, url, _form(c, day, organization_id=str(org),
                                         units=[f"s{c.slot_ids['evening']}"]), page=page)
    assert again.status_code == 422 and "1か月に予約できるのは1件まで" in again.get_data(as_text=True)
    with app_context():
        [booking] = db.session.scalars(sa.select(Booking)).all()
        assert (booking.organization_id, booking.user_id) == (org, contact.id)


def _series_form(c, first, **over):
    data = _form(c, first, interval_weeks="1", count="3", until="", **over)
    return data


def test_desk_books_a_weekly_series_for_a_group_plan_first(client, outbox):
    from app.bookings.models import BookingSeries

    c = make_center(fee=2000)
    officer = make_user(email="series.officer@example.jp")
    org = make_organization(kind=OrganizationKind.NPO, officer_id=officer.id, reduction_percent=50)
    other = make_center()
    staff = _desk(client, c)
    first = today_tokyo() + timedelta(days=7)
    url = f"/bookings/desk/{c.facility_id}/series"
    page = f"{url}?room={c.meeting_id}&day={first.isoformat()}"
    form_page = client.get(page).get_data(as_text=True)
    assert "利用者のメールアドレス" in form_page and "テスト町会" in form_page
    assert client.get(f"{url}?room={other.meeting_id}").status_code == 404  # another facility's room
    assert client.get(f"/bookings/desk/{other.facility_id}/series?room={other.meeting_id}").status_code == 403
    neither = post_form(client, url, _series_form(c, first), page=page)
    assert neither.status_code == 422 and "団体を選んでください" in neither.get_data(as_text=True)
    plan = post_form(client, url, _series_form(c, first, organization_id=str(org)), page=page)
    text = plan.get_data(as_text=True)
    assert plan.status_code == 200 and "3日すべて予約する" in text and "3,000円" in text  # 3 x 2,000 halved
    fingerprint = text.split('name="confirm" type="hidden" value="')[1].split('"')[0]
    done = post_form(client, url, _series_form(c, first, organization_id=str(org), confirm=fingerprint, mode="all"),
                     page=page)
    assert done.status_code == 303 and "/bookings/series/" in done.headers["Location"]
    with app_context():
        series = db.session.scalar(sa.select(BookingSeries))
        assert (series.user_id, series.organization_id, series.created_by_id) == (officer.id, org, staff.id)
        bookings = db.session.scalars(sa.select(Booking).order_by(Booking.day)).all()
        assert [b.day for b in bookings] == [first + timedelta(weeks=n) for n in range(3)]
        assert {(b.user_id, b.organization_id, b.created_by_id, b.fee_net_yen) for b in bookings} == {
            (officer.id, org, staff.id, 1000)}
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.series.create"))
        assert audit.actor_id == staff.id and audit.details["on_behalf"]
    assert [m["To"] for m in outbox] == [officer.email]  # one e-mail for the series, to the group's officer
    assert client.get(done.headers["Location"]).status_code == 200  # staff of the facility see the series
    officer_client = client.application.test_client()
    login(officer_client, officer.email)
    assert officer_client.get(done.headers["Location"]).status_code == 200
    assert officer_client.get(url).status_code == 403  # residents never reach the desk
