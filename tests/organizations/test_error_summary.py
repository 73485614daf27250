"""The organization form's error summary links to each invalid field."""

from __future__ import annotations

from tests.error_summary import check_error_summary, summary_links
from tests.factories import login, make_user, post_form


def test_new_organization_errors_link_to_their_fields(client):
    login(client, make_user().email)
    response = post_form(client, "/organizations/new", {
        "kind": "npo", "district": "shiba", "name_ja": "", "description_ja": "説明", "member_count": "-3",
        "public_email": "not-an-address"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    links = summary_links(html)
    assert "name_ja" in links, links
    check_error_summary(html, sorted(links))
