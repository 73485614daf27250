"""ICS generation of the app (app.events.ical.build_calendar) against the icalendar library serialising the same events.

Usage: python bench/events_ics.py [--events 2000] [--repeat 5] [--goal 1.5]

No database and no server: N occurrences are built in memory (transient ORM objects: occurrence -> series ->
organizer, as the feed query loads them), then two things are timed, best of REPEAT runs each:

- app: ``build_calendar(occurrences, ...)``, what every feed route calls (texts in the visitor's language,
  venue, UID, SEQUENCE, STATUS, VTIMEZONE, then ``Calendar.to_ical()``);
- reference: the icalendar library building and serialising a VCALENDAR with the same VTIMEZONE and, for each
  event, the same properties with the same values already worked out (``Event.add`` + ``to_ical``): what the
  library itself costs for this output, the floor the app cannot go below while it uses the library.

It also prints the bare ``to_ical()`` of an already-built calendar (serialisation alone) for context, checks
that both outputs hold the same number of VEVENTs, and prints the ratio app / reference (goal: at most GOAL;
exit status 1 when missed).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from icalendar import Calendar, Event  # noqa: E402

BASE_URL = "https://tsudoi.example.jp"


def make_occurrences(n: int):
    """N transient occurrences over N/25 series and 40 organizers, a few with English titles and cancellations."""
    from app.core.districts import District
    from app.events.models import (
        EventCategory,
        EventOccurrence,
        EventSeries,
        EventStatus,
        OccurrenceStatus,
    )
    from app.organizations.models import Organization, OrganizationKind

    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    organizations = [Organization(id=o + 1, name_ja=f"ベンチ団体{o + 1}", kind=OrganizationKind.NPO,
                                  district=District.SHIBA) for o in range(40)]
    series_list = []
    for s in range(max(n // 25, 1)):
        organization = organizations[s % len(organizations)]
        series_list.append(EventSeries(
            id=s + 1, organization_id=organization.id, organization=organization,
            title_ja=f"防災訓練、避難所; 第{s + 1}回", title_en="Disaster drill" if s % 3 == 0 else None,
            summary_ja="地域の防災訓練です。\n持ち物: 水、タオル", category=EventCategory.SAFETY,
            district=District.SHIBA, venue_name="芝公園", venue_address="港区芝公園4-1", status=EventStatus.PUBLISHED,
            start_time=dtime(10), end_time=dtime(12), updated_at=stamp, room_booking_id=None,
        ))
    occurrences = []
    for i in range(n):
        starts = stamp + timedelta(hours=6 * i)
        occurrences.append(EventOccurrence(
            id=i + 1, series=series_list[i % len(series_list)], starts_at=starts, ends_at=starts + timedelta(hours=2),
            sequence=i % 3, updated_at=stamp,
            status=OccurrenceStatus.CANCELLED if i % 40 == 0 else OccurrenceStatus.SCHEDULED,
        ))
    return occurrences


def reference_values(occurrences, language: str) -> list[dict]:
    """Each event's properties exactly as the app writes them, worked out beforehand (not timed)."""
    from app.core.time import to_tokyo
    from app.events import ical
    from app.events.models import EventStatus, OccurrenceStatus

    values = []
    for occurrence in occurrences:
        series = occurrence.series
        title, _ = series.text("title", language)
        summary, _ = series.text("summary", language)
        cancelled = series.status == EventStatus.CANCELLED or occurrence.status == OccurrenceStatus.CANCELLED
        values.append({
            "uid": ical.occurrence_uid(occurrence), "dtstamp": occurrence.updated_at,
            "last-modified": max(occurrence.updated_at, series.updated_at),
            "dtstart": to_tokyo(occurrence.starts_at), "dtend": to_tokyo(occurrence.ends_at),
            "sequence": occurrence.sequence, "summary": " ".join(title.split()), "description": summary,
            "location": f"{series.venue_name}, {series.venue_address}", "url": f"{BASE_URL}/events/{series.id}",
            "organizer": (f"{BASE_URL}/organizations/{series.organization_id}",
                          {"CN": series.organization.name_in(language)}),
            "status": "CANCELLED" if cancelled else "CONFIRMED",
        })
    return values


def reference_calendar(values: list[dict]) -> Calendar:
    """The library alone: the same VCALENDAR built straight from the prepared values."""
    from app.events.ical import _vtimezone

    calendar = Calendar()
    calendar.add("prodid", "-//Tsudoi//Minato City events//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "港区のイベント")
    calendar.add("x-wr-timezone", "Asia/Tokyo")
    calendar.add_component(_vtimezone())
    for event_values in values:
        event = Event()
        for key, value in event_values.items():
            if key == "organizer":
                event.add(key, value[0], parameters=value[1])
            elif value or key == "sequence":  # SEQUENCE 0 is written, empty texts are not (as the app does)
                event.add(key, value)
        calendar.add_component(event)
    return calendar


def best(fn, repeat: int) -> tuple[float, object]:
    """The best wall time of REPEAT calls of FN, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv=None) -> int:
    """Run the comparison and print it; exit status 1 when the ratio misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="occurrences in the feed (default 2000, the feed cap)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--goal", type=float, default=1.5)
    args = parser.parse_args(argv)

    from app import create_app
    from app.events import ical

    app = create_app()
    with app.app_context(), app.test_request_context():
        occurrences = make_occurrences(args.events)
        values = reference_values(occurrences, "ja")
        ical._vtimezone()  # built once per process in both cases: not part of either timing
        app_seconds, app_body = best(lambda: ical.build_calendar(occurrences, name="港区のイベント",
                                                                 base_url=BASE_URL, language="ja"), args.repeat)
        ref_seconds, ref_body = best(lambda: reference_calendar(values).to_ical(), args.repeat)
        built = reference_calendar(values)
        bare_seconds, _ = best(built.to_ical, args.repeat)
    app_events, ref_events = app_body.count(b"BEGIN:VEVENT"), ref_body.count(b"BEGIN:VEVENT")
    ratio = app_seconds / ref_seconds
    print(f"{args.events} events, best of {args.repeat}")
    print(f"app build_calendar          {app_seconds * 1000:9.1f} ms  {len(app_body):>9} bytes  {app_events} VEVENT")
    print(f"icalendar build + to_ical   {ref_seconds * 1000:9.1f} ms  {len(ref_body):>9} bytes  {ref_events} VEVENT")
    print(f"icalendar to_ical alone     {bare_seconds * 1000:9.1f} ms  (already-built calendar, for context)")
    print(f"ratio app / icalendar: {ratio:.2f}x (goal <= {args.goal}x): {'met' if ratio <= args.goal else 'MISSED'}")
    print(f"outputs byte-identical: {app_body == ref_body}")
    if app_events != ref_events:
        print("the two outputs differ in their number of events")
        return 1
    return 0 if ratio <= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
