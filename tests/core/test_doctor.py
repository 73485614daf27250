"""`flask doctor` on production apps built for each case: a healthy deployment passes, each broken setting is
named with what to do, and any FAIL makes the command exit 1. Real database, Redis and a listening socket."""

from __future__ import annotations

import re
import socket
from contextlib import contextmanager
from datetime import timedelta

import pytest

from app.core.jobs import JobRun, JobRunStatus
from app.core.time import utcnow
from app.extensions import db
from tests.apps import extra_app
from tests.redis_server import redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/15"
SECRET = "a-production-secret-from-the-environment-0123456789"


@pytest.fixture
def smtp_port():
    """A listening socket standing in for the mail relay (doctor only connects)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    yield server.getsockname()[1]
    server.close()


def _healthy(database_url: str, smtp_port: int, **overrides) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_STORAGE_URI": REDIS_URL, "REDIS_URL": REDIS_URL,
            "BASE_URL": "https://tsudoi.example.city.minato.tokyo.jp", "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_DEFAULT_SENDER": "Tsudoi <noreply@minato.jp>",
            "PROXY_FIX_X_FOR": 1, **overrides}


@contextmanager
def _production(monkeypatch, secret: str = SECRET, **settings):
    monkeypatch.setenv("SECRET_KEY", secret)
    with extra_app("production", **settings) as prod:
        yield prod


def _doctor(prod):
    result = prod.test_cli_runner().invoke(args=["doctor"])
    lines = {m.group(2): m.group(1) for m in re.finditer(r"^(OK|WARN|FAIL) +([a-z-]+):", result.output, re.M)}
    return result, lines


def _job_ran(prod, ago: timedelta, status=JobRunStatus.SUCCEEDED, name="mail.send-pending") -> None:
    with prod.app_context():
        db.session.add(JobRun(job_name=name, due_key=f"k{ago}", status=status, runner="test:1",
                              started_at=utcnow() - ago))
        db.session.commit()


@pytest.mark.usefixtures("app")  # the suite's database, migrated to head and emptied after the test
def test_a_healthy_deployment_passes(monkeypatch, database_url, smtp_port):
    redis_or_skip(REDIS_URL).close()
    with _production(monkeypatch, **_healthy(database_url, smtp_port)) as prod:
        _job_ran(prod, timedelta(minutes=1))
        result, lines = _doctor(prod)
    expected = {"secret", "database", "redis", "proxy", "mail", "base-url", "jobs"}
    if database_url.startswith("sqlite"):  # production on SQLite is itself a failure
        assert result.exit_code == 1 and lines.pop("database-kind") == "FAIL" and "use PostgreSQL" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "postgresql answers; migrations at head" in result.output
    assert set(lines) == expected and set(lines.values()) == {"OK"}, result.output


@pytest.mark.usefixtures("app")
def test_each_broken_setting_is_named_with_what_to_do(monkeypatch, database_url):
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_STORAGE_URI": "memory://",
                "ALLOW_MEMORY_LIMITS": True, "BASE_URL": "http://127.0.0.1:5000", "MAIL_BACKEND": "console",
                "PROXY_FIX_X_FOR": 0}
    with _production(monkeypatch, secret="short-secret", **settings) as prod:
        result, lines = _doctor(prod)
    assert result.exit_code == 1
    assert lines["secret"] == "FAIL" and "secrets.token_urlsafe" in result.output
    assert lines["redis"] == "WARN" and "set REDIS_URL" in result.output
    assert lines["proxy"] == "WARN" and "PROXY_FIX_X_FOR=1" in result.output
    assert lines["mail"] == "FAIL" and "MAIL_BACKEND=smtp" in result.output
    assert lines["base-url"] == "FAIL" and "public https address" in result.output
    assert lines["jobs"] == "FAIL" and "never run" in result.output and "flask jobs run-due" in result.output
    assert re.search(r"^\d+ failed, \d+ warnings, \d+ ok$", result.output, re.M)


@pytest.mark.usefixtures("app")
def test_known_secret_stale_jobs_and_failed_jobs(monkeypatch, database_url, smtp_port):
    with _production(monkeypatch, secret="test-secret-key-not-for-production",
                     **_healthy(database_url, smtp_port, RATELIMIT_STORAGE_URI="memory://",
                                ALLOW_MEMORY_LIMITS=True)) as prod:
        _job_ran(prod, timedelta(hours=2))
        result, lines = _doctor(prod)
        assert lines["secret"] == "FAIL" and "known from the code" in result.output
        assert lines["jobs"] == "FAIL" and "120 minutes ago" in result.output
        _job_ran(prod, timedelta(minutes=1), status=JobRunStatus.FAILED, name="alerts.freed-slots")
        result, lines = _doctor(prod)
        assert lines["jobs"] == "WARN" and "alerts.freed-slots" in result.output


@pytest.mark.usefixtures("app")
def test_unreachable_redis_mail_and_database_fail_without_a_traceback(monkeypatch, database_url):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    settings = _healthy(database_url, port, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0")
    with _production(monkeypatch, **settings) as prod:
        result, lines = _doctor(prod)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert lines["redis"] == "FAIL" and "does not answer" in result.output
    assert lines["mail"] == "FAIL" and f"127.0.0.1:{port} does not answer" in result.output

    settings = _healthy(f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing", port,
                        RATELIMIT_STORAGE_URI="memory://", ALLOW_MEMORY_LIMITS=True)
    with _production(monkeypatch, **settings) as prod:
        result, lines = _doctor(prod)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert lines["database"] == "FAIL" and "cannot connect" in result.output and "DATABASE_URL" in result.output
    assert lines["jobs"] == "FAIL"


def test_a_database_behind_the_migrations_fails(monkeypatch, tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with _production(monkeypatch, SQLALCHEMY_DATABASE_URI=empty, RATELIMIT_STORAGE_URI="memory://",
                     ALLOW_MEMORY_LIMITS=True) as prod:
        result, lines = _doctor(prod)
    assert result.exit_code == 1
    assert lines["migrations"] == "FAIL" and "no revision" in result.output and "flask db upgrade" in result.output
    assert lines["database-kind"] == "FAIL" and "use PostgreSQL" in result.output  # SQLite in production
