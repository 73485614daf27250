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
from tests.factories import app_context, login, make_user, post_form


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
    done = post_form(client, url, _form(c, day, organization_id=str(org), confirm="1"), page=page)
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
    refused = post_form(client, url, _form(c, day, organization_id=str(pending), confirm="1"), page=page)
    assert refused.status_code == 422 and "登録済みの団体を選んでください" in refused.get_data(as_text=True)
    # A named contact instead of the officer.
    done = post_form(client, url, _form(c, day, organization_id=str(org), user_email=contact.email, confirm="1"),
                     page=page)
    assert done.status_code == 303
    # The group's monthly limit (1) applies to the desk too.
    again = post_form(client, url, _form(c, day, organization_id=str(org), confirm="1",
                                         units=[f"s{c.slot_ids['evening']}"]), page=page)
    assert again.status_code == 422 and "1か月に予約できるのは1件まで" in again.get_data(as_text=True)
    with app_context():
        [booking] = db.session.scalars(sa.select(Booking)).all()
        assert (booking.organization_id, booking.user_id) == (org, contact.id)
