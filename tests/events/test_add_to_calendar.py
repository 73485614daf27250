""""Add to my calendar" on an event's page: each coming date links its own .ics file and Google Calendar's
add-an-event page, with the event's title, times (UTC in the link) and place; drafts stay with their editors."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

from icalendar import Calendar

from app.core.districts import District
from app.core.time import TOKYO
from app.events.models import EventStatus
from tests.events.factories import make_series, occurrence_ids
from tests.factories import login, make_user, post_form
from tests.organizations.factories import make_organization

DAY = date.today() + timedelta(days=12)


def _event(status: EventStatus = EventStatus.PUBLISHED):
    editor = make_user()
    org = make_organization(name="白金町会", editor_id=editor.id, district=District.TAKANAWA)
    series = make_series(organization_id=org.id, actor_id=editor.id, status=status, first_date=DAY,
                         texts={"title_ja": "餅つき大会", "title_en": "Mochi pounding"},
                         venue_name="白金台区民センター", start_time=time(10, 0), end_time=time(12, 30))
    return editor, series, occurrence_ids(series.id)[0]


def _google_link(page: str) -> str:
    links = re.findall(r'href="(https://calendar\.google\.com/[^"]+)"', page)
    assert len(links) == 1, links
    return unescape(links[0])


def test_the_page_links_each_date_to_an_ics_file_and_google_calendar(client):
    _editor, series, occurrence_id = _event()
    page = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert f'href="/events/occurrences/{occurrence_id}/event.ics"' in page

    query = parse_qs(urlsplit(_google_link(page)).query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["餅つき大会"]
    utc_start = (datetime.combine(DAY, time(1, 0))).strftime("%Y%m%dT%H%M%SZ")  # 10:00 in Tokyo is 01:00 UTC
    utc_end = (datetime.combine(DAY, time(3, 30))).strftime("%Y%m%dT%H%M%SZ")
    assert query["dates"] == [f"{utc_start}/{utc_end}"], query["dates"]
    assert "白金台区民センター" in query["location"][0]
    assert query["details"][0].endswith(f"/events/{series.id}")


def test_the_ics_file_holds_that_one_date_as_a_download(client):
    _editor, series, occurrence_id = _event()
    response = client.get(f"/events/occurrences/{occurrence_id}/event.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == f'attachment; filename="event-{occurrence_id}.ics"'
    assert response.headers["Cache-Control"].startswith("public")
    events = Calendar.from_ical(response.data).walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["UID"]).startswith(f"occurrence-{occurrence_id}@")
    assert str(event["SUMMARY"]) == "餅つき大会"
    assert event.decoded("DTSTART") == datetime.combine(DAY, time(10, 0), TOKYO)


def test_english_readers_get_the_english_title(client):
    _editor, series, occurrence_id = _event()
    client.set_cookie("tsudoi_lang", "en")
    events = Calendar.from_ical(client.get(f"/events/occurrences/{occurrence_id}/event.ics").data).walk("VEVENT")
    assert str(events[0]["SUMMARY"]) == "Mochi pounding"
    query = parse_qs(urlsplit(_google_link(client.get(f"/events/{series.id}").get_data(as_text=True))).query)
    assert query["text"] == ["Mochi pounding"]


def test_a_cancelled_date_offers_no_calendar_links(client, app):
    _editor, series, occurrence_id = _event()
    from app.events.models import EventOccurrence, OccurrenceStatus
    from app.extensions import db

    with app.app_context():
        db.session.get(EventOccurrence, occurrence_id).status = OccurrenceStatus.CANCELLED
        db.session.commit()
    page = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert "calendar.google.com" not in page and "/event.ics" not in page


def test_a_draft_date_is_only_for_its_editors_and_not_kept_by_shared_caches(client):
    editor, _series, occurrence_id = _event(EventStatus.DRAFT)
    assert client.get(f"/events/occurrences/{occurrence_id}/event.ics").status_code == 404
    login(client, editor.email)
    response = client.get(f"/events/occurrences/{occurrence_id}/event.ics")
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("private")


def test_my_events_add_each_registration_to_a_calendar(client):
    _editor, series, occurrence_id = _event()
    resident = make_user()
    login(client, resident.email)
    post_form(client, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    page = client.get("/events/mine").get_data(as_text=True)
    assert f'href="/events/occurrences/{occurrence_id}/event.ics"' in page
    assert parse_qs(urlsplit(_google_link(page)).query)["text"] == ["餅つき大会"]
