"""Sign-up, confirmation, login, logout and password reset, through the real HTTP stack and outbox."""

from __future__ import annotations

import re

from tests.factories import DEFAULT_PASSWORD, login, make_user, post_form


def _link(mail, path_fragment: str) -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://localhost(/account/" + path_fragment + r"/[^\s]+)", body)
    assert match, body
    return match.group(1)


def test_signup_confirm_login_logout(client, outbox):
    response = post_form(
        client,
        "/account/signup",
        {
            "email": "Hanako@Example.jp",
            "display_name": "港 花子",
            "password": "minato-shiba-2026",
            "password_confirm": "minato-shiba-2026",
            "language": "ja",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/signup/sent")
    assert len(outbox) == 1
    assert outbox[0]["To"] == "hanako@example.jp"

    # Unconfirmed accounts cannot sign in yet.
    response = login(client, "hanako@example.jp", "minato-shiba-2026")
    assert response.status_code == 403

    confirm_path = _link(outbox[0], "confirm")
    assert client.get(confirm_path).status_code == 200
    response = post_form(client, confirm_path, {})
    assert response.status_code == 303

    response = login(client, "HANAKO@example.jp", "minato-shiba-2026")
    assert response.status_code == 303
    assert client.get("/account/profile").status_code == 200

    response = post_form(client, "/account/logout", {}, page="/account/profile")
    assert response.status_code == 303
    assert client.get("/account/profile").status_code == 302


def test_cookie_replayed_after_logout_gets_login_page(client):
    user = make_user()
    login(client, user.email)
    stolen = client.get_cookie("tsudoi_session").value
    assert client.get("/account/profile").status_code == 200
    post_form(client, "/account/logout", {}, page="/account/profile")

    attacker = client.application.test_client()
    attacker.set_cookie("tsudoi_session", stolen)
    response = attacker.get("/account/profile")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_wrong_password_keeps_email_and_says_why(client):
    user = make_user()
    response = login(client, user.email, "not-the-password-1")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "メールアドレスまたはパスワードが違います" in html
    assert f'value="{user.email}"' in html


def test_password_reset_revokes_sessions_and_link_is_single_use(client, outbox, app):
    user = make_user()
    other_browser = app.test_client()
    login(other_browser, user.email)
    assert other_browser.get("/account/profile").status_code == 200

    post_form(client, "/account/forgot", {"email": user.email})
    reset_path = _link(outbox[-1], "reset")
    new = "new-secret-pass-77"
    response = post_form(client, reset_path, {"password": new, "password_confirm": new})
    assert response.status_code == 303

    assert other_browser.get("/account/profile").status_code == 302  # revoked
    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 401
    assert login(client, user.email, "new-secret-pass-77").status_code == 303
    # The same link cannot be used twice.
    assert client.get(reset_path).status_code == 400
