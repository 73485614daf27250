"""The 仮予約 payment deadline reads as a real deadline: the end of a day, never 00:00 of the day of use."""

from __future__ import annotations

from datetime import date, datetime, time

from app.bookings.services import hold_deadline
from app.core.time import TOKYO, to_tokyo

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=TOKYO)  # Monday noon in Tokyo


def _local(value: datetime) -> datetime:
    return to_tokyo(value).replace(tzinfo=None)


def test_far_ahead_the_deadline_is_the_end_of_the_day_hold_days_from_now():
    deadline = hold_deadline(NOON, date(2027, 1, 20), 540, 7)
    assert _local(deadline) == datetime(2026, 12, 14, 23, 59)


def test_close_to_the_day_the_deadline_is_the_end_of_the_day_before():
    assert _local(hold_deadline(NOON, date(2026, 12, 10), 540, 7)) == datetime(2026, 12, 9, 23, 59)
    assert _local(hold_deadline(NOON, date(2026, 12, 8), 1080, 7)) == datetime(2026, 12, 7, 23, 59)


def test_a_booking_for_today_is_held_until_its_first_slot_starts():
    assert _local(hold_deadline(NOON, date(2026, 12, 7), 18 * 60, 7)) == datetime(2026, 12, 7, 18, 0)


def test_the_deadline_is_never_midnight_at_the_start_of_the_day_of_use():
    for days_ahead in range(0, 12):
        day = date(2026, 12, 7 + days_ahead) if 7 + days_ahead <= 31 else date(2027, 1, 7 + days_ahead - 31)
        deadline = _local(hold_deadline(NOON, day, 18 * 60, 7))  # today: only a slot after noon is bookable
        assert deadline.time() != time(0, 0) and deadline >= datetime(2026, 12, 7, 12, 0)
