"""Test fixtures: a real database per run (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
built by the migrations, emptied after every test; mail captured through the real mail layer."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from tests import factories
from tests.databases import throwaway_database

# The suite's map, applied by pytest_collection_modifyitems below: which tests carry the `race` and `matrix` markers
# (declared in pyproject.toml). `make test-quick` leaves them out with `slow` and `browser`; `make test` runs them.
# A file is named by a pattern of its name, a test by its function's name (all its parameters), so that moving a file
# to another folder keeps its marks; a name that no test file defines any more stops the run.
MARKED_FILES = {
    "race": ("*_race.py",),  # many threads, processes or browsers at once against one database or server
    "matrix": ("test_hostile_*.py",  # hostile values into every form, query string and API body
               "test_authorization_matrix.py"),  # every route for every role
}
MARKED_TESTS = {
    "race": (  # several threads or processes at once, a lock held by another session, or a forced interleaving
        "test_parallel_senders_email_each_watcher_once",
        "test_two_runners_at_once_send_each_reminder_exactly_once",
        "test_control_without_the_reminder_record_both_runners_send",
        "test_locked_database_is_skipped_quickly",
        "test_parallel_runners_never_run_a_job_twice_nor_send_a_mail_twice",
        "test_control_without_the_claim_the_same_job_runs_twice",
        "test_two_cli_processes_at_once_send_each_mail_once",
        "test_parallel_runs_never_send_a_message_twice",
        "test_a_held_write_lock_blocks_writers_at_begin_but_not_readers",
        "test_single_flight_builds_once_for_concurrent_misses",
        "test_two_officers_confirming_at_once_make_one_booking",
        "test_a_confirmation_racing_the_release_job_never_leaves_a_released_award_booked",
        "test_concurrent_entries_of_one_group_never_exceed_the_limit",
        "test_a_parallel_check_in_that_wins_the_insert_is_returned_not_doubled",
        "test_simultaneous_bookings_in_one_facility_month_keep_the_rollup_exact",
        "test_interleaved_upkeep_waits_for_the_lock_and_collides_without_it_postgresql",
        "test_simultaneous_deferred_bookings_and_settlers_keep_the_rollup_exact",
    ),
}


def _test_files() -> list[Path]:
    files = []
    for folder, subfolders, names in os.walk(Path(__file__).resolve().parent):
        subfolders[:] = [s for s in subfolders if s != "node_modules" and not s.startswith((".", "__"))]
        files += [Path(folder, name) for name in names if fnmatch(name, "test_*.py")]
    return files


def _check_the_map() -> None:
    """Every file pattern and test name of the map still names something: a renamed test must not slip into
    `make test-quick` unnoticed."""
    files = _test_files()
    sources = "\n".join(path.read_text(encoding="utf-8") for path in files)
    stale = [pattern for patterns in MARKED_FILES.values() for pattern in patterns
             if not any(fnmatch(path.name, pattern) for path in files)]
    stale += [name for names in MARKED_TESTS.values() for name in names if f"def {name}(" not in sources]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py marks tests that no longer exist: {', '.join(stale)}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    _check_the_map()
    for item in items:
        name = getattr(item, "originalname", item.name)
        for marker, patterns in MARKED_FILES.items():
            if any(fnmatch(item.path.name, pattern) for pattern in patterns):
                item.add_marker(marker)
        for marker, names in MARKED_TESTS.items():
            if name in names:
                item.add_marker(marker)


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
                # TRUNCATE syncs every table it empties to disk: emptying all ~60 after each test made the
                # PostgreSQL half twice as long as SQLite's. Only the tables a test wrote to are truncated, and
                # only the sequences it advanced are reset (ids start at 1 in every test, as on SQLite).
                probes = " UNION ALL ".join(
                    f'SELECT {i} FROM (SELECT 1 FROM "{t.name}" LIMIT 1) AS p{i}'  # noqa: S608 - our own tables
                    for i, t in enumerate(tables))
                written = [tables[i] for (i,) in conn.exec_driver_sql(probes)]
                if written:
                    names = ", ".join(f'"{t.name}"' for t in written)
                    conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                for (sequence,) in conn.exec_driver_sql(
                        "SELECT quote_ident(sequencename) FROM pg_sequences"
                        " WHERE schemaname = current_schema() AND last_value IS NOT NULL"):
                    conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")
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
