"""The event form's error summary links to each invalid field."""

from __future__ import annotations

from tests.error_summary import check_error_summary, summary_links
from tests.events.factories import form_data
from tests.factories import login, make_user, post_form
from tests.organizations.factories import make_organization


def test_new_event_errors_link_to_their_fields(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    response = post_form(client, f"/events/new?org={org.id}",
                         form_data(title_ja="", capacity="たくさん", start_time="", contact_email="no-at-sign"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    links = summary_links(html)
    assert {"title_ja", "capacity"} <= set(links), links
    check_error_summary(html, sorted(links))
