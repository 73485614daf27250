"""The 空き通知 form's error summary links to the invalid field."""

from __future__ import annotations

from datetime import timedelta

from app.core.time import today_tokyo
from tests.error_summary import check_error_summary, summary_links
from tests.facilities.factories import make_center
from tests.factories import login, make_user, post_form


def test_new_alert_errors_link_to_their_fields(client):
    c = make_center()
    day = today_tokyo() + timedelta(days=5)
    login(client, make_user().email)
    url = f"/alerts/new?room={c.meeting_id}&day={day.isoformat()}&slot={c.slot_ids['morning']}"
    response = post_form(client, "/alerts/new", {
        "facility_id": str(c.facility_id), "room_id": str(c.meeting_id), "day": "not-a-date",
        "slot_id": str(c.slot_ids["morning"])}, page=url)
    assert response.status_code in (400, 422)
    html = response.get_data(as_text=True)
    links = summary_links(html)
    assert "day" in links, links
    check_error_summary(html, sorted(links))
