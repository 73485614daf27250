"""SQLite settings: foreign keys, WAL, busy timeout, and BEGIN IMMEDIATE only for writing requests.

These tests build their own app on a fresh SQLite file, so they run (and mean the same) when the suite
itself runs on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app.extensions import db
from tests.apps import extra_app
from tests.factories import csrf_from

BUSY_TIMEOUT_MS = 4321


@pytest.fixture
def sqlite_app(tmp_path):
    path = tmp_path / "settings.sqlite3"
    with extra_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        SQLITE_BUSY_TIMEOUT_MS=BUSY_TIMEOUT_MS,
        RATELIMIT_STORAGE_URI="memory://",
        MAIL_SEND_AFTER_REQUEST=False,
    ) as sqlite_app:
        with sqlite_app.app_context():
            upgrade(revision="heads")
        sqlite_app.config["DB_PATH"] = str(path)
        yield sqlite_app


def _pragma(app, name: str):
    with app.app_context(), db.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_pragmas(sqlite_app):
    assert _pragma(sqlite_app, "foreign_keys") == 1
    assert _pragma(sqlite_app, "journal_mode") == "wal"
    assert _pragma(sqlite_app, "busy_timeout") == BUSY_TIMEOUT_MS
    assert _pragma(sqlite_app, "synchronous") == 1  # NORMAL: safe with WAL, far fewer fsyncs


def test_foreign_keys_are_enforced(sqlite_app):
    with sqlite_app.app_context(), pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO user_sessions (user_id, token_hash, created_at) VALUES (999, 'x', '2026-01-01')"
        )


@pytest.fixture
def begins(sqlite_app):
    """The BEGIN statements the app's engine sends, in order."""
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.upper().startswith("BEGIN"):
            seen.append(statement.upper())

    with sqlite_app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", listener)


def _failed_login(client):
    html = client.get("/account/login").get_data(as_text=True)
    return client.post(
        "/account/login", data={"csrf_token": csrf_from(html), "email": "x@example.jp", "password": "wrong-pass-1"}
    )


def test_get_begins_deferred_and_post_begins_immediate(sqlite_app, begins):
    client = sqlite_app.test_client()
    assert client.get("/healthz").status_code == 200
    assert begins == ["BEGIN"]
    begins.clear()
    assert _failed_login(client).status_code == 401  # writes the audit row of the failure
    assert "BEGIN IMMEDIATE" in begins


def test_work_outside_requests_writes_immediately_even_after_a_get(sqlite_app, begins):
    # CLI commands and test arrangements write: a GET before them must not leave them deferred.
    assert sqlite_app.test_client().get("/healthz").status_code == 200
    begins.clear()
    with sqlite_app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
    assert begins == ["BEGIN IMMEDIATE"]


def test_a_held_write_lock_blocks_writers_at_begin_but_not_readers(sqlite_app):
    blocker = sqlite3.connect(sqlite_app.config["DB_PATH"], isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release_later():
        time.sleep(0.6)
        blocker.execute("COMMIT")
        released.set()

    client = sqlite_app.test_client()
    html = client.get("/account/login").get_data(as_text=True)
    timer = threading.Thread(target=release_later)
    timer.start()
    try:
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200  # WAL: readers never wait for the writer
        assert time.monotonic() - started < 0.5
        assert not released.is_set()

        response = client.post(
            "/account/login", data={"csrf_token": csrf_from(html), "email": "x@example.jp", "password": "wrong-pass-1"}
        )
        # The writer waited at BEGIN IMMEDIATE (busy timeout) until the lock was released, then succeeded.
        assert response.status_code == 401
        assert released.is_set()
        assert time.monotonic() - started >= 0.6
    finally:
        timer.join()
        blocker.close()
