"""Domain errors of bookings: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError, NotAllowed


class BookingError(DomainError):
    """A booking rule was broken (400-ish: the form shows the message)."""

    status_code = 422
    code = "booking_invalid"


class RoomNotFound(BookingError):
    status_code = 404
    code = "room_not_found"


class PastDate(BookingError):
    code = "past_date"


class OutsideWindow(BookingError):
    code = "outside_window"


class ClosedDay(BookingError):
    code = "closed"


class UnknownSlot(BookingError):
    code = "unknown_slot"


class OverCapacity(BookingError):
    code = "over_capacity"


class FeeNotSet(BookingError):
    code = "fee_not_set"


class TooManyBookings(BookingError):
    code = "too_many_bookings"


class Banned(NotAllowed):
    code = "banned"


class SlotTaken(Conflict):
    """Someone holds a cell of what was asked for; ALTERNATIVES lists the same ranges free in other rooms."""

    code = "slot_taken"

    def __init__(self, message=None, *, alternatives=None):
        super().__init__(message)
        self.alternatives = alternatives or []


class NotCancellable(BookingError):
    code = "not_cancellable"


class QuoteChanged(Conflict):
    """The fee computed when booking is not the one the confirmed summary showed; QUOTE is the new one to show."""

    code = "quote_changed"

    def __init__(self, message=None, *, quote=None):
        super().__init__(message)
        self.quote = quote
