"""last_used_at: stamped on use at most every five minutes, and never at the cost of the request."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.core.time import utcnow
from tests.api.factories import bearer, get_token, make_token
from tests.factories import make_user


def test_first_use_stamps_and_quick_reuse_does_not_write(client):
    user = make_user()
    token_id, secret = make_token(user)
    assert get_token(token_id).last_used_at is None

    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    first = get_token(token_id).last_used_at
    assert first is not None
    assert utcnow() - first < timedelta(minutes=1)

    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert get_token(token_id).last_used_at == first


def test_stale_stamp_is_renewed(client):
    user = make_user()
    stale = utcnow() - timedelta(minutes=6)
    token_id, secret = make_token(user, last_used_at=stale)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert get_token(token_id).last_used_at > stale + timedelta(minutes=5)


def test_recent_stamp_is_kept(client):
    user = make_user()
    recent = utcnow() - timedelta(minutes=4)
    token_id, secret = make_token(user, last_used_at=recent)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert get_token(token_id).last_used_at == recent


def test_write_request_stamps_too(client):
    user = make_user()
    token_id, secret = make_token(user)
    assert client.delete("/api/v1/auth/token", headers=bearer(secret)).status_code == 204
    token = get_token(token_id)
    assert token.revoked_at is not None
    assert token.last_used_at is not None


def test_a_failing_stamp_does_not_fail_the_request(client, monkeypatch):
    from app.api import security

    def broken(*_args, **_kwargs):
        raise sa.exc.OperationalError("UPDATE api_tokens", {}, Exception("database is locked"))

    monkeypatch.setattr(security, "_stamp_in_own_transaction", broken)
    user = make_user()
    token_id, secret = make_token(user)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert get_token(token_id).last_used_at is None


def test_locked_database_is_skipped_quickly(client, database_url):
    """Another writer holds the lock (SQLite: the database file; PostgreSQL: the token row): the read goes on."""
    user = make_user()
    token_id, secret = make_token(user)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        blocker = sqlite3.connect(url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        release = blocker.rollback
    elif url.get_backend_name() == "postgresql":
        engine = sa.create_engine(url)
        conn = engine.connect()
        conn.execute(sa.text("SELECT id FROM api_tokens WHERE id = :id FOR UPDATE"), {"id": token_id})

        def release():
            conn.rollback()
            conn.close()
            engine.dispose()
    else:  # pragma: no cover
        pytest.fail(f"unexpected backend {url}")
    try:
        started = time.monotonic()
        response = client.get("/api/v1/me", headers=bearer(secret))
        elapsed = time.monotonic() - started
    finally:
        release()
    assert response.status_code == 200
    assert response.get_json()["id"] == user.id
    assert elapsed < 5  # the busy timeout is 15 s: the stamp gave up long before
    assert get_token(token_id).last_used_at is None
    # Once the lock is gone, the next use records it.
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert get_token(token_id).last_used_at is not None
