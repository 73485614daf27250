"""Booking creation over HTTP on distinct slots: POST /api/v1/bookings under gunicorn, against /healthz.

Usage: .venv/bin/python bench/booking_rate.py [--scenario rooms_indico] [--requests 400] [--clients 8]
       [--postgres [URL]]

Generates the scenario's data (default: the Indico-shaped one), gives each client its own API token, and has
every request book a different free (room, day, slot), so that the number measures the write path (rules,
fees, claims, audit, outbox) and not conflicts. Prints bookings per second, p50/p95 latency and the ratio to
/healthz measured right before, in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    DEFAULT_PG_SERVER,
    HOST,
    Server,
    fresh_database,
    prepare_database,
    server_environment,
)
from bench.scenarios import insert_users, load_scenario  # noqa: E402


class _Scenario:
    """The chosen scenario's data plus one client user per thread and the free slots they will book."""

    def __init__(self, base, clients: int, requests: int):
        self.base, self.clients, self.requests = base, clients, requests
        self.tokens: list[str] = []
        self.targets: list[dict] = []

    def generate(self, app, size: int) -> None:
        import sqlalchemy as sa

        from app.accounts import services as account_services
        from app.accounts.models import User
        from app.bookings.availability import find_free_rooms
        from app.core.time import today_tokyo
        from app.extensions import db

        self.base.generate(app, size)
        # Enough residents that no one reaches the monthly limit of active bookings (a rule, not the subject).
        emails = [f"bench-booker{n}@example.jp" for n in range(max(self.clients, self.requests // 4 + 1))]
        insert_users([(email, "resident") for email in emails])
        for user in db.session.scalars(sa.select(User).where(User.email.in_(emails)).order_by(User.id)):
            _token, secret = account_services.issue_api_token(user, name="bench")
            self.tokens.append(secret)
        # Free units from 2 to 60 days ahead, found with the same query the search page uses.
        from app.facilities.models import Room

        parents = set(db.session.scalars(sa.select(Room.parent_id).where(Room.parent_id.is_not(None))))
        day = today_tokyo() + timedelta(days=2)
        while len(self.targets) < self.requests and day < today_tokyo() + timedelta(days=60):
            for found in find_free_rooms(day):
                if found.room.id in parents:  # a whole hall would overlap the free units of its halves
                    continue
                for unit in found.free:
                    if len(self.targets) < self.requests:
                        self.targets.append({"room_id": found.room.id, "day": day.isoformat(), "units": [unit.key],
                                             "purpose": "ベンチマーク", "attendees": 5})
            day += timedelta(days=1)

    def routes(self, app):
        return []


def _timed(port: int, method: str, path: str, body: bytes | None, headers: dict, expect: int,
           latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != expect:
            errors.append(f"{response.status}: {payload[:200]!r}")
    finally:
        conn.close()


def _run(port: int, jobs: list[tuple[str, str, bytes | None, dict, int]], clients: int):
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(jobs)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            _timed(port, *job, latencies, errors)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(jobs) / (time.perf_counter() - started), sorted(latencies), errors


def main(argv: list[str] | None = None) -> int:
    """Measure /healthz, then booking creation on distinct slots; print both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="rooms_indico")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG_SERVER, default=None)
    args = parser.parse_args(argv)
    base = load_scenario(args.scenario)
    scenario = _Scenario(base, args.clients, args.requests)
    workdir = Path(tempfile.mkdtemp(prefix="tsudoi-bench-booking-"))
    try:
        with fresh_database(args.postgres, workdir) as url:
            env = server_environment(url, workdir)
            prepare_database(scenario, args.size or getattr(base, "DEFAULT_SIZE", 1), env)
            server = Server(env, workers=args.workers, threads=args.threads, log_path=workdir / "gunicorn.log")
            try:
                port = server.wait_ready()
                healthz = [("GET", "/healthz", None, {}, 200)] * args.requests
                h_rps, h_lat, h_err = _run(port, healthz, args.clients)
                jobs = [("POST", "/api/v1/bookings", json.dumps(target).encode(),
                         {"Authorization": f"Bearer {scenario.tokens[i % len(scenario.tokens)]}",
                          "Content-Type": "application/json"}, 201)
                        for i, target in enumerate(scenario.targets)]
                b_rps, b_lat, b_err = _run(port, jobs, args.clients)
            finally:
                server.stop()
            stale_left, exact = _rollup_after(url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def pct(values, q):
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

    backend = "postgresql" if args.postgres else "sqlite"
    print(f"{args.scenario} on {backend}, {args.clients} clients, gunicorn {args.workers}x{args.threads}")
    print(f"{'route':28} {'rps':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'ratio':>7}")
    print(f"{'/healthz':28} {h_rps:8.1f} {pct(h_lat, .5):8.2f} {pct(h_lat, .95):8.2f} {len(h_err):7d} {1:7.3f}")
    print(f"{'POST /api/v1/bookings':28} {b_rps:8.1f} {pct(b_lat, .5):8.2f} {pct(b_lat, .95):8.2f} "
          f"{len(b_err):7d} {b_rps / h_rps:7.3f}")
    # The rollup upkeep of each booking ran after its response (app.utilization.rollup.settle_stale_now): none may
    # be left undone, and the rollup must equal a rebuild.
    print(f"rollup keys left stale after the run: {stale_left}; rollup equals a rebuild: {exact}")
    if b_err:
        print("first error:", b_err[0], file=sys.stderr)
    return 1 if (b_err or h_err or len(jobs) < args.requests or stale_left or exact is False) else 0


def _rollup_after(url: str) -> tuple[int, bool | None]:
    """Rollup keys still stale once the server has stopped, and whether the rollup equals a rebuild (None: no
    rollup built)."""
    import os

    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from app.utilization import rollup
    from app.utilization.models import UtilizationRollupStale
    from bench.booking_cpu import _equals_rebuild

    os.environ["DATABASE_URL"] = url
    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        try:
            left = db.session.scalar(sa.select(sa.func.count()).select_from(UtilizationRollupStale))
            exact = _equals_rebuild(db, rollup) if rollup.coverage(db.session) else None
        finally:
            db.session.remove()
            db.engine.dispose()
    return left, exact


if __name__ == "__main__":
    sys.exit(main())
