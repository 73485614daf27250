"""A live app for concurrency tests: a fresh database, gunicorn on loopback, and browsers with cookie jars.

Shared by the race tests (bookings, registrations) so each proves its guard through the real HTTP stack.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from functools import partial
from pathlib import Path

from app import create_app
from app.accounts import services as account_services
from app.core.permissions import Role
from app.extensions import db
from tests import factories
from tests.concurrency import at_once
from tests.databases import throwaway_database

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PASSWORD = "race-Minato-password-2026"  # noqa: S105
LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def fresh_database(tmp_path: Path):
    """A new empty database of the suite's kind (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set)."""
    return throwaway_database(tmp_path / f"live-{uuid.uuid4().hex[:6]}.sqlite3")


@contextlib.contextmanager
def seeding(database_url: str):
    """Migrate DATABASE_URL and point the factories at an app bound to it while seeding; yields that app."""
    from flask_migrate import upgrade

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    previous = factories.APP
    factories.APP = app
    try:
        with app.app_context():
            upgrade()
        yield app
        with app.app_context():
            db.engine.dispose()
    finally:
        factories.APP = previous


def create_residents(app, count: int, *, name: str = "競争者") -> list[str]:
    """COUNT confirmed residents sharing PASSWORD; returns their e-mail addresses."""
    with app.app_context():
        emails = [
            account_services.create_user(
                email=f"racer{i}@example.jp", password=PASSWORD, display_name=f"{name}{i}", role=Role.RESIDENT
            ).email
            for i in range(count)
        ]
        db.session.commit()
        db.session.remove()
    return emails


class Gunicorn:
    """gunicorn (gthread) on a free loopback port, production settings, with the given extra environment; APP is
    the WSGI app to serve (a control run serves one of tests/faults.py)."""

    def __init__(self, database_url: str, workdir: Path, *, workers: int = 4, threads: int = 8, app: str = "wsgi:app",
                 **extra_env):
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.update(TSUDOI_ENV="production", DATABASE_URL=database_url, SECRET_KEY="race-test-secret-key-0123456789",
                   TSUDOI_INSTANCE_DIR=str(workdir / "instance"), PROXY_FIX_X_FOR="0", MAIL_BACKEND="outbox",
                   TSUDOI_ALLOW_MEMORY_LIMITS="1",  # no Redis: the race tests do not exercise the rate limits
                   PYTHONUNBUFFERED="1", **extra_env)
        self.log_path = workdir / f"gunicorn-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - closed in stop()
        # A generous worker timeout: on a loaded CI machine a slow worker must not be killed mid-race
        # (a killed worker resets its connections, which would read as a server failure).
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", str(workers),
             "--threads", str(threads), "--bind", f"{HOST}:0", "--no-control-socket", "--timeout", "180", app],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + 60
        port = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            match = LISTENING_RE.search(self.log_path.read_text())
            port = port or (int(match.group(1)) if match else None)
            if port:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return port
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    conn.close()
            time.sleep(0.1)
        raise AssertionError("gunicorn did not start:\n" + self.log_path.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


class Browser:
    """A browser: a cookie jar over http.client (production cookies are Secure; we are on loopback)."""

    def __init__(self, port: int):
        self.port = port
        self.jar: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        """Send a request; returns (status, body, headers) and keeps the cookies it was given."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.msg.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.jar[name.strip()] = value.strip()
            return response.status, text, dict(response.getheaders())
        finally:
            conn.close()

    def token_for(self, path: str) -> str:
        """The CSRF token of the form on PATH."""
        status, page, _ = self.request("GET", path)
        assert status == 200, (path, status)
        return factories.csrf_from(page)

    def sign_in(self, email: str) -> None:
        token = self.token_for("/account/login")
        form = {"csrf_token": token, "email": email, "password": PASSWORD}
        status, _, _ = self.request("POST", "/account/login", form)
        assert status == 303, f"sign-in of {email} answered {status}"


def post_at_once(posts: list[tuple[Browser, str, dict]]) -> list[tuple[int, str, dict]]:
    """Each (browser, path, form) is POSTed at the same instant (behind a barrier): (status, body, headers) of each,
    in order. A dropped connection counts as a server failure: status 599."""
    outcomes = at_once([partial(browser.request, "POST", path, form) for browser, path, form in posts])
    return [(599, "", {}) if isinstance(outcome, BaseException) else outcome for outcome in outcomes]
