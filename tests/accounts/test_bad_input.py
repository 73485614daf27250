"""Bad input on every account form: a message on the page, what was typed kept (never passwords), 422."""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD, csrf_token, login, make_user, post_form

GOOD_PASSWORD = "minato-shiba-2026"


def _page(response) -> str:
    return response.get_data(as_text=True)


def _signup(client, **overrides):
    data = {
        "email": "hanako-minato@example.jp",
        "display_name": "港 花子",
        "password": GOOD_PASSWORD,
        "password_confirm": GOOD_PASSWORD,
        "language": "ja",
    }
    data.update(overrides)
    return post_form(client, "/account/signup", data)


def test_signup_bad_email_keeps_input(client, outbox):
    response = _signup(client, email="hanako-minato@", display_name="港 花子<b>")
    assert response.status_code == 422
    html = _page(response)
    assert "メールアドレスの形が正しくありません" in html
    assert 'value="hanako-minato@"' in html
    assert 'value="港 花子&lt;b&gt;"' in html  # kept, and escaped
    assert GOOD_PASSWORD not in html
    assert outbox == []


def test_signup_passwords_that_differ(client):
    response = _signup(client, password_confirm=GOOD_PASSWORD + "x")
    assert response.status_code == 422
    html = _page(response)
    assert "パスワードが一致しません" in html
    assert 'value="hanako-minato@example.jp"' in html
    assert GOOD_PASSWORD not in html


def test_signup_missing_fields(client):
    response = _signup(client, email="", display_name="")
    assert response.status_code == 422
    assert _page(response).count("入力してください") >= 2


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1", "10文字以上"),
        ("password123", "推測されやすい"),
        ("qwertyuiop", "推測されやすい"),
        ("1234567890", "推測されやすい"),
        ("aaaaaaaaaaaa", "推測されやすい"),
        ("hanako-minato", "メールアドレスと同じ"),
        ("Hanako-Minato@example.jp", "メールアドレスと同じ"),
        ("x" * 257, "256文字以下"),
    ],
)
def test_signup_password_policy(client, outbox, app, password, message):
    response = _signup(client, password=password, password_confirm=password)
    assert response.status_code == 422
    html = _page(response)
    assert message in html
    assert 'value="hanako-minato@example.jp"' in html
    assert 'value="港 花子"' in html
    assert f'value="{password}"' not in html
    assert outbox == []
    from app.accounts.services import get_user_by_email

    with app.app_context():
        assert get_user_by_email("hanako-minato@example.jp") is None  # nothing half-saved


def test_login_bad_email(client):
    response = post_form(client, "/account/login", {"email": "not an address", "password": "whatever-123"})
    assert response.status_code == 422
    html = _page(response)
    assert "メールアドレスの形が正しくありません" in html
    assert 'value="not an address"' in html
    assert "whatever-123" not in html


def test_login_missing_password(client):
    response = post_form(client, "/account/login", {"email": "a@example.jp", "password": ""})
    assert response.status_code == 422
    assert "入力してください" in _page(response)
    assert 'value="a@example.jp"' in _page(response)


def test_forgot_bad_email(client, outbox):
    response = post_form(client, "/account/forgot", {"email": "taro@@example"})
    assert response.status_code == 422
    html = _page(response)
    assert "メールアドレスの形が正しくありません" in html
    assert 'value="taro@@example"' in html
    assert outbox == []


def _reset_path(client, outbox, email: str) -> str:
    import re

    post_form(client, "/account/forgot", {"email": email})
    body = outbox[-1].get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/account/reset/\S+)", body).group(1)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short-1", "short-1", "10文字以上"),
        ("password123", "password123", "推測されやすい"),
        (GOOD_PASSWORD, GOOD_PASSWORD + "x", "パスワードが一致しません"),
    ],
)
def test_reset_bad_password(client, outbox, password, confirm, message):
    user = make_user()
    path = _reset_path(client, outbox, user.email)
    response = post_form(client, path, {"password": password, "password_confirm": confirm})
    assert response.status_code == 422
    html = _page(response)
    assert message in html
    assert password not in html
    # The link still works: nothing was changed.
    assert client.get(path).status_code == 200
    assert login(client, user.email).status_code == 303


def test_reset_with_a_tampered_link(client):
    response = client.get("/account/reset/not-a-real-token")
    assert response.status_code == 400
    assert "リンクが正しくありません" in _page(response)


def _signed_in(client, **kwargs):
    user = make_user(**kwargs)
    assert login(client, user.email).status_code == 303
    return user


@pytest.mark.parametrize(
    ("data", "message", "kept"),
    [
        ({"display_name": "", "language": "en"}, "入力してください", 'selected value="en"'),
        ({"display_name": "あ" * 81, "language": "ja"}, "80文字以内", "あ" * 81),
        ({"display_name": "港 次郎", "language": "xx"}, "", 'value="港 次郎"'),
    ],
)
def test_profile_bad_input(client, data, message, kept):
    user = _signed_in(client)
    response = post_form(client, "/account/profile", data, page="/account/profile")
    assert response.status_code == 422
    html = _page(response)
    assert message in html
    assert 'class="errors"' in html
    assert kept in html
    assert user.display_name in html  # the header still shows the saved name: nothing was saved


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong-current-pass", "another-good-pass-9", "another-good-pass-9", "現在のパスワードが違います"),
        (DEFAULT_PASSWORD, "short", "short", "10文字以上"),
        (DEFAULT_PASSWORD, "1234567890", "1234567890", "推測されやすい"),
        (DEFAULT_PASSWORD, "another-good-pass-9", "another-good-pass-0", "パスワードが一致しません"),
        (DEFAULT_PASSWORD, "", "", "入力してください"),
    ],
)
def test_password_change_bad_input(client, current, new, confirm, message):
    user = _signed_in(client)
    response = post_form(
        client,
        "/account/password",
        {"current_password": current, "password": new, "password_confirm": confirm},
        page="/account/profile",
    )
    assert response.status_code == 422
    html = _page(response)
    assert message in html
    for secret in {current, new, confirm} - {""}:
        assert f'value="{secret}"' not in html
    # Still signed in with the old password.
    assert client.get("/account/profile").status_code == 200
    other = client.application.test_client()
    assert login(other, user.email).status_code == 303


def test_delete_request_without_confirmation(client, app):
    user = _signed_in(client)
    response = post_form(client, "/account/delete", {}, page="/account/profile")
    assert response.status_code == 422
    assert "確認のチェックを入れてください" in _page(response)
    from app.accounts.models import User
    from app.extensions import db

    with app.app_context():
        assert db.session.get(User, user.id).deletion_requested_at is None


@pytest.mark.parametrize(("name", "message"), [("", "入力してください"), ("ト" * 81, "80文字以内")])
def test_api_token_bad_name(client, app, name, message):
    user = _signed_in(client)
    response = post_form(client, "/account/tokens", {"name": name}, page="/account/profile")
    assert response.status_code == 422
    html = _page(response)
    assert message in html
    if name:
        assert f'value="{name}"' in html
    from app.accounts.models import ApiToken
    from app.extensions import db

    with app.app_context():
        assert db.session.query(ApiToken).filter_by(user_id=user.id).count() == 0


def test_oversized_body_is_413(client, app):
    token = csrf_token(client, "/account/login")
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/account/login", data={"csrf_token": token, "email": too_big, "password": "p"})
    assert response.status_code == 413
    assert "送信されたデータが大きすぎます" in _page(response)


def test_nul_characters_never_reach_the_database(client, app):
    # PostgreSQL refuses NUL in text: without the form filter this was a 500 there.
    user = _signed_in(client)
    response = post_form(client, "/account/profile", {"display_name": "港\x00 次郎", "language": "ja"},
                         page="/account/profile")
    assert response.status_code == 303
    response = post_form(client, "/account/tokens", {"name": "\x00"}, page="/account/profile")
    assert response.status_code == 422
    assert "入力してください" in _page(response)
    from app.accounts.models import User
    from app.extensions import db

    with app.app_context():
        assert db.session.get(User, user.id).display_name == "港 次郎"


def test_signup_with_nul_in_name(client, app):
    response = _signup(client, display_name="\x00花子\x00")
    assert response.status_code == 303
    from app.accounts.services import get_user_by_email

    with app.app_context():
        assert get_user_by_email("hanako-minato@example.jp").display_name == "花子"
