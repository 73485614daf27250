"""A display name is one line: CR/LF and other control characters are refused on sign-up and profile (#20)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from tests.factories import app_context, login, make_user, post_form

REFUSED = "改行などの特別な文字は使えません"
NAMES = ["港\r\nBcc: everyone@example.jp", "港\n花子", "港\r花子", "港\x1b[31m花子", "港\u2029花子"]


@pytest.mark.parametrize("name", NAMES)
def test_signup_refuses_a_display_name_with_a_line_break(client, outbox, name):
    response = post_form(client, "/account/signup", {
        "email": "new@example.jp", "display_name": name, "password": "a-good-long-pass-1",
        "password_confirm": "a-good-long-pass-1", "language": "ja"})
    assert response.status_code == 422
    assert REFUSED in response.get_data(as_text=True)
    assert outbox == []
    with app_context():
        assert db.session.scalar(sa.select(User).filter_by(email="new@example.jp")) is None


@pytest.mark.parametrize("name", NAMES)
def test_profile_refuses_a_display_name_with_a_line_break(client, name):
    user = make_user(display_name="港 花子")
    login(client, user.email)
    response = post_form(client, "/account/profile", {"display_name": name, "language": "ja"},
                         page="/account/profile")
    assert response.status_code == 422
    assert REFUSED in response.get_data(as_text=True)
    with app_context():
        assert db.session.get(User, user.id).display_name == "港 花子"


def test_an_ordinary_name_with_inner_spaces_is_kept(client):
    user = make_user()
    login(client, user.email)
    response = post_form(client, "/account/profile", {"display_name": "港 花子 Hanako", "language": "ja"},
                         page="/account/profile")
    assert response.status_code == 303
