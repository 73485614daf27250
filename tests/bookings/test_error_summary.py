"""The booking form's error summary links to each invalid field, the 時間区分 checkboxes included."""

from __future__ import annotations

from datetime import timedelta

from app.core.time import today_tokyo
from tests.error_summary import check_error_summary, parse, summary_links
from tests.facilities.factories import make_center
from tests.factories import login, make_user, post_form


def test_new_booking_errors_link_to_their_fields(client):
    c = make_center()
    login(client, make_user().email)
    day = today_tokyo() + timedelta(days=3)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    response = post_form(client, "/bookings/new", {
        "room_id": str(c.meeting_id), "day": day.isoformat(), "purpose": "", "attendees": "たくさん",
        "category": "resident", "organization_id": ""}, page=page_url)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    links = summary_links(html)
    assert {"attendees"} <= set(links), links
    check_error_summary(html, sorted(links))
    if "units" in links:  # a group: the fieldset carries the id, its legend the label
        [group] = [n for n in parse(html).walk() if n.attrs.get("id") == "units"]
        assert group.tag == "fieldset" and group.children[0].tag == "legend"
