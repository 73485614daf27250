"""Hostile `next=` values never send the browser to another site (login and language switch)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from app.core.security import is_safe_next
from tests.factories import DEFAULT_PASSWORD, csrf_token, make_user

HOSTILE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2f%5cevil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "///evil.example",
    " //evil.example",
    "/%09/evil.example",
    "data:text/html,x",
    "/\r\n/evil.example",
    "https:evil.example",
    "/%252F%252Fevil.example",
    "\u3000//evil.example",
]
SAFE = "/account/profile?x=1"


def assert_stays_on_site(location: str) -> None:
    """LOCATION, as a browser would read it, is a path on this site."""
    parts = urlsplit(location)
    assert parts.scheme in ("", "http"), location
    assert parts.netloc in ("", "localhost"), location
    # Browsers treat "\" like "/", drop tabs and newlines, and a decoded "//" would start a host.
    for form in {location, unquote(location), unquote(unquote(location))}:
        path = urlsplit(form).path if urlsplit(form).netloc == "localhost" else form
        assert path.startswith("/"), location
        assert not path.startswith("//"), location
        assert "\\" not in path and "\t" not in path and "\n" not in path, location
    assert "evil.example" not in location, location


@pytest.mark.parametrize("target", HOSTILE)
def test_guard_rejects(target):
    assert not is_safe_next(target)


@pytest.mark.parametrize("target", [SAFE, "/", "/events?district=芝", "/account/profile#tokens"])
def test_guard_accepts_paths_on_this_site(target):
    assert is_safe_next(target)


def _login_with_next(client, email: str, target: str):
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": email, "password": DEFAULT_PASSWORD},
    )


@pytest.mark.parametrize("target", HOSTILE)
def test_login_next_stays_on_site(client, target):
    user = make_user()
    response = _login_with_next(client, user.email, target)
    assert response.status_code == 303
    assert_stays_on_site(response.headers["Location"])


def test_login_follows_a_safe_next(client):
    user = make_user()
    response = _login_with_next(client, user.email, SAFE)
    assert response.status_code == 303
    assert response.headers["Location"] == SAFE


@pytest.mark.parametrize("target", HOSTILE)
def test_login_page_of_signed_in_user_with_hostile_next(client, target):
    user = make_user()
    assert _login_with_next(client, user.email, "/").status_code == 303
    response = client.get("/account/login", query_string={"next": target})
    assert response.status_code == 302
    assert_stays_on_site(response.headers["Location"])


def _switch_language(client, target: str):
    token = csrf_token(client, "/")
    return client.post("/language", data={"csrf_token": token, "lang": "en", "next": target})


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_next_stays_on_site(client, target):
    response = _switch_language(client, target)
    assert response.status_code == 303
    assert_stays_on_site(response.headers["Location"])
    assert client.get_cookie("tsudoi_lang").value == "en"


def test_language_switch_follows_a_safe_next(client):
    response = _switch_language(client, SAFE)
    assert response.status_code == 303
    assert response.headers["Location"] == SAFE


def test_login_required_page_comes_back_after_login(client):
    user = make_user()
    response = client.get("/account/profile", query_string={"tab": "tokens"})
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/account/login?next=")
    next_value = parse_qs(urlsplit(login_url).query)["next"][0]
    assert next_value == "/account/profile?tab=tokens"  # a path, so the guard lets it through
    response = _login_with_next(client, user.email, next_value)
    assert response.headers["Location"] == "/account/profile?tab=tokens"


def test_a_form_posted_without_signing_in_is_sent_to_sign_in_with_303(client):
    """After a POST every redirect is 303, the sign-in one too (Flask-Login's own answer is a 302, which a client
    may repeat as a POST); a GET keeps Flask-Login's 302. Both come back to where the person was."""
    token = csrf_token(client, "/account/login")
    response = client.post("/events/occurrences/1/register", data={"csrf_token": token})
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/login"
    assert parse_qs(location.query)["next"] == ["/events/occurrences/1/register"]
    assert client.get("/events/mine").status_code == 302
