"""ICS feeds (RFC 5545) with the icalendar library: VTIMEZONE Asia/Tokyo, stable UIDs, SEQUENCE, cancellations."""

from __future__ import annotations

import hashlib
from datetime import datetime

from icalendar import Calendar, Event, Timezone

from app.core import calendar_links
from app.core.time import TOKYO, to_tokyo
from app.events.models import EventOccurrence, EventStatus, OccurrenceStatus
from app.events.venue import venue_of_occurrence

UID_DOMAIN = "tsudoi.minato.example.jp"
_VTIMEZONE = None


def _vtimezone() -> Timezone:
    global _VTIMEZONE
    if _VTIMEZONE is None:
        _VTIMEZONE = Timezone.from_tzinfo(TOKYO)
    return _VTIMEZONE


def occurrence_uid(occurrence: EventOccurrence) -> str:
    """A UID that never changes for an occurrence (calendar apps match updates by it)."""
    return f"occurrence-{occurrence.id}@{UID_DOMAIN}"


def _one_line(text: str | None) -> str:
    # The library escapes commas, semicolons and newlines in TEXT values; a SUMMARY is still kept to one line so
    # no client shows a "BEGIN:VALARM" as if it were structure.
    return " ".join((text or "").split())


def google_calendar_url(occurrence: EventOccurrence, *, base_url: str, language: str = "ja") -> str:
    """Google Calendar's "add an event" link for OCCURRENCE: its title, times, place and a link to its page."""
    series = occurrence.series
    title, _ = series.text("title", language)
    return calendar_links.google_calendar_url(
        title=title or "", start=occurrence.starts_at, end=occurrence.ends_at, details=f"{base_url}/events/{series.id}",
        location=", ".join(v for v in venue_of_occurrence(occurrence, language) if v))


def build_calendar(occurrences: list[EventOccurrence], *, name: str, base_url: str, language: str = "ja") -> bytes:
    """Serialise OCCURRENCES as one VCALENDAR."""
    calendar = Calendar()
    calendar.add("prodid", "-//Tsudoi//Minato City events//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add_component(_vtimezone())
    for occurrence in occurrences:
        series = occurrence.series
        event = Event()
        event.add("uid", occurrence_uid(occurrence))
        event.add("dtstamp", occurrence.updated_at)
        event.add("last-modified", max(occurrence.updated_at, series.updated_at))
        event.add("dtstart", to_tokyo(occurrence.starts_at))
        event.add("dtend", to_tokyo(occurrence.ends_at))
        event.add("sequence", occurrence.sequence)
        title, _ = series.text("title", language)
        event.add("summary", _one_line(title))
        description, _ = series.text("summary", language)
        if description:
            event.add("description", description)
        location = ", ".join(v for v in venue_of_occurrence(occurrence, language) if v)
        if location:
            event.add("location", _one_line(location))
        event.add("url", f"{base_url}/events/{series.id}")
        event.add("organizer", f"{base_url}/organizations/{series.organization_id}",
                  parameters={"CN": _one_line(series.organization.name_in(language))})
        cancelled = series.status == EventStatus.CANCELLED or occurrence.status == OccurrenceStatus.CANCELLED
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()


def last_modified(occurrences: list[EventOccurrence]) -> datetime | None:
    """The latest change among OCCURRENCES and their series (for Last-Modified)."""
    stamps = [max(o.updated_at, o.series.updated_at) for o in occurrences]
    return max(stamps) if stamps else None


def etag(body: bytes) -> str:
    """A strong ETag for a feed body."""
    return hashlib.sha256(body).hexdigest()[:32]
