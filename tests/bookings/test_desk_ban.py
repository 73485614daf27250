"""The desk and barred residents: a late cancellation or a no-show bars new bookings; the desk (which may book for
anyone) says so, until when and why, and books only when staff tick the override and give a reason (audited)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.bookings import services
from app.bookings.models import Booking, BookingState
from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.core.time import today_tokyo, utcnow
from app.extensions import db
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, post_confirmed, post_form

RESIDENT_EMAIL = "barred.caller@example.jp"


def _bar(c, user_id: int, *, late: bool = True, no_show: bool = False, days_ahead: int = 2) -> date:
    """A past booking of USER_ID that bars them now: cancelled late and/or not attended; returns its day."""
    from app.accounts.models import User

    clerk = make_user(role=Role.FACILITY_STAFF)  # booked for them, so that a second bar is possible
    with app_context():
        user = db.session.get(User, user_id)
        booking = services.book_slots(user=user, room_id=c.meeting_id, day=today_tokyo() + timedelta(days=days_ahead),
                                      unit_keys=[f"s{c.slot_ids['morning']}"], purpose="前の予約", attendees=3,
                                      category="resident", actor=db.session.get(User, clerk.id))
        if late:
            booking.state, booking.cancelled_at, booking.late_cancellation = BookingState.CANCELLED, utcnow(), True
        if no_show:
            booking.no_show_at = utcnow()
        db.session.commit()
        return booking.day


def _desk(client, c):
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    login(client, staff.email)
    return staff


def _form(c, day, **over):
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids['afternoon']}"],
            "purpose": "電話で受けた囲碁の会", "attendees": "7", "category": "resident", "organization_id": "",
            "user_email": RESIDENT_EMAIL}
    data.update(over)
    return data


def _desk_bookings(staff_id: int) -> list[Booking]:
    with app_context():
        return list(db.session.scalars(sa.select(Booking).where(Booking.created_by_id == staff_id)))


def _create_audit(booking_id: int) -> dict:
    with app_context():
        return db.session.scalar(sa.select(AuditEvent.details).where(
            AuditEvent.action == "booking.create", AuditEvent.target_id == str(booking_id)))


def test_ban_reasons_name_each_running_ban_and_agree_with_ban_until(app_ctx):
    c = make_center(late_cancel_ban_days=30, no_show_ban_days=60)
    user = make_user()
    assert services.ban_reasons(user.id) == {}
    _bar(c, user.id, late=True)
    no_show_day = _bar(c, user.id, late=False, no_show=True, days_ahead=3)
    reasons = services.ban_reasons(user.id)
    assert set(reasons) == {services.BAN_LATE_CANCELLATION, services.BAN_NO_SHOW}
    assert max(reasons.values()) == services.ban_until(user.id) == reasons[services.BAN_NO_SHOW]
    later = utcnow() + timedelta(days=31)  # the late cancellation's 30 days are over, the no-show's 60 are not
    assert set(services.ban_reasons(user.id, now=later)) == {services.BAN_NO_SHOW}
    staff = make_user()
    services.add_exempt_day(facility_id=c.facility_id, day=no_show_day, reason="熱中症警戒アラート", actor=staff)
    db.session.commit()
    assert set(services.ban_reasons(user.id)) == {services.BAN_LATE_CANCELLATION}
    assert services.ban_reasons(user.id, now=later) == {} and services.ban_until(user.id, now=later) is None


def test_desk_warns_about_a_barred_resident_and_books_nothing_without_an_override(client):
    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    _bar(c, resident.id, late=True)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    assert "新しい予約ができません" not in client.get(page).get_data(as_text=True)  # nobody named yet
    preview = post_form(client, url, _form(c, day), page=page)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "予約の内容を確かめてください" in text
    assert "この方は" in text and "まで新しい予約ができません(直前の取消しのため)" in text
    assert 'name="ban_override"' in text and 'name="ban_reason"' in text
    refused = post_confirmed(client, url, _form(c, day), page=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "直前の取消しのため" in text
    assert "この欄にチェックを入れ" in text and "例外とする理由を入力してください" in text
    # Nothing typed is lost: the purpose, the e-mail and the quote are still on the page.
    assert "電話で受けた囲碁の会" in text and RESIDENT_EMAIL in text and "予約の内容を確かめてください" in text
    assert _desk_bookings(staff.id) == []


def test_override_needs_both_the_box_and_a_reason_then_books_and_audits(client, outbox):
    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    _bar(c, resident.id, late=True, no_show=True)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    no_reason = post_confirmed(client, url, _form(c, day, ban_override="y", ban_reason="  "), page=page)
    text = no_reason.get_data(as_text=True)
    assert no_reason.status_code == 422 and "例外とする理由を入力してください" in text
    assert "直前の取消しと無断キャンセルのため" in text
    no_box = post_confirmed(client, url, _form(c, day, ban_reason="区長の承認あり"), page=page)
    assert no_box.status_code == 422 and "この欄にチェックを入れ" in no_box.get_data(as_text=True)
    assert "区長の承認あり" in no_box.get_data(as_text=True)  # the reason typed is kept
    assert _desk_bookings(staff.id) == []
    done = post_confirmed(client, url, _form(c, day, ban_override="y", ban_reason="取消しは台風のためと確認"),
                     page=page)
    assert done.status_code == 303
    [booking] = _desk_bookings(staff.id)
    assert (booking.user_id, booking.day, booking.state.is_active) == (resident.id, day, True)
    details = _create_audit(booking.id)
    assert details["ban_override"] is True and details["ban_reason"] == "取消しは台風のためと確認"
    assert details["on_behalf"] is True
    assert [m["To"] for m in outbox][-1] == resident.email


def test_a_resident_who_is_not_barred_is_booked_without_any_override(client):
    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    preview = post_form(client, url, _form(c, day), page=page)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "新しい予約ができません" not in text and 'name="ban_override"' not in text
    # A stray override (an old page) on someone not barred is ignored, not audited as an override.
    done = post_confirmed(client, url, _form(c, day, ban_override="y", ban_reason="x"), page=page)
    assert done.status_code == 303
    [booking] = _desk_bookings(staff.id)
    assert booking.user_id == resident.id
    assert "ban_override" not in _create_audit(booking.id)


def test_a_late_cancellation_on_an_exempt_day_does_not_bar(client):
    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    barred_day = _bar(c, resident.id, late=True)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    assert "直前の取消しのため" in post_form(client, url, _form(c, day), page=page).get_data(as_text=True)
    exempt = post_form(client, f"/bookings/desk/{c.facility_id}/exempt",
                       {"day": barred_day.isoformat(), "reason": "大雨警報"}, page=page)
    assert exempt.status_code == 303
    preview = post_form(client, url, _form(c, day), page=page)
    assert preview.status_code == 200 and "新しい予約ができません" not in preview.get_data(as_text=True)
    assert post_confirmed(client, url, _form(c, day), page=page).status_code == 303
    [booking] = _desk_bookings(staff.id)
    assert "ban_override" not in _create_audit(booking.id)


def test_a_barred_group_contact_is_warned_about_too(client):
    from tests.facilities.factories import make_organization

    c = make_center()
    officer = make_user(email=RESIDENT_EMAIL)
    org = make_organization(officer_id=officer.id)
    _bar(c, officer.id, late=False, no_show=True)
    staff = _desk(client, c)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    refused = post_confirmed(client, url, _form(c, day, user_email="", organization_id=str(org)), page=page)
    assert refused.status_code == 422 and "無断キャンセルのため" in refused.get_data(as_text=True)
    assert _desk_bookings(staff.id) == []


def test_only_staff_of_the_facility_reach_the_desk_form_even_with_an_override(client):
    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    _bar(c, resident.id, late=True)
    day = today_tokyo() + timedelta(days=5)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    anonymous = client.application.test_client()
    assert anonymous.get(page).status_code == 302
    login(client, resident.email)  # the barred resident cannot override their own ban through the desk
    assert client.get(page).status_code == 403
    forced = post_confirmed(client, url, _form(c, day, ban_override="y", ban_reason="自分で"),
                       page=f"/bookings/new?room={c.meeting_id}")
    assert forced.status_code == 403
    other = make_user(role=Role.FACILITY_STAFF)
    assign_staff(other.id, make_center().facility_id)
    other_client = client.application.test_client()
    login(other_client, other.email)
    assert other_client.get(page).status_code == 403
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
            Booking.state != BookingState.CANCELLED)) == 0


def test_desk_series_for_a_barred_resident_warns_and_needs_the_override_too(client):
    from app.bookings.models import BookingSeries

    c = make_center()
    resident = make_user(email=RESIDENT_EMAIL)
    _bar(c, resident.id, late=False, no_show=True)
    staff = _desk(client, c)
    first = today_tokyo() + timedelta(days=7)
    url = f"/bookings/desk/{c.facility_id}/series"
    page = f"{url}?room={c.meeting_id}&day={first.isoformat()}"
    series_form = _form(c, first, interval_weeks="1", count="3", until="")
    plan = post_form(client, url, series_form, page=page)
    text = plan.get_data(as_text=True)
    assert plan.status_code == 200 and "無断キャンセルのため" in text and 'name="ban_reason"' in text
    fingerprint = text.split('name="confirm" type="hidden" value="')[1].split('"')[0]
    refused = post_form(client, url, {**series_form, "confirm": fingerprint, "mode": "all"}, page=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "例外とする理由を入力してください" in text and "3日すべて予約する" in text
    assert _desk_bookings(staff.id) == []
    done = post_form(client, url, {**series_form, "confirm": fingerprint, "mode": "all", "ban_override": "y",
                                   "ban_reason": "地域行事のため課長判断"}, page=page)
    assert done.status_code == 303
    booked = _desk_bookings(staff.id)
    assert len(booked) == 3 and {b.user_id for b in booked} == {resident.id}
    assert all(_create_audit(b.id)["ban_reason"] == "地域行事のため課長判断" for b in booked)
    with app_context():
        series_id = db.session.scalar(sa.select(BookingSeries.id))
        details = db.session.scalar(sa.select(AuditEvent.details).where(
            AuditEvent.action == "booking.series.create", AuditEvent.target_id == str(series_id)))
    assert details["ban_override"] is True and details["ban_reason"] == "地域行事のため課長判断"
