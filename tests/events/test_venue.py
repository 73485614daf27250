"""A room booking as an event's venue: who may link which booking, the rules, the pages, and the release hook."""

from __future__ import annotations

import json
import re
from datetime import date, time, timedelta

import pytest

from app.accounts.models import User
from app.bookings import services as booking_services
from app.bookings.models import Booking, BookingItem, BookingState
from app.core.time import utcnow
from app.events import venue
from app.events.errors import InvalidEvent
from app.events.models import EventSeries, EventStatus
from app.extensions import db
from app.facilities.models import Room, UserCategory
from tests.events.factories import form_data, make_series
from tests.facilities.factories import make_center
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization

DAY = date.today() + timedelta(days=20)


def _book(center, *, user_id, organization_id=None, room_id=None, state=BookingState.CONFIRMED, day=DAY,
          ranges=((540, 720),)) -> int:
    """A committed booking (09:00-12:00 by default) of the meeting room (capacity 20); returns its id."""
    with app_context():
        booking = Booking(user_id=user_id, organization_id=organization_id, facility_id=center.facility_id,
                          room_id=room_id or center.meeting_id, day=day, state=state,
                          category=UserCategory.RESIDENT, purpose="防災訓練", attendees=10, created_by_id=user_id,
                          hold_until=utcnow() + timedelta(days=3) if state == BookingState.TENTATIVE else None)
        booking.items = [BookingItem(slot_code=f"s{s}", label_ja="枠", start_minute=s, end_minute=e)
                         for s, e in ranges]
        db.session.add(booking)
        db.session.commit()
        return booking.id


@pytest.fixture
def world(app):
    """An editor of a group, a booking center, and a one-off event 10:00-12:00 on DAY for 10 people."""
    editor = make_user()
    organization = make_organization(name="芝浦町会", editor_id=editor.id)
    center = make_center(name="赤坂区民センター")
    with app_context():
        room = db.session.get(Room, center.meeting_id)
        room.name_en = "Meeting Room 1"
        room.facility.name_en = "Akasaka Community Center"
        room.facility.address_en = "4-18-13 Akasaka, Minato"
        db.session.commit()
    series = make_series(organization_id=organization.id, actor_id=editor.id, first_date=DAY,
                         start_time=time(10, 0), end_time=time(12, 0), capacity=10, venue_name="未定",
                         venue_address=None)
    return {"editor": editor, "organization": organization, "center": center, "series_id": series.id}


def _link(series_id: int, booking_id: int | None, actor_id: int) -> None:
    with app_context():
        series = db.session.get(EventSeries, series_id)
        venue.set_venue_booking(series, booking_id, actor=db.session.get(User, actor_id))
        db.session.commit()


def _linked(series_id: int) -> int | None:
    with app_context():
        return db.session.get(EventSeries, series_id).room_booking_id


def _refused(world, booking_id: int, pattern: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        _link(world["series_id"], booking_id, world["editor"].id)
    assert re.search(pattern, str(caught.value.message))
    assert _linked(world["series_id"]) is None


def test_own_or_group_booking_links_and_shows_the_room_in_each_language(world):
    own = _book(world["center"], user_id=world["editor"].id, state=BookingState.TENTATIVE)
    _link(world["series_id"], own, world["editor"].id)
    assert _linked(world["series_id"]) == own
    other_editor = make_user()
    group = _book(world["center"], user_id=other_editor.id, organization_id=world["organization"].id)
    _link(world["series_id"], group, world["editor"].id)
    assert _linked(world["series_id"]) == group
    with app_context():
        series = db.session.get(EventSeries, world["series_id"])
        assert venue.venue_of(series, "ja") == ("赤坂区民センター 会議室1", "港区赤坂4-18-13")
        assert venue.venue_of(series, "en") == ("Akasaka Community Center Meeting Room 1", "4-18-13 Akasaka, Minato")
        assert venue.venue_of(series, "ja-easy") == ("赤坂区民センター 会議室1", "港区赤坂4-18-13")


def test_another_groups_or_another_users_booking_is_refused(world):
    stranger = make_user()
    other_group = make_organization(name="別の町会", officer_id=stranger.id)
    _refused(world, _book(world["center"], user_id=stranger.id, organization_id=other_group.id), "見つかりません")
    _refused(world, _book(world["center"], user_id=stranger.id), "見つかりません")
    _refused(world, 999_999, "見つかりません")


@pytest.mark.parametrize("state", [BookingState.CANCELLED, BookingState.EXPIRED, BookingState.REJECTED,
                                   BookingState.REQUESTED])
def test_inactive_or_unapproved_booking_is_refused(world, state):
    _refused(world, _book(world["center"], user_id=world["editor"].id, state=state), "確定または仮予約")


def test_times_not_covered_are_refused(world):
    editor_id = world["editor"].id
    _refused(world, _book(world["center"], user_id=editor_id, ranges=((780, 1020),)), "収まっていません")
    _refused(world, _book(world["center"], user_id=editor_id, ranges=((600, 690),)), "収まっていません")
    _refused(world, _book(world["center"], user_id=editor_id, day=DAY + timedelta(days=1)), "収まっていません")
    # Two adjacent slots together cover 10:00-12:00.
    joined = _book(world["center"], user_id=editor_id, ranges=((540, 660), (660, 720)))
    _link(world["series_id"], joined, editor_id)
    assert _linked(world["series_id"]) == joined


def test_a_weekly_series_cannot_sit_in_a_one_day_booking(world):
    series = make_series(organization_id=world["organization"].id, actor_id=world["editor"].id, frequency="weekly",
                         first_date=DAY, until_date=DAY + timedelta(days=14), start_time=time(10, 0),
                         end_time=time(12, 0), capacity=10)
    booking = _book(world["center"], user_id=world["editor"].id)
    with pytest.raises(InvalidEvent) as caught:
        _link(series.id, booking, world["editor"].id)
    assert "収まっていません" in str(caught.value.message)


def test_capacity_above_the_room_or_unlimited_is_refused(world):
    small = _book(world["center"], user_id=world["editor"].id, room_id=world["center"].studio_id)  # 8 people
    with pytest.raises(InvalidEvent) as caught:
        _link(world["series_id"], small, world["editor"].id)
    assert caught.value.field == "capacity" and "8人" in str(caught.value.message)
    unlimited = make_series(organization_id=world["organization"].id, actor_id=world["editor"].id, first_date=DAY,
                            start_time=time(10, 0), end_time=time(12, 0), capacity=None)
    with pytest.raises(InvalidEvent):
        _link(unlimited.id, _book(world["center"], user_id=world["editor"].id), world["editor"].id)
    assert _linked(unlimited.id) is None


def test_cancelling_or_expiry_of_the_booking_clears_the_venue(world):
    from app.core.mail import OutboxMessage

    booking = _book(world["center"], user_id=world["editor"].id)
    _link(world["series_id"], booking, world["editor"].id)
    with app_context():
        editor = db.session.get(User, world["editor"].id)
        booking_services.cancel_booking(db.session.get(Booking, booking), actor=editor)
        db.session.commit()
        told = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.recipient == editor.email)).all()
        assert any("赤坂区民センター 会議室1" in m.body_text and f"/events/{world['series_id']}/edit" in m.body_text
                   for m in told)  # the organizer is told to choose a new venue
    assert _linked(world["series_id"]) is None
    with app_context():
        assert venue.venue_of(db.session.get(EventSeries, world["series_id"]), "ja") == ("未定", None)

    tentative = _book(world["center"], user_id=world["editor"].id, state=BookingState.TENTATIVE)
    _link(world["series_id"], tentative, world["editor"].id)
    with app_context():
        db.session.get(Booking, tentative).hold_until = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert booking_services.expire_tentative() >= 1
        db.session.commit()
    assert _linked(world["series_id"]) is None


def test_the_form_offers_only_own_bookings_and_links_and_pages_show_the_room(client, world):
    stranger = make_user()
    foreign = _book(world["center"], user_id=stranger.id, organization_id=None)
    own = _book(world["center"], user_id=world["editor"].id)
    login(client, world["editor"].email)
    org_id = world["organization"].id

    # The booking page offers "use as the venue"; the form comes pre-filled with the booking, its day and times.
    page = client.get(f"/bookings/{own}").get_data(as_text=True)
    assert f"/events/new?org={org_id}&amp;booking={own}" in page
    page = client.get(f"/events/new?org={org_id}&booking={own}").get_data(as_text=True)
    select = re.search(r'<select[^>]*id="room_booking_id".*?</select>', page, re.S).group(0)
    assert re.search(rf'<option selected value="{own}">', select)
    assert f'value="{foreign}"' not in select  # never another person's booking
    assert DAY.isoformat() in page

    data = form_data(title_ja="会議室のイベント", first_date=DAY.isoformat(), start_time="10:00", end_time="12:00",
                     capacity="30", room_booking_id=str(own))
    response = post_form(client, f"/events/new?org={org_id}", data)
    assert response.status_code == 422  # 30 > room capacity 20
    body = response.get_data(as_text=True)
    assert "部屋の定員(20人)以下" in body and "会議室のイベント" in body  # clear message, nothing lost
    response = post_form(client, f"/events/new?org={org_id}", {**data, "room_booking_id": str(foreign),
                                                                "capacity": "10"})
    assert response.status_code == 422 and "その予約は見つかりません" in response.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(db.select(db.func.count(EventSeries.id))
                                 .where(EventSeries.title_ja == "会議室のイベント")) == 0  # nothing half-saved

    response = post_form(client, f"/events/new?org={org_id}", {**data, "capacity": "10"})
    assert response.status_code == 303
    with app_context():
        series = db.session.scalar(db.select(EventSeries).where(EventSeries.title_ja == "会議室のイベント"))
        assert series.room_booking_id == own
        series.status, series.published_at = EventStatus.PUBLISHED, utcnow()
        db.session.commit()
        series_id = series.id

    page = client.get(f"/events/{series_id}").get_data(as_text=True)
    assert "赤坂区民センター 会議室1" in page and "港区赤坂4-18-13" in page
    ld = json.loads(re.search(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert ld[0]["location"] == {"@type": "Place", "name": "赤坂区民センター 会議室1", "address": "港区赤坂4-18-13"}
    feed = client.get(f"/events/organizations/{org_id}/feed.ics").get_data(as_text=True).replace("\r\n ", "")
    assert "LOCATION:赤坂区民センター 会議室1\\, 港区赤坂4-18-13" in feed
    assert "会議室のイベント" in client.get(f"/bookings/{own}").get_data(as_text=True)

    # Editing keeps the link (the select comes back with it chosen) and "none" unlinks it.
    page = client.get(f"/events/{series_id}/edit").get_data(as_text=True)
    assert re.search(rf'<option selected value="{own}">', page)
    response = post_form(client, f"/events/{series_id}/edit", {**data, "capacity": "10", "room_booking_id": ""})
    assert response.status_code == 303
    assert _linked(series_id) is None


def test_a_stranger_cannot_see_the_booking_page_of_another(client, world):
    own = _book(world["center"], user_id=world["editor"].id)
    stranger = make_user()
    login(client, stranger.email)
    assert client.get(f"/bookings/{own}").status_code == 404
    page = client.get(f"/events/new?org={world['organization'].id}&booking={own}")
    assert page.status_code == 403


def test_changing_times_or_capacity_of_a_linked_event_must_stay_inside_the_booking(world):
    from app.events import series as series_services
    from app.events.models import EventOccurrence
    from tests.events.factories import series_input

    booking = _book(world["center"], user_id=world["editor"].id)
    _link(world["series_id"], booking, world["editor"].id)
    with app_context():
        series = db.session.get(EventSeries, world["series_id"])
        editor = db.session.get(User, world["editor"].id)
        with pytest.raises(InvalidEvent) as caught:  # the API's path: save_series re-checks
            series_services.save_series(organization=series.organization, actor=editor, series=series,
                                 data=series_input(first_date=DAY, start_time=time(14, 0), end_time=time(16, 0),
                                                   capacity=10))
        assert "収まっていません" in str(caught.value.message)
        db.session.rollback()
        occurrence = db.session.scalar(db.select(EventOccurrence).where(EventOccurrence.series_id == series.id))
        with pytest.raises(InvalidEvent) as caught:
            series_services.edit_occurrences(occurrence, actor=editor, following=False, day=DAY, start_time=time(10, 0),
                                      end_time=time(12, 0), capacity=50)
        assert caught.value.field == "capacity"
        db.session.rollback()
        series_services.edit_occurrences(occurrence, actor=editor, following=False, day=DAY, start_time=time(9, 30),
                                  end_time=time(11, 30), capacity=20)  # still inside 9:00-12:00, room of 20
        db.session.commit()
    assert _linked(world["series_id"]) == booking


def test_the_registration_mail_names_the_booked_room(client, world, outbox):
    from tests.events.factories import occurrence_ids

    booking = _book(world["center"], user_id=world["editor"].id)
    _link(world["series_id"], booking, world["editor"].id)
    resident = make_user(email="venue-mail@example.jp")
    login(client, resident.email)
    occurrence_id = occurrence_ids(world["series_id"])[0]
    response = post_form(client, f"/events/occurrences/{occurrence_id}/register", {},
                         page=f"/events/{world['series_id']}")
    assert response.status_code == 303
    mail = [m for m in outbox if m["To"] == "venue-mail@example.jp"][0]
    assert "赤坂区民センター 会議室1 港区赤坂4-18-13" in mail.get_body(("plain",)).get_content()


def _weekly(world) -> tuple[int, list[int]]:
    series = make_series(organization_id=world["organization"].id, actor_id=world["editor"].id, first_date=DAY,
                         frequency="weekly", until_date=DAY + timedelta(days=14), start_time=time(10, 0),
                         end_time=time(12, 0), capacity=10, venue_name="芝浦公園", venue_address="港区芝浦1-1",
                         texts={"title_ja": "毎週の体操"})
    from tests.events.factories import occurrence_ids

    return series.id, occurrence_ids(series.id)


def _edit_occurrence(client, occurrence_id: int, booking_id, day=DAY, **extra):
    data = {"scope": "one", "day": day.isoformat(), "start_time": "10:00", "end_time": "12:00", "capacity": "10",
            "room_booking_id": "" if booking_id is None else str(booking_id), **extra}
    return post_form(client, f"/events/occurrences/{occurrence_id}/edit", data,
                     page=f"/events/occurrences/{occurrence_id}/edit")


def test_each_occurrence_may_have_its_own_booked_room(client, world, outbox):
    from app.events.models import EventOccurrence

    series_id, (first, second, third) = _weekly(world)
    own = _book(world["center"], user_id=world["editor"].id)
    next_week = _book(world["center"], user_id=world["editor"].id, day=DAY + timedelta(days=7))
    foreign = _book(world["center"], user_id=make_user().id)
    login(client, world["editor"].email)

    # The occurrence form offers only own bookings of that very day.
    page = client.get(f"/events/occurrences/{first}/edit").get_data(as_text=True)
    select = re.search(r'<select[^>]*id="room_booking_id".*?</select>', page, re.S).group(0)
    assert f'value="{own}"' in select and f'value="{next_week}"' not in select and f'value="{foreign}"' not in select

    refused = _edit_occurrence(client, first, foreign)
    assert refused.status_code == 422 and "その予約は見つかりません" in refused.get_data(as_text=True)
    wrong_day = _edit_occurrence(client, first, next_week)
    assert wrong_day.status_code == 422 and "予約の日時" in wrong_day.get_data(as_text=True)
    too_many = _edit_occurrence(client, first, own, capacity="30")
    assert too_many.status_code == 422 and "部屋の定員(20人)以下" in too_many.get_data(as_text=True)
    with app_context():
        assert db.session.get(EventOccurrence, first).room_booking_id is None  # nothing half-saved

    assert _edit_occurrence(client, first, own).status_code == 303
    with app_context():
        occurrence = db.session.get(EventOccurrence, first)
        assert occurrence.room_booking_id == own and occurrence.sequence >= 1

    page = client.get(f"/events/{series_id}").get_data(as_text=True)
    assert "この回の会場: 赤坂区民センター 会議室1 港区赤坂4-18-13" in page
    ld = json.loads(re.search(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert ld[0]["location"] == {"@type": "Place", "name": "赤坂区民センター 会議室1", "address": "港区赤坂4-18-13"}
    assert ld[1]["location"] == {"@type": "Place", "name": "芝浦公園", "address": "港区芝浦1-1"}
    client.set_cookie("tsudoi_lang", "en")
    page = client.get(f"/events/{series_id}").get_data(as_text=True)
    assert "Akasaka Community Center Meeting Room 1" in page
    client.set_cookie("tsudoi_lang", "ja")
    from icalendar import Calendar

    feed = Calendar.from_ical(app_feed(world["organization"].id))
    locations = [str(e["LOCATION"]) for e in feed.walk("VEVENT") if str(e["SUMMARY"]) == "毎週の体操"]
    assert locations == ["赤坂区民センター 会議室1, 港区赤坂4-18-13", "芝浦公園, 港区芝浦1-1", "芝浦公園, 港区芝浦1-1"]

    # The registration e-mail names that date's room; another date's names the series' venue.
    resident = make_user(email="occurrence-venue@example.jp")
    other = _app_client()
    login(other, resident.email)
    for occurrence_id in (first, second):
        post_form(other, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series_id}")
    bodies = [m.get_body(("plain",)).get_content() for m in outbox if m["To"] == "occurrence-venue@example.jp"]
    assert len(bodies) == 2
    assert "赤坂区民センター 会議室1 港区赤坂4-18-13" in bodies[0] and "芝浦公園 港区芝浦1-1" in bodies[1]

    # Moving that date off the booked day without choosing another room is refused (the room is not booked then).
    moved = _edit_occurrence(client, first, own, day=DAY + timedelta(days=1))
    assert moved.status_code == 422
    # "None" goes back to the series' venue.
    assert _edit_occurrence(client, first, None).status_code == 303
    with app_context():
        assert db.session.get(EventOccurrence, first).room_booking_id is None
    assert second and third


def test_releasing_an_occurrences_booking_unlinks_it_and_tells_the_organizer(client, world):
    from app.core.mail import OutboxMessage
    from app.events.models import EventOccurrence

    _series_id, (first, _second, _third) = _weekly(world)
    own = _book(world["center"], user_id=world["editor"].id)
    login(client, world["editor"].email)
    assert _edit_occurrence(client, first, own).status_code == 303
    with app_context():
        before = db.session.get(EventOccurrence, first).sequence
        editor = db.session.get(User, world["editor"].id)
        booking_services.cancel_booking(db.session.get(Booking, own), actor=editor)
        db.session.commit()
        occurrence = db.session.get(EventOccurrence, first)
        assert occurrence.room_booking_id is None and occurrence.sequence == before + 1
        told = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.recipient == editor.email)).all()
        assert any("赤坂区民センター 会議室1" in m.body_text for m in told)


def _app_client():
    from tests.factories import APP

    return APP.test_client()


def app_feed(org_id: int) -> bytes:
    from tests.factories import APP

    return APP.test_client().get(f"/events/organizations/{org_id}/feed.ics").get_data()
