"""Server-side sessions: password change signs other browsers out, deletion requests, language cookie."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User, UserSession
from app.extensions import db
from tests.factories import DEFAULT_PASSWORD, login, make_user, post_form

NEW_PASSWORD = "another-good-pass-9"


def _sessions_of(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).filter_by(user_id=user_id))


def test_password_change_signs_out_other_browsers_only(app, client, outbox):
    user = make_user()
    other = app.test_client()
    assert login(client, user.email).status_code == 303
    assert login(other, user.email).status_code == 303
    assert _sessions_of(app, user.id) == 2

    response = post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        page="/account/profile",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/profile")

    assert client.get("/account/profile").status_code == 200  # this browser stays signed in
    response = other.get("/account/profile")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert _sessions_of(app, user.id) == 1

    # The owner is told by mail, and only the new password works.
    assert outbox[-1]["To"] == user.email
    assert "パスワードが変更されました" in outbox[-1]["Subject"]
    fresh = app.test_client()
    assert login(fresh, user.email, DEFAULT_PASSWORD).status_code == 401
    assert login(fresh, user.email, NEW_PASSWORD).status_code == 303


def test_session_cookie_is_rotated_at_login(app, client):
    user = make_user()
    client.get("/account/login")
    before = client.get_cookie("tsudoi_session").value
    login(client, user.email)
    after = client.get_cookie("tsudoi_session").value
    assert before != after

    # A session cookie planted before login (fixation) is not signed in afterwards.
    planted = app.test_client()
    planted.set_cookie("tsudoi_session", before)
    assert planted.get("/account/profile").status_code == 302


def test_disabled_account_loses_its_sessions(app, client):
    user = make_user()
    login(client, user.email)
    from app.core.time import utcnow

    with app.app_context():
        db.session.get(User, user.id).disabled_at = utcnow()
        db.session.commit()
    assert client.get("/account/profile").status_code == 302
    assert login(app.test_client(), user.email).status_code == 401


def test_deletion_request_and_cancel(app, client):
    user = make_user()
    login(client, user.email)
    response = post_form(client, "/account/delete", {"confirm": "y"}, page="/account/profile")
    assert response.status_code == 303
    with app.app_context():
        requested = db.session.get(User, user.id).deletion_requested_at
    assert requested is not None
    html = client.get("/account/profile").get_data(as_text=True)
    assert "削除の申し出を受け付けています" in html

    response = post_form(client, "/account/delete/cancel", {}, page="/account/profile")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(User, user.id).deletion_requested_at is None
    assert "削除の申し出を受け付けています" not in client.get("/account/profile").get_data(as_text=True)


def test_deletion_cancel_without_token_changes_nothing(app, client):
    user = make_user()
    login(client, user.email)
    post_form(client, "/account/delete", {"confirm": "y"}, page="/account/profile")
    response = client.post("/account/delete/cancel", data={})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(User, user.id).deletion_requested_at is not None


def test_profile_update_sets_the_language_cookie(app, client):
    user = make_user(language="ja")
    login(client, user.email)
    assert client.get_cookie("tsudoi_lang").value == "ja"
    response = post_form(
        client, "/account/profile", {"display_name": "港 次郎", "language": "en"}, page="/account/profile"
    )
    assert response.status_code == 303
    assert client.get_cookie("tsudoi_lang").value == "en"
    html = client.get("/account/profile").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "港 次郎" in html
    with app.app_context():
        saved = db.session.get(User, user.id)
        assert (saved.display_name, saved.preferred_language) == ("港 次郎", "en")


def test_login_sets_the_language_cookie_from_the_profile(client):
    user = make_user(language="ja-easy")
    login(client, user.email)
    assert client.get_cookie("tsudoi_lang").value == "ja-easy"


def test_language_switch_while_signed_in_updates_the_profile(app, client):
    user = make_user(language="ja")
    login(client, user.email)
    response = post_form(client, "/language", {"lang": "en", "next": "/account/profile"}, page="/account/profile")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(User, user.id).preferred_language == "en"


def test_api_token_is_shown_once_and_revocable(app, client):
    user = make_user()
    login(client, user.email)
    response = post_form(client, "/account/tokens", {"name": "集計用"}, page="/account/profile")
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    import re

    secret = re.search(r'class="token-secret">(tsd_[^<]+)<', html).group(1)
    page = client.get("/account/profile").get_data(as_text=True)
    assert secret not in page and "集計用" in page
    from app.accounts.models import ApiToken

    with app.app_context():
        token = db.session.scalar(sa.select(ApiToken).filter_by(user_id=user.id))
        assert token.token_hash != secret and secret not in token.token_hash
        token_id = token.id
    post_form(client, f"/account/tokens/{token_id}/revoke", {}, page="/account/profile")
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None


def test_cannot_revoke_someone_elses_token(app, client):
    owner = make_user()
    from app.accounts import services

    with app.app_context():
        token, _secret = services.issue_api_token(db.session.get(User, owner.id), name="owner")
        db.session.commit()
        token_id = token.id
    intruder = make_user()
    login(client, intruder.email)
    post_form(client, f"/account/tokens/{token_id}/revoke", {}, page="/account/profile")
    with app.app_context():
        from app.accounts.models import ApiToken

        assert db.session.get(ApiToken, token_id).revoked_at is None


def test_sessions_expire_after_the_configured_age(app, client):
    from datetime import timedelta

    from app.core.time import utcnow

    user = make_user()
    login(client, user.email)
    other = app.test_client()
    login(other, user.email)
    max_age = app.config["USER_SESSION_MAX_AGE_S"]
    with app.app_context():
        rows = db.session.scalars(sa.select(UserSession).filter_by(user_id=user.id).order_by(UserSession.id)).all()
        rows[0].created_at = utcnow() - timedelta(seconds=max_age + 60)  # the first browser's session
        rows[1].created_at = utcnow() - timedelta(seconds=max_age - 60)  # still within the limit
        db.session.commit()
    response = client.get("/account/profile")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert other.get("/account/profile").status_code == 200

    # Signing in again works, and the expired row is cleaned up.
    login(client, user.email)
    assert client.get("/account/profile").status_code == 200
    assert _sessions_of(app, user.id) == 2
