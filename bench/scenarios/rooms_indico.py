"""Shaped like the comparison with Indico 3.3's room booking: 30 rooms, 3 slots a day, one year of bookings at
~70 % fill, a quarter of them weekly series; the one-day all-rooms search is the number to compare (Indico:
about 60-80 ms on this kind of machine; the aim is at least 5 times faster)."""

from __future__ import annotations

from bench.scenarios import rooms

DEFAULT_SIZE = 1  # one year: half a year back, half ahead


def generate(app, size: int) -> None:
    """30 rooms (6 facilities x 5), one year, 70 % fill, 25 % weekly series."""
    rooms.generate_rooms(size, facilities=6, rooms_per_facility=5, fill=0.70, weekly_share=0.25, years_back=0)


routes = rooms.routes
