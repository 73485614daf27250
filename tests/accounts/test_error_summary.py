"""The sign-up form's error summary: one link per invalid field, each field tied to its message."""

from __future__ import annotations

from tests.error_summary import check_error_summary, summary_links
from tests.factories import post_form


def test_signup_errors_link_from_the_summary_to_each_field(client):
    response = post_form(client, "/account/signup", {
        "email": "not-an-address", "display_name": "", "password": "short", "password_confirm": "other",
        "language": "ja"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    links = summary_links(html)
    assert {"email", "display_name", "password_confirm"} <= set(links), links
    check_error_summary(html, sorted(links))
    assert links["display_name"].startswith("表示名") or ": " in links["display_name"]
    # the message sits between the label and the control, as the Digital Agency's pattern has it
    label, error, control = (html.index('for="email"'), html.index('id="email-error"'), html.index('id="email"'))
    assert label < error < control


def test_a_valid_page_has_no_summary(client):
    html = client.get("/account/signup").get_data(as_text=True)
    assert "error-summary" not in html and 'aria-invalid' not in html
