"""After booking (issue 16): the booking number on the page, in the e-mail and on the desk's day sheet; an e-mail
when the user cancels; my bookings upcoming first; a cancelled booking owes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.bookings import services
from app.bookings.models import Booking, BookingState
from app.core.mail import OutboxMessage
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, post_confirmed, post_form


def _book(client, c, day, slot="morning") -> int:
    page = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids[slot]}"],
            "purpose": "町会の打合せ", "attendees": "8", "category": "resident", "organization_id": ""}
    done = post_confirmed(client, "/bookings/new", data, page=page)
    assert done.status_code == 303, done.status_code
    return int(done.headers["Location"].rsplit("/", 1)[1])


def _body(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def _mails_to(outbox, email: str) -> list:
    return [m for m in outbox if m["To"] == email]


def test_the_booking_number_is_on_the_page_in_the_mail_and_on_the_desk_sheet(client, app, outbox):
    c = make_center(fee=1500)
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=6)
    booking_id = _book(client, c, day)
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert f'<p class="booking-number"><strong>予約番号 {booking_id}</strong></p>' in page
    [mail] = _mails_to(outbox, user.email)
    assert f"予約番号 {booking_id}" in _body(mail)

    desk = app.test_client()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    login(desk, staff.email)
    sheet = desk.get(f"/bookings/desk/{c.facility_id}?day={day.isoformat()}").get_data(as_text=True)
    assert f'<small class="booking-number">予約番号 {booking_id}</small>' in sheet


def test_the_booking_number_in_english_mail(client, outbox):
    c = make_center()
    user = make_user(language="en")
    login(client, user.email)
    booking_id = _book(client, c, today_tokyo() + timedelta(days=6))
    [mail] = _mails_to(outbox, user.email)
    assert f"Booking no. {booking_id}" in _body(mail)


def test_a_cancellation_by_the_user_sends_a_mail(client, outbox):
    c = make_center(fee=1500)
    user = make_user()
    login(client, user.email)
    booking_id = _book(client, c, today_tokyo() + timedelta(days=6))
    outbox.clear()
    cancel_url = f"/bookings/{booking_id}/cancel"
    assert post_form(client, cancel_url, {}, page=cancel_url).status_code == 303
    [mail] = _mails_to(outbox, user.email)
    assert mail["Subject"] == "施設の予約を取り消しました"
    body = _body(mail)
    assert f"予約番号 {booking_id}" in body and "会議室1" in body and "お支払いはありません(取消済み)" in body
    assert "<ruby>" not in body and "1,500円" not in body


def test_a_cancelled_booking_shows_no_amount_due(client, app):
    c = make_center(fee=1500)
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=6)
    booking_id = _book(client, c, day)
    assert "<dt>お支払い</dt><dd>1,500円</dd>" in client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    cancel_url = f"/bookings/{booking_id}/cancel"
    post_form(client, cancel_url, {}, page=cancel_url)
    show = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "<dt>お支払い</dt><dd>お支払いはありません(取消済み)</dd>" in show
    mine = client.get("/bookings/mine").get_data(as_text=True)
    assert "1,500円" not in mine and "お支払いはありません(取消済み)" in mine

    desk = app.test_client()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    login(desk, staff.email)
    sheet = desk.get(f"/bookings/desk/{c.facility_id}?day={day.isoformat()}").get_data(as_text=True)
    assert "1,500円" not in sheet and "お支払いはありません(取消済み)" in sheet


def test_my_bookings_lists_upcoming_first_then_the_past_most_recent_first(client):
    c = make_center(max_active_per_month=50)
    user = make_user()
    login(client, user.email)
    today = today_tokyo()
    ids = [_book(client, c, today + timedelta(days=n)) for n in (3, 5, 7, 9)]
    # Move them: two ahead (the later one booked first), two past (the older one booked first).
    days = dict(zip(ids, (today + timedelta(days=9), today + timedelta(days=3), today - timedelta(days=10),
                          today - timedelta(days=2)), strict=True))
    with app_context():
        for booking_id, day in days.items():
            db.session.execute(sa.update(Booking).where(Booking.id == booking_id).values(day=day))
        db.session.commit()
    html = client.get("/bookings/mine").get_data(as_text=True)
    listed = [int(n) for n in re.findall(r'href="/bookings/(\d+)"', html)]
    soon, later, old, recent = ids[1], ids[0], ids[2], ids[3]
    assert listed == [soon, later, recent, old], (listed, days)
    assert html.index("これからの予約") < html.index(f'href="/bookings/{soon}"')
    past_heading = html.index("終わった予約")
    assert html.index(f'href="/bookings/{later}"') < past_heading < html.index(f'href="/bookings/{recent}"')


def test_cancel_booking_without_notify_sends_no_mail(client, outbox):
    """A weekly series is cancelled date by date with notify=False: no e-mail per date."""
    c = make_center()
    user = make_user()
    login(client, user.email)
    booking_id = _book(client, c, today_tokyo() + timedelta(days=6))
    with app_context():
        booking = db.session.get(Booking, booking_id)
        services.cancel_booking(booking, actor=db.session.get(User, booking.user_id), notify=False)
        assert booking.state == BookingState.CANCELLED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.subject == "施設の予約を取り消しました")) == 0
        db.session.rollback()
