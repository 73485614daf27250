"""A password change or reset revokes the account's API tokens, as it signs out the other browsers (#20)."""

from __future__ import annotations

import re

from tests.api.factories import bearer, get_token, make_token
from tests.factories import DEFAULT_PASSWORD, login, make_user, post_form

NEW_PASSWORD = "another-good-pass-9"


def _body(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def test_password_change_revokes_every_api_token(app, client, outbox):
    user = make_user()
    other = make_user()
    token_ids, secrets = zip(*(make_token(user, name=f"t{i}") for i in range(2)), strict=True)
    other_id, other_secret = make_token(other)
    for secret in (*secrets, other_secret):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    login(client, user.email)
    response = post_form(
        client, "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        page="/account/profile",
    )
    assert response.status_code == 303

    for token_id, secret in zip(token_ids, secrets, strict=True):
        assert get_token(token_id).revoked_at is not None
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    # Another person's token is not touched.
    assert get_token(other_id).revoked_at is None
    assert client.get("/api/v1/me", headers=bearer(other_secret)).status_code == 200

    # Said on the page and in the mail.
    page = client.get("/account/profile").get_data(as_text=True)
    assert "APIトークンは無効になりました" in page
    assert "APIトークンは無効になりました" in _body(outbox[-1])


def test_password_reset_revokes_every_api_token(app, client, outbox):
    user = make_user()
    token_id, secret = make_token(user)
    post_form(client, "/account/forgot", {"email": user.email})
    reset_path = re.search(r"http://localhost(/account/reset/[^\s]+)", _body(outbox[-1])).group(1)
    response = post_form(client, reset_path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 303

    assert get_token(token_id).revoked_at is not None
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "APIトークンは無効になりました" in page
    assert "APIトークンは無効になりました" in _body(outbox[-1])
