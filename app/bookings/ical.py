"""ICS (RFC 5545) for bookings: a room's busy times (public, no names) and a user's own bookings (private feed)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import current_app
from icalendar import Calendar, Event, Timezone
from itsdangerous import BadSignature, URLSafeSerializer

from app.bookings.models import Booking, BookingState
from app.core import calendar_links
from app.core.time import TOKYO, utcnow
from app.facilities.availability import CELL_MINUTES

UID_DOMAIN = "tsudoi.minato.example.jp"
FEED_SALT = "tsudoi-bookings-feed"
_VTIMEZONE: Timezone | None = None


def _vtimezone() -> Timezone:
    # Building VTIMEZONE from zoneinfo walks every transition (~100 ms): once per process is enough.
    global _VTIMEZONE
    if _VTIMEZONE is None:
        _VTIMEZONE = Timezone.from_tzinfo(TOKYO)
    return _VTIMEZONE


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Tsudoi//Minato City room bookings//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", " ".join(name.split()))
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add_component(_vtimezone())
    return calendar


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=TOKYO) + timedelta(minutes=minute)


def busy_ranges(cells_by_day: dict[date, set[int]]) -> list[tuple[date, int, int]]:
    """Merge claimed cells into (day, start minute, end minute) ranges, in order."""
    ranges = []
    for day in sorted(cells_by_day):
        run_start = previous = None
        for cell in sorted(cells_by_day[day]):
            if run_start is None:
                run_start = previous = cell
            elif cell == previous + 1:
                previous = cell
            else:
                ranges.append((day, run_start * CELL_MINUTES, (previous + 1) * CELL_MINUTES))
                run_start = previous = cell
        if run_start is not None:
            ranges.append((day, run_start * CELL_MINUTES, (previous + 1) * CELL_MINUTES))
    return ranges


def room_busy_calendar(room_id: int, name: str, cells_by_day: dict[date, set[int]]) -> bytes:
    """The room's busy times as opaque events: never who booked, never why."""
    calendar = _calendar(name)
    stamp = utcnow()
    for day, start, end in busy_ranges(cells_by_day):
        event = Event()
        event.add("uid", f"room-{room_id}-{day.isoformat()}-{start}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", _at(day, start))
        event.add("dtend", _at(day, end))
        event.add("summary", "予約済み / Booked")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()


def bookings_calendar(bookings: list[Booking], *, name: str, base_url: str) -> bytes:
    """The user's own bookings (one event per booked range); cancelled ones are sent as CANCELLED."""
    calendar = _calendar(name)
    for booking in bookings:
        for item in booking.items:
            event = Event()
            event.add("uid", f"booking-{booking.id}-{item.start_minute}@{UID_DOMAIN}")
            event.add("dtstamp", booking.cancelled_at or booking.confirmed_at or booking.created_at)
            event.add("dtstart", _at(booking.day, item.start_minute))
            event.add("dtend", _at(booking.day, item.end_minute))
            event.add("summary", " ".join(f"{booking.room.facility.name_ja} {booking.room.name_ja}: "
                                          f"{booking.purpose}".split()))
            event.add("location", " ".join(f"{booking.room.facility.name_ja} {booking.room.facility.address_ja}"
                                           .split()))
            event.add("url", f"{base_url}/bookings/{booking.id}")
            inactive = booking.state in (BookingState.CANCELLED, BookingState.EXPIRED, BookingState.REJECTED)
            event.add("status", "CANCELLED" if inactive else
                      "CONFIRMED" if booking.state == BookingState.CONFIRMED else "TENTATIVE")
            event.add("sequence", 1 if inactive else 0)
            calendar.add_component(event)
    return calendar.to_ical()


def google_calendar_url(booking: Booking, *, base_url: str) -> str:
    """Google Calendar's "add an event" link for BOOKING: from its first booked minute to its last, the room and the
    purpose as the title, and a link to the booking's page (the person's own booking)."""
    room = booking.room
    return calendar_links.google_calendar_url(
        title=f"{room.facility.name_ja} {room.name_ja}: {booking.purpose}",
        start=_at(booking.day, min(item.start_minute for item in booking.items)),
        end=_at(booking.day, max(item.end_minute for item in booking.items)),
        location=f"{room.facility.name_ja} {room.facility.address_ja}", details=f"{base_url}/bookings/{booking.id}")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=FEED_SALT)


def feed_token(user) -> str:
    """A private feed token for USER; changing the password revokes it (its time is part of the signature)."""
    return _serializer().dumps([user.id, int(user.password_changed_at.timestamp())])


def user_id_for_feed(token: str, load_user) -> int | None:
    """The user id a feed token names, when it is genuine and not revoked; LOAD_USER(id) returns the user."""
    try:
        user_id, stamp = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    user = load_user(user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or int(user.password_changed_at.timestamp()) != stamp:
        return None
    return user.id
