"""Capacity under concurrency through the real HTTP stack: gunicorn on loopback, 30 signed-in browsers posting the
registration form at the same instant (behind a barrier) for 5 seats. Exactly 5 are confirmed and 25 waitlisted,
no 5xx. A control server with the capacity guard switched off (TSUDOI_EVENTS_CAPACITY_GUARD=0) lets more than 5
through, which shows the test would catch a missing guard. Runs on the suite's database kind (SQLite file, or
PostgreSQL when TEST_DATABASE_URL is set), in a fresh database of its own."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from app.core.permissions import Role
from app.events.models import EventOccurrence, EventStatus, Registration, RegistrationStatus
from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PASSWORD = "race-Minato-password-2026"
CLIENTS = 30
SEATS = 5
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def _fresh_database(tmp_path: Path):
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'race.sqlite3'}"
        return
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"tsudoi_evrace_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _seed(database_url: str):
    """Migrate the fresh database; add CLIENTS residents and two published events with SEATS seats each."""
    from flask_migrate import upgrade

    from app.accounts import services as account_services
    from tests import factories
    from tests.events.factories import make_series
    from tests.organizations.factories import make_organization

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    previous = factories.APP
    factories.APP = app
    try:
        with app.app_context():
            upgrade(revision="heads")
            emails = []
            for i in range(CLIENTS):
                user = account_services.create_user(email=f"racer{i}@example.jp", password=PASSWORD,
                                                    display_name=f"参加者{i}", role=Role.RESIDENT)
                emails.append(user.email)
            editor = account_services.create_user(email="editor@example.jp", password=PASSWORD,
                                                  display_name="主催者", role=Role.RESIDENT)
            db.session.commit()
            editor_id = editor.id
            db.session.remove()
        org = make_organization(editor_id=editor_id)
        events = []
        for title in ("同時申込の試験", "対照試験"):
            series = make_series(organization_id=org.id, actor_id=editor_id, capacity=SEATS,
                                 status=EventStatus.PUBLISHED, texts={"title_ja": title})
            with app.app_context():
                occurrence_id = db.session.scalar(sa.select(EventOccurrence.id)
                                                  .where(EventOccurrence.series_id == series.id))
                db.session.remove()
            events.append((series.id, occurrence_id))
        with app.app_context():
            db.engine.dispose()
    finally:
        factories.APP = previous
    return app, emails, events


class _Gunicorn:
    """gunicorn (gthread) on a free loopback port with the given extra environment."""

    def __init__(self, database_url: str, workdir: Path, **extra_env):
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.update(TSUDOI_ENV="production", DATABASE_URL=database_url, SECRET_KEY="race-test-secret-key-0123456789",
                   TSUDOI_INSTANCE_DIR=str(workdir / "instance"), PROXY_FIX_X_FOR="0", MAIL_BACKEND="outbox",
                   PYTHONUNBUFFERED="1", **extra_env)
        self.log_path = workdir / f"gunicorn-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "4", "--threads", "8",
             "--bind", f"{HOST}:0", "--no-control-socket", "--timeout", "60", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + 40
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


class _Browser:
    """A signed-in browser: a cookie jar over http.client (production cookies are Secure; we are on loopback)."""

    def __init__(self, port: int):
        self.port = port
        self.jar: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
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

    def sign_in(self, email: str) -> None:
        _status, page, _ = self.request("GET", "/account/login")
        token = CSRF_RE.search(page).group(1)
        status, _, _ = self.request("POST", "/account/login",
                                    {"csrf_token": token, "email": email, "password": PASSWORD})
        assert status == 302, f"sign-in of {email} answered {status}"


def _race(browsers: list[_Browser], series_id: int, occurrence_id: int) -> list[tuple[int, str | None]]:
    """Every browser posts the registration form at the same instant; returns (status, registration status)."""
    forms = []
    for browser in browsers:
        status, page, _ = browser.request("GET", f"/events/{series_id}")
        assert status == 200
        forms.append({"csrf_token": CSRF_RE.search(page).group(1)})
    barrier = threading.Barrier(len(browsers))
    results: list[tuple[int, str | None]] = [(0, None)] * len(browsers)

    def fire(index: int) -> None:
        barrier.wait()
        try:
            status, _, headers = browsers[index].request(
                "POST", f"/events/occurrences/{occurrence_id}/register", forms[index])
            results[index] = (status, headers.get("X-Registration-Status"))
        except Exception:  # noqa: BLE001 - a dropped connection counts as a server failure
            results[index] = (599, None)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _stored(app, occurrence_id: int) -> dict[RegistrationStatus, int]:
    with app.app_context():
        try:
            rows = db.session.execute(sa.select(Registration.status, sa.func.count())
                                      .where(Registration.occurrence_id == occurrence_id)
                                      .group_by(Registration.status)).all()
            return dict(rows)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_thirty_registrations_for_five_seats_then_control_without_guard(tmp_path):
    with _fresh_database(tmp_path) as url:
        app, emails, events = _seed(url)
        (series_id, occurrence_id), (control_series_id, control_occurrence_id) = events
        server = _Gunicorn(url, tmp_path)
        try:
            browsers = [_Browser(server.port) for _ in emails]
            for browser, email in zip(browsers, emails, strict=True):
                browser.sign_in(email)
            results = _race(browsers, series_id, occurrence_id)
            assert all(status == 303 for status, _ in results), results
            outcome = [kind for _, kind in results]
            assert outcome.count("confirmed") == SEATS and outcome.count("waitlisted") == CLIENTS - SEATS, outcome
            assert _stored(app, occurrence_id) == {RegistrationStatus.CONFIRMED: SEATS,
                                                   RegistrationStatus.WAITLISTED: CLIENTS - SEATS}
        finally:
            server.stop()

        # Control: the same race against a server whose capacity guard is off must overfill the event.
        control = _Gunicorn(url, tmp_path, TSUDOI_EVENTS_CAPACITY_GUARD="0")
        try:
            for browser in browsers:  # sessions live in the database: the control server accepts them
                browser.port = control.port
            results = _race(browsers, control_series_id, control_occurrence_id)
            assert all(status < 500 for status, _ in results), results
            stored = _stored(app, control_occurrence_id)
            assert stored.get(RegistrationStatus.CONFIRMED, 0) > SEATS, stored
        finally:
            control.stop()
