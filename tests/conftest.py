"""Test fixtures: a real database per run (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
built by the migrations, emptied after every test; mail captured through the real mail layer."""

from __future__ import annotations

import os

import pytest

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from tests import factories
from tests.databases import throwaway_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh, empty database for this test run."""
    with throwaway_database(tmp_path_factory.mktemp("db") / "test.sqlite3") as url:
        yield url


def _compile_catalogs() -> None:
    """Compile .po catalogs whose .mo is missing or older (.mo files are not in git; `make install` builds them)."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parents[1] / "app" / "translations").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fileobj:
            compiled = read_po(fileobj)
        partial = mo.with_suffix(f".{os.getpid()}.tmp")  # other test runs may compile at the same time
        with partial.open("wb") as fileobj:
            write_mo(fileobj, compiled, use_fuzzy=True)
        os.replace(partial, mo)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app under test, its schema built by the Alembic migrations (as in production)."""
    from flask_migrate import upgrade

    _compile_catalogs()

    application = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        RATELIMIT_STORAGE_URI="memory://",
        MAIL_SEND_AFTER_REQUEST=True,
    )
    with application.app_context():
        upgrade(revision="heads")
    factories.APP = application
    yield application
    with application.app_context():
        _db.engine.dispose()


def _empty_tables(app) -> None:
    with app.app_context():
        tables = [t for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            else:
                for table in tables:
                    conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test that uses the app starts with empty tables, no rate-limit history and an empty mail outbox.

    Tests that use neither the `app` fixture nor a fixture built on it (client, app_ctx, outbox, ...) are pure:
    they do not pay for building the app and migrating its database. The factories' app is hidden from them,
    so a pure test that calls a factory fails at once instead of leaving rows behind that nobody empties:
    such a test must request `app`.
    """
    if "app" not in request.fixturenames:
        hidden, factories.APP = factories.APP, None
        try:
            yield
        finally:
            factories.APP = hidden
        return
    app = request.getfixturevalue("app")
    yield
    _empty_tables(app)
    limiter.reset()
    app.extensions.get("mail_delivered", []).clear()


@pytest.fixture
def app_ctx(app):
    """An app context for tests of services and queries that make no HTTP requests.

    Never make test-client requests while an app context is pushed: Flask would reuse it (and its `g`
    and database session) for the request. Tests that use the client arrange data with the factories,
    which open their own context.
    """
    with app.app_context():
        yield _db
        _db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def outbox(app):
    """E-mails delivered through the app's mail layer (send_pending runs after each request in tests)."""
    return app.extensions.setdefault("mail_delivered", [])
