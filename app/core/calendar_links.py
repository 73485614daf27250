"""Google Calendar's "add an event" link (its documented TEMPLATE action), for events and bookings alike."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

GOOGLE_CALENDAR = "https://calendar.google.com/calendar/render"
_STAMP = "%Y%m%dT%H%M%SZ"


def google_calendar_url(*, title: str, start: datetime, end: datetime, location: str, details: str) -> str:
    """The link with TITLE, START to END (aware datetimes, sent in UTC), LOCATION and DETAILS (a link back), each
    text on one line. Nothing leaves Tsudoi until the person follows the link."""
    params = {"action": "TEMPLATE", "text": " ".join(title.split()),
              "dates": f"{start.astimezone(UTC).strftime(_STAMP)}/{end.astimezone(UTC).strftime(_STAMP)}",
              "ctz": "Asia/Tokyo", "details": details, "location": " ".join(location.split())}
    return f"{GOOGLE_CALENDAR}?{urlencode(params)}"
