"""Login throttling: per IP and per account, only failures count, and the counters live in Redis when set."""

from __future__ import annotations

import time

import pytest

from app.core.errors import ERROR_TITLES
from app.core.i18n import use_language
from app.extensions import limiter
from tests.apps import extra_app
from tests.factories import DEFAULT_PASSWORD, csrf_from, login_from, make_user
from tests.redis_server import redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/15"


def _attempt(client, email: str, password: str, ip: str = "198.51.100.7"):
    return login_from(client, email, password, ip=ip)


def test_sixth_failure_from_one_ip_gets_429_in_the_users_language(app):
    user = make_user()
    client = app.test_client()
    for _ in range(5):
        assert _attempt(client, user.email, "wrong-password-1").status_code == 401
    response = _attempt(client, user.email, "wrong-password-1")
    assert response.status_code == 429
    assert "操作が多すぎます" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers
    assert response.headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in response.headers
    # Even the right password is refused now from that address...
    assert _attempt(client, user.email, DEFAULT_PASSWORD).status_code == 429
    # ...but another address is not affected.
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="198.51.100.8").status_code == 303

    english = app.test_client()
    english.set_cookie("tsudoi_lang", "en")
    response = _attempt(english, user.email, "wrong-password-1")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert 'lang="en"' in html
    with app.test_request_context(), use_language("en"):
        title = str(ERROR_TITLES[429])  # the English catalog's text (the source text until translated)
    assert title in html


def test_successful_logins_do_not_count(app):
    user = make_user()
    for _ in range(8):
        assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD).status_code == 303
    client = app.test_client()
    for _ in range(5):
        assert _attempt(client, user.email, "wrong-password-1").status_code == 401
    assert _attempt(client, user.email, "wrong-password-1").status_code == 429


def test_invalid_form_does_not_count(app):
    client = app.test_client()
    for _ in range(6):
        assert _attempt(client, "not-an-address", "x").status_code == 422
    user = make_user()
    assert _attempt(client, user.email, DEFAULT_PASSWORD).status_code == 303


def _fail_from_many_addresses(app, email: str, count: int = 10, prefix: str = "203.0.113.") -> None:
    for n in range(count):
        assert _attempt(app.test_client(), email, "wrong-password-1", ip=f"{prefix}{n + 1}").status_code == 401


def test_per_account_failures_slow_unknown_addresses_down(app):
    user = make_user()
    other = make_user()
    _fail_from_many_addresses(app, user.email)
    # Past the account's limit, an address that never signed in to it gets one attempt per window...
    assert _attempt(app.test_client(), user.email, "wrong-password-1", ip="203.0.113.50").status_code == 401
    # ...and the next unknown address waits, whatever password it tries, also when the address is typed
    # differently; the answer comes at once with Retry-After (no worker sleeps).
    for email in (user.email, user.email.upper()):
        response = _attempt(app.test_client(), email, DEFAULT_PASSWORD, ip="203.0.113.51")
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert "操作が多すぎます" in response.get_data(as_text=True)
    # Other accounts still sign in from there.
    assert _attempt(app.test_client(), other.email, DEFAULT_PASSWORD, ip="203.0.113.51").status_code == 303


def test_an_address_that_signed_in_before_is_not_locked_out_by_strangers(app):
    user = make_user()
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="192.0.2.10").status_code == 303
    _fail_from_many_addresses(app, user.email)
    for ip in ("203.0.113.60", "203.0.113.61"):  # strangers: one slot, then 429
        _attempt(app.test_client(), user.email, "wrong-password-1", ip=ip)
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="203.0.113.62").status_code == 429
    # The owner's usual address signs in with the right password (a fresh browser: no cookie).
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="192.0.2.10").status_code == 303


def test_a_browser_that_signed_in_before_is_not_locked_out_from_a_new_address(app):
    user = make_user()
    browser = app.test_client()
    assert _attempt(browser, user.email, DEFAULT_PASSWORD, ip="192.0.2.20").status_code == 303
    browser.post("/account/logout")  # signed out; the device cookie stays
    _fail_from_many_addresses(app, user.email)
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="203.0.113.70").status_code in (303, 429)
    assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="203.0.113.71").status_code == 429
    # Same browser, from a café it never used: the device cookie vouches for it.
    fresh = app.test_client()
    fresh.set_cookie("tsudoi_device", browser.get_cookie("tsudoi_device").value)
    assert _attempt(fresh, user.email, DEFAULT_PASSWORD, ip="198.51.100.200").status_code == 303
    # A forged or foreign cookie does not.
    forged = app.test_client()
    forged.set_cookie("tsudoi_device", "WzEsMiwzXQ.forged")
    assert _attempt(forged, user.email, DEFAULT_PASSWORD, ip="198.51.100.201").status_code == 429


def test_unknown_addresses_get_one_attempt_per_slowdown_window(app):
    user = make_user()
    app.config["LOGIN_ACCOUNT_SLOWDOWN"] = "1 per 1 second"
    try:
        _fail_from_many_addresses(app, user.email)
        assert _attempt(app.test_client(), user.email, "wrong-password-1", ip="203.0.113.80").status_code == 401
        assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="203.0.113.81").status_code == 429
        time.sleep(1.1)
        # The owner from a new address gets through once the window has passed: slowed down, not locked out.
        assert _attempt(app.test_client(), user.email, DEFAULT_PASSWORD, ip="203.0.113.81").status_code == 303
    finally:
        app.config["LOGIN_ACCOUNT_SLOWDOWN"] = "1 per minute"


@pytest.fixture
def redis_db():
    connection = redis_or_skip(REDIS_URL)  # without Redis: skipped (a failure with CI=true), not an error
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def test_redis_url_selects_redis_storage(monkeypatch):
    import config

    monkeypatch.setattr(config.Config, "REDIS_URL", REDIS_URL)
    assert config.get_config("production").RATELIMIT_STORAGE_URI == REDIS_URL
    monkeypatch.setattr(config.Config, "REDIS_URL", None)
    assert config.get_config("production").RATELIMIT_STORAGE_URI == "memory://"


@pytest.mark.usefixtures("app")  # make_user writes to the suite's database: migrated and emptied by `app`
def test_counters_live_in_redis_and_are_shared_between_app_instances(database_url, redis_db):
    user = make_user()
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_STORAGE_URI": REDIS_URL}
    with extra_app("testing", **settings) as first:
        for _ in range(3):
            assert _attempt(first.test_client(), user.email, "wrong-password-1").status_code == 401
    assert redis_db.dbsize() > 0, "no rate-limit counter was written to Redis"

    # A second instance (another worker or machine) sees the same counters.
    with extra_app("testing", **settings) as second:
        client = second.test_client()
        for _ in range(2):
            assert _attempt(client, user.email, "wrong-password-1").status_code == 401
        assert _attempt(client, user.email, "wrong-password-1").status_code == 429
    # The test app's own limiter is back on its in-memory storage.
    assert type(limiter.storage).__name__ == "MemoryStorage"



@pytest.mark.usefixtures("app")
def test_the_account_slowdown_is_shared_between_app_instances_through_redis(database_url, redis_db):
    user = make_user()
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_STORAGE_URI": REDIS_URL}
    with extra_app("testing", **settings) as first:
        for n in range(10):
            assert _attempt(first.test_client(), user.email, "wrong-password-1",
                            ip=f"203.0.113.{n + 1}").status_code == 401
    with extra_app("testing", **settings) as second:
        # The other instance sees the account past its limit: one attempt for unknown addresses, then 429.
        assert _attempt(second.test_client(), user.email, "wrong-password-1", ip="198.51.100.1").status_code == 401
        response = _attempt(second.test_client(), user.email, DEFAULT_PASSWORD, ip="198.51.100.2")
        assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert any(b"login-account" in key for key in redis_db.keys("*"))

def _forgot(app, email: str, ip: str):
    client = app.test_client()
    environ = {"REMOTE_ADDR": ip}
    html = client.get("/account/forgot", environ_base=environ).get_data(as_text=True)
    return client.post("/account/forgot", data={"csrf_token": csrf_from(html), "email": email}, environ_base=environ)


def test_one_mailbox_cannot_be_flooded_from_many_addresses(app, outbox):
    victim = make_user()
    for n in range(3):
        assert _forgot(app, victim.email, f"192.0.2.{n + 1}").status_code == 200
    assert len(outbox) == 3
    response = _forgot(app, victim.email.upper(), "192.0.2.99")
    assert response.status_code == 429
    assert len(outbox) == 3
    # Someone else's reset from the same address still works.
    other = make_user()
    assert _forgot(app, other.email, "192.0.2.99").status_code == 200
    assert outbox[-1]["To"] == other.email


def test_signup_notices_to_one_address_are_limited(app, outbox):
    victim = make_user()
    for n in range(4):
        client = app.test_client()
        environ = {"REMOTE_ADDR": f"192.0.2.{n + 1}"}
        html = client.get("/account/signup", environ_base=environ).get_data(as_text=True)
        response = client.post(
            "/account/signup",
            data={
                "csrf_token": csrf_from(html), "email": victim.email, "display_name": "x",
                "password": "minato-shiba-2026", "password_confirm": "minato-shiba-2026", "language": "ja",
            },
            environ_base=environ,
        )
        assert response.status_code == (303 if n < 3 else 429)
    assert len(outbox) == 3  # "this address is already registered" notices, then no more


def test_guessing_the_current_password_on_the_profile_is_limited(app):
    from tests.factories import login, post_form

    user = make_user()
    client = app.test_client()
    login(client, user.email)
    data = {"current_password": "guess-number-1", "password": "another-good-pass-9",
            "password_confirm": "another-good-pass-9"}
    for _ in range(10):
        assert post_form(client, "/account/password", data, page="/account/profile").status_code == 422
    assert post_form(client, "/account/password", data, page="/account/profile").status_code == 429
    # Other accounts are not affected.
    other = make_user()
    other_client = app.test_client()
    login(other_client, other.email)
    assert post_form(other_client, "/account/password", data, page="/account/profile").status_code == 422
