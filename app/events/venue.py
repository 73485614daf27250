"""A room booking as an event's venue: which bookings may be linked, the link itself, and what it shows.

Choice for series: one booking is one room on one day, so a series links ONE booking and EVERY scheduled
occurrence must fall inside that booking's booked time (its slots, adjacent slots joined) on the booking's day.
In practice that means a one-off event (or a series whose other dates were cancelled); a recurring series
keeps a free address, and each of its dates may link its OWN booking (event_occurrences.room_booking_id), which
then wins over the series' venue on the event page, in JSON-LD and in ICS LOCATION. Never commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.bookings import services as booking_services
from app.bookings.models import Booking, BookingState
from app.core.audit import record_audit
from app.core.mail import queue_mail
from app.core.time import to_tokyo, today_tokyo
from app.events.errors import InvalidEvent
from app.events.models import EventOccurrence, EventSeries, OccurrenceStatus
from app.extensions import db
from app.facilities.models import Room

# Requested (awaiting approval), cancelled, expired and rejected bookings cannot be a venue.
VENUE_STATES = frozenset({BookingState.CONFIRMED, BookingState.TENTATIVE})
FIELD = "room_booking_id"


def _owned_clause(user, organization_id: int):
    return sa.or_(Booking.organization_id == organization_id, Booking.user_id == user.id)


def eligible_bookings(user, organization_id: int) -> list[Booking]:
    """Bookings USER may use as a venue for ORGANIZATION's events: the group's or their own, active, from today."""
    return list(db.session.scalars(
        sa.select(Booking).options(joinedload(Booking.room).joinedload(Room.facility))
        .where(_owned_clause(user, organization_id), Booking.state.in_(VENUE_STATES), Booking.day >= today_tokyo())
        .order_by(Booking.day, Booking.id)
    ).unique())


def booking_label(booking: Booking) -> str:
    """How a booking reads in a select: day, facility, room and times."""
    times = ", ".join(f"{s // 60}:{s % 60:02d}-{e // 60}:{e % 60:02d}" for s, e in booked_ranges(booking))
    return f"{booking.day.isoformat()} {booking.room.facility.name} {booking.room.name} {times}"


def booked_ranges(booking: Booking) -> list[tuple[int, int]]:
    """The booking's ranges in Tokyo minutes, adjacent ones joined (午前 9-12 + 12-13 reads as 9-13)."""
    ranges: list[list[int]] = []
    for item in sorted(booking.items, key=lambda i: i.start_minute):
        if ranges and item.start_minute <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], item.end_minute)
        else:
            ranges.append([item.start_minute, item.end_minute])
    return [(s, e) for s, e in ranges]


def check_booking(series: EventSeries, booking: Booking | None, actor, *, check_owner: bool = True) -> None:
    """Raise InvalidEvent unless BOOKING may be SERIES' venue (owner, state, times, capacity)."""
    if booking is None:
        raise InvalidEvent(_l("その予約は見つかりません。"), FIELD)
    if check_owner and booking.organization_id != series.organization_id and booking.user_id != actor.id:
        # Same message as "not found": do not tell who else holds which booking.
        raise InvalidEvent(_l("その予約は見つかりません。"), FIELD)
    if booking.state not in VENUE_STATES:
        raise InvalidEvent(_l("確定または仮予約の予約だけを会場にできます(この予約は「%(state)s」です)。",
                              state=booking.state.label), FIELD)
    # Dates with their own booking are checked against that one (check_occurrence_booking).
    occurrences = [o for o in series.occurrences
                   if o.status == OccurrenceStatus.SCHEDULED and o.room_booking_id is None]
    if not occurrences:
        raise InvalidEvent(_l("開催予定の回がないため、予約を会場にできません。"), FIELD)
    _check_times_and_capacity(occurrences, booking)


def _check_times_and_capacity(occurrences, booking: Booking) -> None:
    ranges = booked_ranges(booking)
    for occurrence in occurrences:
        start, end = to_tokyo(occurrence.starts_at), to_tokyo(occurrence.ends_at)
        start_minute, end_minute = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        covered = start.date() == booking.day and end.date() == booking.day and any(
            s <= start_minute and end_minute <= e for s, e in ranges)
        if not covered:
            raise InvalidEvent(_l("%(when)s の回が予約の日時(%(day)s)に収まっていません。"
                                  "予約した時間の中で開催してください。",
                                  when=start.strftime("%Y-%m-%d %H:%M"), day=booking_label(booking)), FIELD)
    capacity = booking.room.capacity
    for occurrence in occurrences:
        if occurrence.capacity is None or occurrence.capacity > capacity:
            raise InvalidEvent(_l("定員を部屋の定員(%(capacity)d人)以下にしてください。", capacity=capacity),
                               "capacity")


def check_occurrence_booking(occurrence: EventOccurrence, booking: Booking | None, actor, *,
                             check_owner: bool = True) -> None:
    """Raise InvalidEvent unless BOOKING may be OCCURRENCE's own venue (owner, state, day and times, capacity)."""
    series = occurrence.series
    if booking is None or (check_owner and booking.organization_id != series.organization_id
                           and booking.user_id != actor.id):
        raise InvalidEvent(_l("その予約は見つかりません。"), FIELD)
    if booking.state not in VENUE_STATES:
        raise InvalidEvent(_l("確定または仮予約の予約だけを会場にできます(この予約は「%(state)s」です)。",
                              state=booking.state.label), FIELD)
    if occurrence.status != OccurrenceStatus.SCHEDULED:
        raise InvalidEvent(_l("中止した回には会場を設定できません。"), FIELD)
    _check_times_and_capacity([occurrence], booking)


def set_occurrence_booking(occurrence: EventOccurrence, booking_id: int | None, *, actor) -> bool:
    """Link BOOKING_ID as OCCURRENCE's own venue (None: back to the series' venue); True when it changed.

    A changed venue raises the occurrence's SEQUENCE so calendar apps take the new LOCATION."""
    if booking_id == occurrence.room_booking_id:
        if booking_id is not None:  # kept: still valid for the (maybe changed) times? Owner aside.
            check_occurrence_booking(occurrence, db.session.get(Booking, booking_id), actor, check_owner=False)
        return False
    if booking_id is not None:
        check_occurrence_booking(occurrence, db.session.get(Booking, booking_id), actor)
    record_audit("event.occurrence_venue_linked" if booking_id else "event.occurrence_venue_unlinked",
                 actor_id=actor.id, target_type="event_occurrence", target_id=occurrence.id,
                 details={"booking_id": booking_id or occurrence.room_booking_id})
    occurrence.room_booking_id = booking_id
    occurrence.room_booking = db.session.get(Booking, booking_id) if booking_id else None
    occurrence.sequence += 1
    db.session.flush()
    return True


def set_venue_booking(series: EventSeries, booking_id: int | None, *, actor) -> None:
    """Link BOOKING_ID as SERIES' venue (None unlinks). A link kept as it was is checked again, owner aside."""
    if booking_id is None:
        if series.room_booking_id is not None:
            record_audit("event.venue_unlinked", actor_id=actor.id, target_type="event_series", target_id=series.id,
                         details={"booking_id": series.room_booking_id})
        series.room_booking_id = None
        series.room_booking = None
        return
    booking = db.session.get(Booking, booking_id)
    # Another editor may have linked their own booking: keeping it needs no ownership of it.
    check_booking(series, booking, actor, check_owner=booking_id != series.room_booking_id)
    changed = series.room_booking_id != booking_id
    series.room_booking = booking
    series.room_booking_id = booking_id
    db.session.flush()
    if changed:
        record_audit("event.venue_linked", actor_id=actor.id, target_type="event_series", target_id=series.id,
                     details={"booking_id": booking_id})


def recheck(series: EventSeries) -> None:
    """After SERIES' times or capacity changed: its linked bookings (series' and dates' own) must still hold them."""
    if series.room_booking_id is not None:
        check_booking(series, db.session.get(Booking, series.room_booking_id), None, check_owner=False)
    for occurrence in series.occurrences:
        if occurrence.room_booking_id is not None and occurrence.status == OccurrenceStatus.SCHEDULED:
            check_occurrence_booking(occurrence, db.session.get(Booking, occurrence.room_booking_id), None,
                                     check_owner=False)


def events_using(booking_id: int) -> list[EventSeries]:
    """The events whose venue is this booking."""
    return list(db.session.scalars(
        sa.select(EventSeries).where(EventSeries.room_booking_id == booking_id).order_by(EventSeries.id)))


def booking_released(booking: Booking) -> None:
    """Hook run by the booking service when a booking is cancelled, expires or is rejected: unlink its events.

    The events keep their free-text venue (if any); the organizer sees the venue is gone on the event pages.
    """
    told: set[int] = set()
    for series in events_using(booking.id):
        told.add(series.id)
        series.room_booking_id = None
        series.room_booking = None
        _tell_organizer(series, booking)
        record_audit("event.venue_released", target_type="event_series", target_id=series.id,
                     details={"booking_id": booking.id, "state": booking.state.value})
    for occurrence in db.session.scalars(
            sa.select(EventOccurrence).where(EventOccurrence.room_booking_id == booking.id)
            .order_by(EventOccurrence.id)):
        occurrence.room_booking_id = None
        occurrence.room_booking = None
        occurrence.sequence += 1
        if occurrence.series_id not in told:
            told.add(occurrence.series_id)
            _tell_organizer(occurrence.series, booking)
        record_audit("event.occurrence_venue_released", target_type="event_occurrence", target_id=occurrence.id,
                     details={"booking_id": booking.id, "state": booking.state.value})


def _tell_organizer(series: EventSeries, booking: Booking) -> None:
    """E-mail whoever created the event that its venue is gone (they choose a new one)."""
    creator = db.session.get(User, series.created_by_id) if series.created_by_id else None
    if creator is None or not creator.is_active:
        return
    room = booking.room
    queue_mail(to=creator.email, subject=_l("イベントの会場の予約がなくなりました"), template="events/venue_released",
               language=creator.preferred_language, name=creator.display_name, series=series, booking=booking,
               room_label=f"{room.facility.name_ja} {room.name_ja}",
               url=f"{current_app.config['BASE_URL']}/events/{series.id}/edit")


def init_app(_app) -> None:
    """Tell the bookings domain to call booking_released when a venue booking is cancelled, expires or is rejected
    (bookings sit below events: they cannot import this module)."""
    booking_services.register_release_hook(booking_released)


def _text(obj, field: str, language: str) -> str:
    suffix = {"en": "en", "ja-easy": "easy"}.get(language)
    value = getattr(obj, f"{field}_{suffix}", None) if suffix else None
    return value or getattr(obj, f"{field}_ja") or ""


def venue_of(series: EventSeries, language: str) -> tuple[str | None, str | None]:
    """(name, address) of SERIES' venue in LANGUAGE: the booked facility and room, else the free text."""
    booking = series.room_booking if series.room_booking_id else None
    if booking is not None and booking.state in VENUE_STATES:
        room = booking.room
        return (f"{_text(room.facility, 'name', language)} {_text(room, 'name', language)}",
                _text(room.facility, "address", language))
    return series.venue_name, series.venue_address


def venue_of_occurrence(occurrence: EventOccurrence, language: str) -> tuple[str | None, str | None]:
    """(name, address) where OCCURRENCE takes place: its own booked room, else the series' venue."""
    booking = occurrence.room_booking if occurrence.room_booking_id else None
    if booking is not None and booking.state in VENUE_STATES:
        room = booking.room
        return (f"{_text(room.facility, 'name', language)} {_text(room, 'name', language)}",
                _text(room.facility, "address", language))
    return venue_of(occurrence.series, language)
