"""ICS: a room's busy times (no names), the private feed of my bookings, and the confirmation e-mail's .ics."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

from icalendar import Calendar

from app.bookings.ical import busy_ranges
from app.core.time import today_tokyo
from tests.facilities.factories import make_center
from tests.factories import login, make_user, post_confirmed


def _book(client, c, room_id, day, slot="morning", purpose="秘密の相談会"):
    page_url = f"/bookings/new?room={room_id}&day={day.isoformat()}"
    data = {"room_id": str(room_id), "day": day.isoformat(), "units": [f"s{c.slot_ids[slot]}"],
            "purpose": purpose, "attendees": "5", "category": "resident", "organization_id": ""}
    response = post_confirmed(client, "/bookings/new", data, page=page_url)
    assert response.status_code == 303
    return response


def test_busy_ranges_merge_adjacent_cells():
    day = today_tokyo()
    assert busy_ranges({day: {18, 19, 20, 26, 27}}) == [(day, 540, 630), (day, 780, 840)]


def test_room_busy_ics_has_times_but_no_names_and_covers_parent(client):
    c = make_center()
    user = make_user(display_name="予約者の名前")
    login(client, user.email)
    day = today_tokyo() + timedelta(days=6)
    _book(client, c, c.hall_a_id, day)
    anonymous = client.application.test_client()
    response = anonymous.get(f"/facilities/rooms/{c.hall_id}/busy.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert "予約者の名前" not in body and "秘密の相談会" not in body
    [event] = Calendar.from_ical(response.get_data()).walk("VEVENT")
    assert event.decoded("dtstart").hour == 9 and event.decoded("dtend").hour == 12
    assert "VEVENT" not in anonymous.get(f"/facilities/rooms/{c.hall_b_id}/busy.ics").get_data(as_text=True)
    assert anonymous.get("/facilities/rooms/999999/busy.ics").status_code == 404


def test_private_feed_and_confirmation_mail(client, outbox):
    c = make_center()
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=8)
    _book(client, c, c.meeting_id, day, purpose="読書会")
    mail = outbox[-1]
    assert mail["To"] == user.email and "予約を受け付けました" in mail["Subject"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "booking.ics" and "読書会" in attachment.get_content()
    page = client.get("/bookings/mine").get_data(as_text=True)
    feed_path = re.search(r"http://localhost(/bookings/feed/[^<\s]+\.ics)", page).group(1)
    anonymous = client.application.test_client()
    feed = anonymous.get(feed_path)
    assert feed.status_code == 200 and "読書会" in feed.get_data(as_text=True)
    assert anonymous.get(feed_path.replace("/feed/", "/feed/x")).status_code == 404
    assert anonymous.get("/bookings/feed/bogus.ics").status_code == 404


def test_a_booking_page_adds_the_booking_to_a_calendar(client):
    """Its .ics file (only for those who may see the booking) and Google Calendar's add-an-event link, with the
    booked times in UTC; a cancelled booking offers neither."""
    from urllib.parse import parse_qs, urlsplit

    c = make_center()
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=6)
    booking_path = _book(client, c, c.meeting_id, day, purpose="町会の定例会").headers["Location"]
    booking_id = int(re.search(r"/bookings/(\d+)", booking_path).group(1))
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert f'href="/bookings/{booking_id}/booking.ics"' in page
    google = re.search(r'href="(https://calendar\.google\.com/[^"]+)"', page).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(google).query)
    assert "町会の定例会" in query["text"][0]
    ics = client.get(f"/bookings/{booking_id}/booking.ics")
    assert ics.status_code == 200 and ics.headers["Content-Disposition"].startswith("attachment")
    event = Calendar.from_ical(ics.data).walk("VEVENT")[0]
    start = event.decoded("DTSTART")
    assert query["dates"][0].startswith(start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))

    stranger = client.application.test_client()
    login(stranger, make_user().email)
    assert stranger.get(f"/bookings/{booking_id}/booking.ics").status_code == 404

    from tests.factories import post_form
    post_form(client, f"/bookings/{booking_id}/cancel", {})
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "calendar.google.com" not in page and "booking.ics" not in page
