"""Security headers on every kind of response, cookie flags, and the production configuration."""

from __future__ import annotations

import pytest

from tests.apps import extra_app
from tests.factories import login, make_user


def assert_security_headers(response) -> None:
    """The headers every response must carry, whatever produced it."""
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()}
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    assert directives.get("script-src") == "script-src 'self'", csp
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    assert directives.get("object-src") == "object-src 'none'", csp
    assert "default-src" in directives, csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"


def test_headers_on_a_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert_security_headers(response)
    # HSTS belongs to production only (a developer's http://127.0.0.1 must keep working).
    assert "Strict-Transport-Security" not in response.headers


def test_headers_on_a_redirect(client):
    response = client.get("/account/profile")
    assert response.status_code == 302
    assert_security_headers(response)


def test_headers_on_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_security_headers(response)
    assert "ページが見つかりません" in response.get_data(as_text=True)


def test_headers_on_405(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert_security_headers(response)
    assert "GET" in response.headers["Allow"]


def test_headers_on_static_files(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert_security_headers(response)
    response.close()


def test_500_has_headers_and_no_stack_trace(app, client):
    secret = "very-internal-detail-xyz"

    def broken():
        raise RuntimeError(secret)

    original = app.view_functions["portal.home"]
    app.view_functions["portal.home"] = broken
    try:
        response = client.get("/")
    finally:
        app.view_functions["portal.home"] = original
    assert response.status_code == 500
    assert_security_headers(response)
    body = response.get_data(as_text=True)
    assert "システムでエラーが起きました" in body
    assert "Traceback" not in body
    assert secret not in body
    assert "RuntimeError" not in body
    # The view is back for the next tests.
    assert client.get("/").status_code == 200


def test_signed_in_pages_are_not_cached(client):
    make_user(email="cache@example.jp")
    login(client, "cache@example.jp")
    response = client.get("/account/profile")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") == "no-store"


def _set_cookie(response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie set in {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_flags(client):
    response = client.get("/account/login")  # the CSRF token is kept in the session
    cookie = _set_cookie(response, "tsudoi_session")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests run on http://


def test_language_cookie_flags(client):
    from tests.factories import post_form

    response = post_form(client, "/language", {"lang": "en", "next": "/"}, page="/")
    cookie = _set_cookie(response, "tsudoi_lang")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.usefixtures("app")  # a production app on the suite's database, migrated and emptied by `app`
def test_production_cookies_are_secure_and_hsts_is_sent(monkeypatch, database_url):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-from-the-environment")
    with extra_app("production", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI="memory://",
                   ALLOW_MEMORY_LIMITS=True) as prod:
        assert prod.config["SECRET_KEY"] == "a-production-secret-from-the-environment"
        assert prod.config["SESSION_COOKIE_SECURE"] is True
        assert not prod.debug and not prod.testing
        response = prod.test_client().get("/account/login", base_url="https://tsudoi.example.jp")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = _set_cookie(response, "tsudoi_session")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.usefixtures("app")  # a production app on the suite's database, migrated and emptied by `app`
def test_production_language_cookie_is_secure(monkeypatch, database_url):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-from-the-environment")
    with extra_app("production", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI="memory://",
                   ALLOW_MEMORY_LIMITS=True) as prod:
        browser = prod.test_client()
        html = browser.get("/", base_url="https://tsudoi.example.jp").get_data(as_text=True)
        from tests.factories import csrf_from

        response = browser.post(
            "/language",
            data={"csrf_token": csrf_from(html), "lang": "en", "next": "/"},
            base_url="https://tsudoi.example.jp",
            headers={"Referer": "https://tsudoi.example.jp/"},
        )
    assert response.status_code == 303
    assert "Secure" in _set_cookie(response, "tsudoi_lang")


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"), extra_app("production"):
        pass


def test_500_page_even_when_the_rollback_fails(app, client, monkeypatch):
    import sqlalchemy as sa

    from app.extensions import db

    def broken():
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    def failing_rollback():
        raise sa.exc.OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    original = app.view_functions["portal.home"]
    app.view_functions["portal.home"] = broken
    try:
        with monkeypatch.context() as patch:
            patch.setattr(db.session, "rollback", failing_rollback)
            response = client.get("/")
    finally:
        app.view_functions["portal.home"] = original
    assert response.status_code == 503  # a lost database connection: "try again", not a bug (#20)
    assert response.headers["Retry-After"]
    assert_security_headers(response)
    assert "server closed" not in response.get_data(as_text=True)


def test_pages_with_a_token_in_the_url_send_no_referrer(app, client):
    from app.accounts import services
    from app.accounts.models import User
    from app.extensions import db

    user = make_user()
    with app.test_request_context():
        account = db.session.get(User, user.id)
        paths = [
            f"/account/reset/{services.make_reset_token(account)}",
            f"/account/confirm/{services.make_confirmation_token(account)}",
        ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert_security_headers_except_referrer(response)
    assert client.get("/account/reset/forged").headers["Referrer-Policy"] == "no-referrer"


def assert_security_headers_except_referrer(response) -> None:
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.usefixtures("app")
def test_production_without_redis_refuses_to_start(monkeypatch, database_url):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-from-the-environment")
    monkeypatch.delenv("TSUDOI_ALLOW_MEMORY_LIMITS", raising=False)
    with pytest.raises(RuntimeError, match="REDIS_URL must be set"), \
            extra_app("production", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI="memory://"):
        pass


@pytest.mark.usefixtures("app")
def test_production_with_memory_limits_allowed_starts_and_warns(monkeypatch, database_url, caplog):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-from-the-environment")
    monkeypatch.setenv("TSUDOI_ALLOW_MEMORY_LIMITS", "1")
    with caplog.at_level("WARNING"), \
            extra_app("production", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI="memory://") as prod:
        assert prod.config["ALLOW_MEMORY_LIMITS"] is True
        assert prod.test_client().get("/healthz").status_code == 200
    assert any("no REDIS_URL" in record.getMessage() and record.levelname == "WARNING" for record in caplog.records)


@pytest.mark.usefixtures("app")
def test_production_with_redis_starts_without_warning(monkeypatch, database_url, caplog):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-from-the-environment")
    monkeypatch.delenv("TSUDOI_ALLOW_MEMORY_LIMITS", raising=False)
    with caplog.at_level("WARNING"), extra_app("production", SQLALCHEMY_DATABASE_URI=database_url,
                                               RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15"):
        pass
    assert not any("no REDIS_URL" in record.getMessage() for record in caplog.records)
