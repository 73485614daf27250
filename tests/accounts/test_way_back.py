"""Sign-up keeps the way back: from an event's "log in to register", through sign-up and the confirmation mail, the
person signs in and lands on that event again; a `next` that leads off the site is dropped on the way."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from tests.events.factories import make_series
from tests.factories import make_user, post_form
from tests.organizations.factories import make_organization

PASSWORD = "minato-shiba-2026"


def _href(html: str, text: str) -> str:
    """The link with TEXT in the page's main part (the header has links of its own)."""
    main = html.split('<main', 1)[-1]
    match = re.search(r'<a href="([^"]+)">' + re.escape(text) + "</a>", main)
    assert match, text
    return unescape(match.group(1))


def _next_of(url: str) -> str | None:
    return (parse_qs(urlsplit(url).query).get("next") or [None])[0]


def _mail_link(mail, fragment: str) -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://localhost(/account/" + fragment + r"[^\s]*)", body)
    assert match, body
    return match.group(1)


def _sign_up(client, signup_url: str, email: str):
    return post_form(client, signup_url, {"email": email, "display_name": "港 花子", "password": PASSWORD,
                                          "password_confirm": PASSWORD, "language": "ja"})


def test_from_an_event_through_sign_up_and_the_mail_back_to_the_event(client, outbox):
    editor = make_user()
    org = make_organization(name="芝町会", editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id)
    event_path = f"/events/{series.id}"

    login_url = _href(client.get(event_path).get_data(as_text=True), "ログインして申し込む")
    signup_url = _href(client.get(login_url).get_data(as_text=True), "新規登録")
    assert urlsplit(signup_url).path == "/account/signup" and _next_of(signup_url) == event_path

    assert _sign_up(client, signup_url, "hanako.way@example.jp").status_code == 303
    confirm_path = _mail_link(outbox[-1], "confirm/")
    assert _next_of(confirm_path) == event_path
    response = post_form(client, confirm_path, {})
    assert response.status_code == 303
    login_page = response.headers["Location"]
    assert urlsplit(login_page).path == "/account/login" and _next_of(login_page) == event_path

    response = post_form(client, login_page, {"email": "hanako.way@example.jp", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == event_path
    # Signed in, on the event: the register button is there.
    assert "申し込む</button>" in client.get(event_path).get_data(as_text=True)


def test_a_registered_address_is_told_to_sign_in_with_the_way_back_kept(client, outbox):
    user = make_user(email="known.way@example.jp")
    assert _sign_up(client, "/account/signup?next=/events/7", user.email).status_code == 303
    login_link = _mail_link(outbox[-1], "login")
    assert urlsplit(login_link).path == "/account/login" and _next_of(login_link) == "/events/7"


def test_a_next_off_the_site_is_not_carried_into_the_mail(client, outbox):
    assert _sign_up(client, "/account/signup?next=https://evil.example/", "away@example.jp").status_code == 303
    confirm_path = _mail_link(outbox[-1], "confirm/")
    assert "next=" not in confirm_path and "evil" not in confirm_path
    response = post_form(client, confirm_path + "?next=//evil.example/", {})
    assert response.headers["Location"] == "/account/login"
