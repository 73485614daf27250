"""API tokens: an optional expiry and a scope (read-only or full); the profile lists each token's last use (#20)."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import ApiToken
from app.core.time import utcnow
from app.extensions import db
from tests.api.factories import bearer, get_token, make_token
from tests.api.test_events import _event_body
from tests.factories import DEFAULT_PASSWORD, app_context, login, make_user, post_form
from tests.organizations.factories import make_organization


def _create_on_profile(client, **data):
    response = post_form(client, "/account/tokens", {"name": "集計", **data}, page="/account/profile")
    assert response.status_code == 201, response.get_data(as_text=True)
    return re.search(r'class="token-secret">(tsd_[^<]+)<', response.get_data(as_text=True)).group(1)


def _profile_row(client, name: str) -> str:
    page = client.get("/account/profile").get_data(as_text=True)
    return next(row for row in re.findall(r"<tr>.*?</tr>", page, re.S) if f"<td>{name}</td>" in row)


def test_profile_issues_a_read_only_token_that_expires(app, client):
    user = make_user()
    login(client, user.email)
    secret = _create_on_profile(client, scope="read", lifetime="30")
    with app_context():
        token = db.session.scalar(sa.select(ApiToken).filter_by(user_id=user.id))
        assert token.scope == "read"
        assert abs(token.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    row = _profile_row(client, "集計")
    assert "読み取りのみ" in row and "まだ使われていません" in row

    # Its use is listed on the profile.
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    row = _profile_row(client, "集計")
    assert "まだ使われていません" not in row


def test_the_profile_form_defaults_to_full_scope_and_ninety_days(app, client):
    user = make_user()
    login(client, user.email)
    _create_on_profile(client)  # only the name, as before
    with app_context():
        token = db.session.scalar(sa.select(ApiToken).filter_by(user_id=user.id))
        assert token.scope == "full"
        assert abs(token.expires_at - (utcnow() + timedelta(days=90))) < timedelta(minutes=1)
    _create_on_profile(client, lifetime="")
    with app_context():
        tokens = db.session.scalars(sa.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.id)).all()
        assert tokens[-1].expires_at is None


def test_the_profile_refuses_an_unknown_scope(app, client):
    user = make_user()
    login(client, user.email)
    response = post_form(client, "/account/tokens", {"name": "x", "scope": "admin"}, page="/account/profile")
    assert response.status_code == 422
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_a_read_only_token_reads_but_does_not_write(app, client):
    editor = make_user()
    organization = make_organization(editor_id=editor.id)
    with app_context():
        from app.accounts import services
        from app.accounts.models import User

        token, secret = services.issue_api_token(db.session.get(User, editor.id), name="r", scope="read")
        db.session.commit()
        token_id = token.id
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert client.get("/api/v1/events", headers=bearer(secret)).status_code == 200
    refused = client.post("/api/v1/events", json=_event_body(organization.id), headers=bearer(secret))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert "読み取り専用" in refused.get_json()["error"]["message"]
    # The same person's full token writes.
    _id, full = make_token(editor)
    assert client.post("/api/v1/events", json=_event_body(organization.id), headers=bearer(full)).status_code == 201
    # A read-only token may still revoke itself.
    assert client.delete("/api/v1/auth/token", headers=bearer(secret)).status_code == 204
    assert get_token(token_id).revoked_at is not None


def test_an_expired_token_is_refused_and_shown_as_expired(app, client):
    user = make_user()
    token_id, secret = make_token(user, name="古い")
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    with app_context():
        db.session.get(ApiToken, token_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"
    login(client, user.email)
    assert "期限切れ" in _profile_row(client, "古い")


def test_the_api_issues_tokens_with_scope_and_expiry(app, client):
    user = make_user()
    response = client.post("/api/v1/auth/token", json={
        "email": user.email, "password": DEFAULT_PASSWORD, "scope": "read", "expires_in_days": 7})
    assert response.status_code == 201
    body = response.get_json()
    assert body["scope"] == "read" and body["expires_at"] is not None
    for bad in ({"scope": "admin"}, {"expires_in_days": 0}, {"expires_in_days": 100000}):
        refused = client.post("/api/v1/auth/token",
                              json={"email": user.email, "password": DEFAULT_PASSWORD, **bad})
        assert refused.status_code == 422, bad
