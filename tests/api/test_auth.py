"""Token lifecycle: issue, use, list on the profile, revoke (profile page and DELETE), throttled failures."""

from __future__ import annotations

from tests.api.factories import bearer, get_token, make_token
from tests.factories import DEFAULT_PASSWORD, login, login_from, make_user, post_form

TOKEN_URL = "/api/v1/auth/token"


def _issue(client, email, password=DEFAULT_PASSWORD, **extra):
    return client.post(TOKEN_URL, json={"email": email, "password": password, **extra})


def test_token_lifecycle_through_profile_and_delete(client, app):
    user = make_user(display_name="港 花子", email="hanako@example.jp")

    response = _issue(client, "Hanako@Example.jp", name="集計スクリプト")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "id", "name", "created_at", "scope", "expires_at"}
    assert body["scope"] == "full" and body["expires_at"] is None
    assert body["name"] == "集計スクリプト"
    assert body["token"].startswith("tsd_")
    secret = body["token"]

    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.get_json() == {
        "id": user.id,
        "email": "hanako@example.jp",
        "display_name": "港 花子",
        "role": "resident",
        "preferred_language": "ja",
    }
    assert me.headers["Cache-Control"] == "no-store"

    # The owner sees the token (by its prefix, never the secret) on the profile page and revokes it there.
    browser = app.test_client()
    login(browser, user.email)
    profile = browser.get("/account/profile").get_data(as_text=True)
    assert secret[:10] in profile
    assert secret not in profile
    assert "集計スクリプト" in profile
    response = post_form(browser, f"/account/tokens/{body['id']}/revoke", {}, page="/account/profile")
    assert response.status_code == 303
    assert get_token(body["id"]).revoked_at is not None

    gone = client.get("/api/v1/me", headers=bearer(secret))
    assert gone.status_code == 401
    assert gone.get_json()["error"]["code"] == "invalid_token"
    assert gone.headers["WWW-Authenticate"].startswith("Bearer")

    # A second token revokes itself through the API.
    second = _issue(client, user.email).get_json()["token"]
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    response = client.delete(TOKEN_URL, headers=bearer(second))
    assert response.status_code == 204
    assert response.data == b""
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 401
    assert client.delete(TOKEN_URL, headers=bearer(second)).status_code == 401


def test_delete_revokes_only_the_token_used(client):
    user = make_user()
    _first_id, first = make_token(user)
    second_id, second = make_token(user)
    assert client.delete(TOKEN_URL, headers=bearer(first)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    assert get_token(second_id).revoked_at is None


def test_session_cookie_alone_does_not_authenticate(client):
    user = make_user()
    _token_id, secret = make_token(user)
    login(client, user.email)
    assert client.get("/account/profile").status_code == 200  # the browser session is live

    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Without CSRF checks on the API, a cookie must not be able to revoke anything either.
    assert client.delete(TOKEN_URL).status_code == 401
    # The same browser with the bearer token is let in.
    assert client.get("/api/v1/me", headers=bearer(secret)).get_json()["id"] == user.id


def test_other_authorization_schemes_and_garbage_are_refused(client):
    user = make_user()
    _token_id, secret = make_token(user)
    for header in (f"Basic {secret}", "Bearer", "Bearer tsd_not-a-real-token", secret, f"Bearer {secret}x"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/me", headers={"Authorization": f"bearer  {secret} "}).status_code == 200


def test_disabled_account_token_stops_working(client):
    from app.accounts.models import User
    from app.core.time import utcnow
    from app.extensions import db
    from tests.factories import app_context

    user = make_user()
    _token_id, secret = make_token(user)
    with app_context():
        db.session.get(User, user.id).disabled_at = utcnow()
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_wrong_password_401_and_unconfirmed_403(client):
    user = make_user()
    response = _issue(client, user.email, "not-the-password-1")
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message"] == "メールアドレスまたはパスワードが違います。"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _issue(client, "nobody@example.jp").status_code == 401

    pending = make_user(confirmed=False)
    response = _issue(client, pending.email)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "email_not_confirmed"


def test_failed_attempts_are_audited(client):
    from sqlalchemy import select

    from app.core.audit import AuditEvent
    from app.extensions import db
    from tests.factories import app_context

    user = make_user()
    _issue(client, user.email, "not-the-password-1")
    with app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).all()
    assert "login.failed" in actions


def test_sixth_failure_from_one_address_gets_429_and_successes_do_not_count(client):
    user = make_user()
    for _ in range(6):  # successes are not counted
        assert _issue(client, user.email).status_code == 201
    for attempt in range(5):
        assert _issue(client, user.email, f"wrong-password-{attempt}").status_code == 401
    response = _issue(client, user.email, "wrong-password-x")
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert response.get_json()["error"]["message"]
    # Even the right password waits: the limit is checked before the password.
    assert _issue(client, user.email).status_code == 429
    # Another address is not affected.
    other = client.post(TOKEN_URL, json={"email": user.email, "password": DEFAULT_PASSWORD},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 201


def test_failures_against_one_account_are_limited_across_addresses(client, app):
    user = make_user()
    limit = int(app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"].split()[0])
    for n in range(limit):
        response = client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
        assert response.status_code == 401
    # Past the limit the account is slowed down: one attempt per window for addresses it never signed in from.
    response = client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                           environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert response.status_code == 401
    response = client.post(TOKEN_URL, json={"email": user.email.upper(), "password": DEFAULT_PASSWORD},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) >= 1
    # Other accounts can still sign in from there.
    other = make_user()
    response = client.post(TOKEN_URL, json={"email": other.email, "password": DEFAULT_PASSWORD},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 201


def _form_login(app, email: str, password: str, ip: str):
    return login_from(app.test_client(), email, password, ip=ip)


def test_form_and_api_failures_share_one_counter_per_account(client, app):
    user = make_user()
    limit = int(app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"].split()[0])
    half = limit // 2
    for n in range(half):  # failures on the HTML form, each from its own address
        assert _form_login(app, user.email, "wrong-password-1", f"198.51.100.{n + 1}").status_code == 401
    for n in range(limit - half):  # the rest through the API
        response = client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                               environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
        assert response.status_code == 401
    # The account's budget is spent on both doors: it is slowed down for new addresses, whatever the password
    # (the first new address takes the window's one attempt).
    response = client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                           environ_base={"REMOTE_ADDR": "192.0.2.49"})
    assert response.status_code == 401
    response = client.post(TOKEN_URL, json={"email": user.email, "password": DEFAULT_PASSWORD},
                           environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert response.status_code == 429
    assert _form_login(app, user.email.upper(), DEFAULT_PASSWORD, "192.0.2.51").status_code == 429
    # Another account is not affected on either door.
    other = make_user()
    assert _form_login(app, other.email, DEFAULT_PASSWORD, "192.0.2.52").status_code == 303
    response = client.post(TOKEN_URL, json={"email": other.email, "password": DEFAULT_PASSWORD},
                           environ_base={"REMOTE_ADDR": "192.0.2.53"})
    assert response.status_code == 201


def test_api_failures_count_against_the_form_login(client, app):
    user = make_user()
    limit = int(app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"].split()[0])
    for n in range(limit):
        response = client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
        assert response.status_code == 401
    assert _form_login(app, user.email, "wrong-password-1", "192.0.2.59").status_code == 401  # the window's one
    assert _form_login(app, user.email, DEFAULT_PASSWORD, "192.0.2.60").status_code == 429


def test_an_address_that_got_a_token_before_is_not_slowed_down(client, app):
    user = make_user()
    known = {"REMOTE_ADDR": "192.0.2.70"}
    assert client.post(TOKEN_URL, json={"email": user.email, "password": DEFAULT_PASSWORD},
                       environ_base=known).status_code == 201
    limit = int(app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"].split()[0])
    for n in range(limit + 1):
        client.post(TOKEN_URL, json={"email": user.email, "password": "wrong-password-1"},
                    environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
    assert client.post(TOKEN_URL, json={"email": user.email, "password": DEFAULT_PASSWORD},
                       environ_base={"REMOTE_ADDR": "203.0.113.99"}).status_code == 429
    assert client.post(TOKEN_URL, json={"email": user.email, "password": DEFAULT_PASSWORD},
                       environ_base=known).status_code == 201
