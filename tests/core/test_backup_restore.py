"""The backup and restore drill (#20): a database with the demo data, dumped with pg_dump (custom format) and
restored with pg_restore into a new database, serves the same pages and the same numbers.

PostgreSQL only: pg_dump and pg_restore are PostgreSQL's tools (a SQLite backup is a copy of one file). The demo
data is the whole of `flask demo load` (every domain, about 5 s), loaded once.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import ExitStack
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app.demo.accounts import DEMO_ACCOUNTS
from app.extensions import db
from app.utilization.compute import compute_utilization
from tests.apps import extra_app
from tests.databases import PG_URL, pg_database
from tests.factories import login

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not PG_URL, reason="pg_dump and pg_restore need PostgreSQL (TEST_DATABASE_URL)"),
]

# Public pages and answers that must come out byte for byte the same from the restored database.
SAME_ANSWERS = ["/api/v1/facilities", "/api/v1/organizations", "/api/v1/indicators", "/api/v1/events?from=2000-01-01",
                "/opendata/events.csv", "/opendata/facilities.csv"]
# Staff pages (signed in as the demo's ward staff): the utilization and indicator exports, the numbers themselves.
SAME_STAFF_ANSWERS = ["/staff/utilization/export.csv", "/staff/indicators/export.csv"]
PAGES = ["/", "/events/", "/facilities/", "/organizations/", "/indicators"]


def _run(tool: str, url: str, *arguments: str) -> None:
    """pg_dump or pg_restore on the database of URL (they do not read SQLAlchemy's URLs: options and PGPASSWORD)."""
    parsed = make_url(url)
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    result = subprocess.run(
        [tool, "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
         *arguments], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{tool}: {result.stderr}"


def _numbers(app) -> dict:
    """Rows per table, and utilization per facility and month over the demo's years."""
    with app.app_context():
        counts = {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
                  for table in db.metadata.sorted_tables}
        utilization = compute_utilization(start=date(2024, 4, 1), end=date(2028, 4, 1),
                                          group_by=("facility", "month"))
        db.session.remove()
    return {"rows": counts, "utilization": [(sorted(row.key.items()), row.bookable, row.booked, row.used, row.rate,
                                             row.used_rate) for row in utilization]}


def _answers(app) -> dict:
    client = app.test_client()
    answers = {}
    for url in [*SAME_ANSWERS, *PAGES]:
        response = client.get(url)
        assert response.status_code == 200, url
        answers[url] = response.get_data()
    staff = DEMO_ACCOUNTS["ward_staff"]
    assert login(client, staff.email, staff.password).status_code == 303
    for url in SAME_STAFF_ANSWERS:
        response = client.get(url)
        assert response.status_code == 200, url
        answers[url] = response.get_data()
    return answers


def test_a_dump_restored_into_a_new_database_serves_the_same_pages_and_numbers(tmp_path):
    dump = tmp_path / "tsudoi.dump"
    with ExitStack() as stack:
        original_url = stack.enter_context(pg_database(PG_URL))
        original = stack.enter_context(extra_app("testing", SQLALCHEMY_DATABASE_URI=original_url))
        with original.app_context():
            upgrade(revision="heads")
        result = original.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        with original.app_context():
            db.engine.dispose()

        _run("pg_dump", original_url, "--format=custom", f"--file={dump}", make_url(original_url).database)
        restored_url = stack.enter_context(pg_database(PG_URL))
        _run("pg_restore", restored_url, "--no-owner", "--exit-on-error",
             f"--dbname={make_url(restored_url).database}", str(dump))
        restored = stack.enter_context(extra_app("testing", SQLALCHEMY_DATABASE_URI=restored_url))

        numbers = _numbers(original)
        assert numbers["rows"]["bookings"] > 0 and numbers["rows"]["event_series"] > 0
        assert any(booked for _key, _bookable, booked, *_rest in numbers["utilization"])
        assert _numbers(restored) == numbers

        pages = _answers(original)
        restored_pages = _answers(restored)
        for url in [*SAME_ANSWERS, *SAME_STAFF_ANSWERS]:
            assert restored_pages[url] == pages[url], url
        # The HTML pages carry a fresh nonce and CSRF token per request: the same fragments rather than bytes.
        for url in PAGES:
            titles = [line.strip() for line in pages[url].decode().splitlines() if "<h1" in line or "<h2" in line]
            assert titles, url
            for title in titles:
                assert title.encode() in restored_pages[url], (url, title)
