"""A group's bookings and series belong to the group: every officer sees and may cancel them (audited, and a late
cancellation still counts); editors, members and officers of other groups do not (404, nothing listed)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.bookings import series, services
from app.bookings.models import Booking, BookingState
from app.core.audit import AuditEvent
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import UserCategory
from app.organizations.models import Membership, MembershipRole
from tests.api.factories import bearer, make_token
from tests.facilities.factories import make_center, make_organization
from tests.factories import app_context, login, make_user, post_form


def _user(user_id):
    from app.accounts.models import User

    return db.session.get(User, user_id)


def _group():
    """A group with two officers, an editor and a member, plus an officer of another group."""
    first, second, editor, member, other = (make_user() for _ in range(5))
    org = make_organization(officer_id=first.id)
    make_organization(officer_id=other.id)
    with app_context():
        db.session.add_all([Membership(organization_id=org, user_id=second.id, role=MembershipRole.OFFICER),
                            Membership(organization_id=org, user_id=editor.id, role=MembershipRole.EDITOR),
                            Membership(organization_id=org, user_id=member.id, role=MembershipRole.MEMBER)])
        db.session.commit()
    return org, first, second, editor, member, other


def _book(c, user_id, org, day):
    with app_context():
        booking = services.book_slots(user=_user(user_id), room_id=c.meeting_id, day=day,
                                      unit_keys=[f"s{c.slot_ids['morning']}"], purpose="町会の定例会", attendees=10,
                                      category=UserCategory.RESIDENT, organization_id=org)
        db.session.commit()
        return booking.id


def _client(client, user):
    other = client.application.test_client()
    login(other, user.email)
    return other


def test_other_officers_see_and_cancel_the_group_booking_editors_and_members_do_not(client):
    c = make_center(cancel_deadline_days=7, late_cancel_ban_days=30)
    org, first, second, editor, member, other = _group()
    booking_id = _book(c, first.id, org, today_tokyo() + timedelta(days=3))
    with app_context():  # past the 15-minute undo: cancelling now is late
        db.session.get(Booking, booking_id).created_at -= timedelta(hours=1)
        db.session.commit()
    url = f"/bookings/{booking_id}"
    for outsider in (editor, member, other):
        browser = _client(client, outsider)
        assert browser.get(url).status_code == 404
        assert browser.get(f"{url}/cancel").status_code == 404
        assert post_form(browser, f"{url}/cancel", {}, page="/bookings/mine").status_code == 404
        assert url not in browser.get("/bookings/mine").get_data(as_text=True)
    officer = _client(client, second)
    mine = officer.get("/bookings/mine").get_data(as_text=True)
    assert url in mine and "団体の予約" in mine
    assert officer.get(url).status_code == 200
    preview = officer.get(f"{url}/cancel").get_data(as_text=True)
    assert "予約した役員は30日間" in preview
    assert post_form(officer, f"{url}/cancel", {}, page=f"{url}/cancel").status_code == 303
    with app_context():
        booking = db.session.get(Booking, booking_id)
        assert booking.state == BookingState.CANCELLED and booking.late_cancellation  # the group's late cancel
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.cancel"))
        assert audit.actor_id == second.id
        assert audit.details["for_user_id"] == first.id and audit.details["organization_id"] == org
        assert services.ban_until(first.id) is not None and services.ban_until(second.id) is None


def test_api_lists_and_cancels_the_group_booking_for_any_officer(client):
    c = make_center()
    org, first, second, editor, _member, _other = _group()
    booking_id = _book(c, first.id, org, today_tokyo() + timedelta(days=10))
    tokens = {u.id: make_token(u)[1] for u in (second, editor)}

    def call(user, method, path):
        return getattr(client, method)(path, headers=bearer(tokens[user.id]))

    assert booking_id in [b["id"] for b in call(second, "get", "/api/v1/bookings").get_json()]
    assert booking_id not in [b["id"] for b in call(editor, "get", "/api/v1/bookings").get_json()]
    assert call(editor, "post", f"/api/v1/bookings/{booking_id}/cancel").status_code == 404
    done = call(second, "post", f"/api/v1/bookings/{booking_id}/cancel")
    assert done.status_code == 200 and done.get_json()["state"] == "cancelled"
    again = call(second, "post", f"/api/v1/bookings/{booking_id}/cancel")
    assert again.status_code == 422  # already cancelled: a clear error, not a 500


def test_other_officers_see_and_cancel_the_group_series(client):
    c = make_center()
    org, first, second, editor, _member, other = _group()
    day = today_tokyo() + timedelta(days=14)
    with app_context():
        made, _booked = series.book_series(user=_user(first.id), room_id=c.meeting_id, first_day=day,
                                           interval_weeks=1, count=3, unit_keys=[f"s{c.slot_ids['morning']}"],
                                           attendees=10, category=UserCategory.RESIDENT, organization_id=org,
                                           purpose="体操教室")
        db.session.commit()
        series_id = made.id
    url = f"/bookings/series/{series_id}"
    for outsider in (editor, other):
        assert _client(client, outsider).get(url).status_code == 404
    officer = _client(client, second)
    assert officer.get(url).status_code == 200
    assert post_form(officer, f"{url}/cancel", {}, page=f"{url}/cancel").status_code == 303
    with app_context():
        assert {b.state for b in series.series_bookings(series_id)} == {BookingState.CANCELLED}
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.series.cancel"))
        assert audit.actor_id == second.id and audit.details["organization_id"] == org
