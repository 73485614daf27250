"""Factories for dashboard tests: bookings written directly (state, category, items) without the booking rules."""

from __future__ import annotations

from datetime import date

from app.bookings.models import Booking, BookingItem, BookingState
from app.core.time import utcnow
from app.extensions import db
from app.facilities.models import Room, UserCategory
from tests.factories import app_context


def add_booking(room_id: int, day: date, ranges: list[tuple[int, int]], *, state=BookingState.CONFIRMED,
                category=UserCategory.RESIDENT, organization_id: int | None = None, purpose: str = "会議",
                fee: int = 1000, reduction: int = 0, late: bool = False, no_show: bool = False) -> int:
    """A committed booking of ROOM_ID on DAY with items for RANGES (minutes); returns its id."""
    with app_context():
        room = db.session.get(Room, room_id)
        booking = Booking(
            facility_id=room.facility_id, room_id=room_id, day=day, state=state, category=category,
            organization_id=organization_id, purpose=purpose, attendees=5, fee_gross_yen=fee,
            fee_reduction_yen=reduction, fee_net_yen=fee - reduction, late_cancellation=late,
            no_show_at=utcnow() if no_show else None,
        )
        booking.items = [BookingItem(slot_code="x", label_ja="枠", start_minute=s, end_minute=e) for s, e in ranges]
        db.session.add(booking)
        db.session.commit()
        return booking.id
