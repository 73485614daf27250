"""Throwaway databases: a PostgreSQL database created on a server and dropped afterwards, or a SQLite file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("TEST_DATABASE_URL")  # a PostgreSQL server URL; tests create their own database


def create_pg_database(server_url: str) -> tuple[str, str]:
    """A new empty database on the PostgreSQL server at SERVER_URL: (its URL, its name)."""
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"tsudoi_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        # A throwaway database needs no durability: without waiting for the WAL flush a commit costs ~0.5 ms
        # instead of ~6 ms here, and the tests commit tens of thousands of times. Every connection to it (the
        # app's, the live servers', the CLI's) inherits the setting.
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(server_url: str, name: str) -> None:
    url = make_url(server_url).set(drivername="postgresql+psycopg", database="postgres")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """The URL of a new empty database on the PostgreSQL server at SERVER_URL, dropped afterwards."""
    url, name = create_pg_database(server_url)
    try:
        yield url
    finally:
        drop_pg_database(server_url, name)


@contextmanager
def throwaway_database(sqlite_path: Path) -> Iterator[str]:
    """A new empty database of the suite's kind: on PostgreSQL when TEST_DATABASE_URL is set, otherwise the SQLite
    file SQLITE_PATH."""
    if PG_URL:
        with pg_database(PG_URL) as url:
            yield url
    else:
        yield f"sqlite:///{sqlite_path}"
