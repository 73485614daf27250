"""Concurrency proof through the real HTTP stack: gunicorn on loopback, 20 signed-in browsers posting the booking
form at the same instant (behind a barrier). Exactly one wins, 19 get 409, none 5xx; the same for a whole hall
against its half; and a control server with the claims guard switched off lets several win, which shows the
test would catch a missing guard. Runs on the suite's database kind (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), each time in a fresh database of its own."""

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
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from app.bookings.models import ACTIVE_STATES, Booking
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PASSWORD = "race-Minato-password-2026"
CLIENTS = 20
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
    name = f"tsudoi_race_{os.getpid()}_{uuid.uuid4().hex[:8]}"
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
    """Migrate the fresh database and add a facility (hall with two halves) and CLIENTS residents."""
    from flask_migrate import upgrade

    from app.accounts import services as account_services
    from tests import factories
    from tests.facilities.factories import make_center

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    previous = factories.APP
    factories.APP = app
    try:
        with app.app_context():
            upgrade(revision="heads")
            emails = []
            for i in range(CLIENTS):
                user = account_services.create_user(email=f"racer{i}@example.jp", password=PASSWORD,
                                                    display_name=f"競争者{i}", role=Role.RESIDENT)
                emails.append(user.email)
            db.session.commit()
            center = make_center(max_active_per_month=50)
            db.session.remove()
            db.engine.dispose()
    finally:
        factories.APP = previous
    return app, emails, center


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

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
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
            return response.status, text
        finally:
            conn.close()

    def sign_in(self, email: str) -> None:
        _status, page = self.request("GET", "/account/login")
        token = CSRF_RE.search(page).group(1)
        status, _ = self.request("POST", "/account/login", {"csrf_token": token, "email": email, "password": PASSWORD})
        assert status == 302, f"sign-in of {email} answered {status}"

    def token_for(self, path: str) -> str:
        status, page = self.request("GET", path)
        assert status == 200, (path, status)
        return CSRF_RE.search(page).group(1)


def _race(browsers: list[_Browser], requests: list[tuple[int, str, str]]) -> list[int]:
    """Each browser posts its (room, day, unit) booking at the same instant; returns the statuses."""
    prepared = []
    for browser, (room_id, day, unit) in zip(browsers, requests, strict=True):
        token = browser.token_for(f"/bookings/new?room={room_id}&day={day}")
        prepared.append((browser, {"csrf_token": token, "room_id": room_id, "day": day, "units": [unit],
                                   "purpose": "同時予約の試験", "attendees": "10", "category": "resident",
                                   "organization_id": "", "confirm": "1"}))
    barrier = threading.Barrier(len(prepared))
    statuses: list[int] = [0] * len(prepared)

    def fire(index: int, browser: _Browser, form: dict) -> None:
        barrier.wait()
        try:
            statuses[index] = browser.request("POST", "/bookings/new", form)[0]
        except Exception:  # noqa: BLE001 - a dropped connection counts as a server failure
            statuses[index] = 599

    threads = [threading.Thread(target=fire, args=(i, b, f)) for i, (b, f) in enumerate(prepared)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _active_bookings(app, day) -> int:
    with app.app_context():
        try:
            return db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
                Booking.day == day, Booking.state.in_(list(ACTIVE_STATES))))
        finally:
            db.session.remove()
            db.engine.dispose()


def test_twenty_simultaneous_bookings_one_winner_then_control_without_guard(tmp_path):
    with _fresh_database(tmp_path) as url:
        app, emails, center = _seed(url)
        server = _Gunicorn(url, tmp_path)
        try:
            browsers = [_Browser(server.port) for _ in emails]
            for browser, email in zip(browsers, emails, strict=True):
                browser.sign_in(email)
            morning = f"s{center.slot_ids['morning']}"

            # 1. Twenty requests for the same room and slot.
            day1 = today_tokyo() + timedelta(days=5)
            statuses = _race(browsers, [(center.meeting_id, day1.isoformat(), morning)] * CLIENTS)
            assert sorted(statuses) == [303] + [409] * (CLIENTS - 1), statuses
            assert _active_bookings(app, day1) == 1

            # 2. Parent/child: half the browsers want the whole hall, half want its half A, same slot.
            day2 = today_tokyo() + timedelta(days=6)
            wants = [(center.hall_id if i % 2 else center.hall_a_id, day2.isoformat(), morning)
                     for i in range(CLIENTS)]
            statuses = _race(browsers, wants)
            assert sorted(statuses) == [303] + [409] * (CLIENTS - 1), statuses
            assert _active_bookings(app, day2) == 1
            for browser in browsers:  # the sessions live in the database: the control server accepts them
                browser.port = None
        finally:
            server.stop()

        # 3. Control: the same race against a server whose claims guard is off must let several through.
        control = _Gunicorn(url, tmp_path, BOOKING_CLAIMS_GUARD="0")
        try:
            for browser in browsers:
                browser.port = control.port
            day3 = today_tokyo() + timedelta(days=7)
            statuses = _race(browsers, [(center.meeting_id, day3.isoformat(), morning)] * CLIENTS)
            assert all(status < 500 for status in statuses), statuses
            assert statuses.count(303) > 1, statuses
            assert _active_bookings(app, day3) > 1
        finally:
            control.stop()
