"""In-process CPU per booking (book_slots + commit), with the utilization rollup built, and its upkeep alone.

Usage: .venv/bin/python bench/booking_cpu.py [--scenario rooms_indico] [--bookings 200] [--postgres [URL]]
       [--no-rollup] [--no-request]

Builds a fresh database with the scenario's generator (which builds the rollup as the daily job does, unless
--no-rollup drops its coverage), then books BOOKINGS distinct free (room, day, slot) units in this process,
one transaction each, as the API does (no HTTP, no server), inside a request context as a web request is
(the rollup upkeep is then deferred to after the response, timed separately; --no-request books outside one,
the upkeep before the commit). Prints the median and mean process CPU time and wall time per booking, the share
spent in the rollup's settle() before the commit, and for one cancel + commit (outside a request). CPU time,
not wall time: the shared machine's load changes wall time much more than CPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import DEFAULT_PG_SERVER, fresh_database, prepare_database, server_environment  # noqa: E402
from bench.scenarios import insert_users, load_scenario  # noqa: E402


def _targets(count: int) -> list[tuple[int, object, str]]:
    """COUNT free (room, day, unit key) from 2 days ahead, found with the search page's query (leaf rooms)."""
    import sqlalchemy as sa

    from app.bookings.availability import find_free_rooms
    from app.core.time import today_tokyo
    from app.extensions import db
    from app.facilities.models import Room

    parents = set(db.session.scalars(sa.select(Room.parent_id).where(Room.parent_id.is_not(None))))
    found_units: list[tuple[int, object, str]] = []
    day = today_tokyo() + timedelta(days=2)
    while len(found_units) < count and day < today_tokyo() + timedelta(days=90):
        for found in find_free_rooms(day):
            if found.room.id not in parents:
                found_units += [(found.room.id, day, unit.key) for unit in found.free]
        day += timedelta(days=1)
    return found_units[:count]


def main(argv: list[str] | None = None) -> int:
    """Generate, then time BOOKINGS bookings and as many cancellations in this process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="rooms_indico")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG_SERVER, default=None)
    parser.add_argument("--no-rollup", action="store_true", help="drop the rollup's coverage (no upkeep)")
    parser.add_argument("--no-request", dest="in_request", action="store_false",
                        help="book outside a request context: the rollup upkeep runs before each commit")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    workdir = Path(tempfile.mkdtemp(prefix="tsudoi-bench-cpu-"))
    try:
        with fresh_database(args.postgres, workdir) as url:
            env = server_environment(url, workdir)
            prepare_database(scenario, args.size or getattr(scenario, "DEFAULT_SIZE", 1), env)
            os.environ["DATABASE_URL"] = url
            result = _measure(url, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _measure(url: str, args) -> int:
    import sqlalchemy as sa

    from app import create_app
    from app.accounts.models import User
    from app.bookings import services
    from app.extensions import db
    from app.facilities.models import UserCategory
    from app.utilization import rollup

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    settle_times: list[float] = []
    original_settle = rollup.settle

    def timed_settle(session, **kwargs):
        started = time.process_time()
        try:
            return original_settle(session, **kwargs)
        finally:
            settle_times.append(time.process_time() - started)

    rollup.settle = timed_settle
    try:
        with app.app_context():
            insert_users([(f"bench-cpu{n}@example.jp", "resident") for n in range(args.bookings // 4 + 1)])
            if args.no_rollup:
                rollup.drop_coverage(db.session)
            elif rollup.coverage(db.session) is None:  # a scenario that does not build it
                rollup.rebuild(db.session)
            db.session.commit()
            covered = rollup.coverage(db.session)
            users = list(db.session.scalars(sa.select(User.id).where(User.email.like("bench-cpu%"))
                                            .order_by(User.id)))
            targets = _targets(args.bookings)
            db.session.commit()
            book_cpu, book_wall, booked_ids, after_cpu = [], [], [], []
            for i, (room_id, day, key) in enumerate(targets):
                settle_times.clear()
                # As a web request does (the rollup upkeep is deferred to after the response) unless --no-defer.
                with app.test_request_context("/api/v1/bookings", method="POST") if args.in_request \
                        else contextlib.nullcontext():
                    user = db.session.get(User, users[i % len(users)])
                    cpu, wall = time.process_time(), time.perf_counter()
                    booking = services.book_slots(user=user, room_id=room_id, day=day, unit_keys=[key],
                                                  attendees=5, category=UserCategory.RESIDENT, purpose="ベンチマーク")
                    db.session.commit()
                    book_cpu.append((time.process_time() - cpu, sum(settle_times)))
                    book_wall.append(time.perf_counter() - wall)
                    booked_ids.append(booking.id)
                    db.session.expire_all()
                if args.in_request:  # what the worker then does after the response has been sent
                    cpu = time.process_time()
                    rollup.settle_stale(db.session)
                    db.session.commit()
                    after_cpu.append(time.process_time() - cpu)
            cancel_cpu = []
            for booking_id in booked_ids:
                from app.bookings.models import Booking

                booking = db.session.get(Booking, booking_id)
                settle_times.clear()
                cpu = time.process_time()
                services.cancel_booking(booking, actor=db.session.get(User, booking.user_id))
                db.session.commit()
                cancel_cpu.append((time.process_time() - cpu, sum(settle_times)))
                db.session.expire_all()
            exact = _equals_rebuild(db, rollup) if covered else None
    finally:
        rollup.settle = original_settle

    def ms(values):
        return f"median {statistics.median(values) * 1000:6.2f} ms, mean {statistics.mean(values) * 1000:6.2f} ms"

    backend = "postgresql" if args.postgres else "sqlite"
    print(f"{args.scenario} on {backend}, rollup coverage {covered}, {len(book_cpu)} bookings")
    print(f"book + commit, CPU:   {ms([c for c, _ in book_cpu])}")
    print(f"  of which settle():  {ms([s for _, s in book_cpu])}")
    print(f"book + commit, wall:  {ms(book_wall)}")
    if after_cpu:
        print(f"settle after the response, CPU: {ms(after_cpu)}")
    print(f"cancel + commit, CPU: {ms([c for c, _ in cancel_cpu])}")
    print(f"  of which settle():  {ms([s for _, s in cancel_cpu])}")
    if exact is not None:
        print(f"rollup equals a rebuild afterwards: {exact}")
    return 0 if exact in (None, True) else 1


def _equals_rebuild(db, rollup) -> bool:
    import sqlalchemy as sa

    from app.utilization.models import UtilizationBookingRollup, UtilizationUnitRollup

    def snapshot():
        return [sorted(tuple(row) for row in db.session.execute(sa.select(model.__table__)))
                for model in (UtilizationUnitRollup, UtilizationBookingRollup)]

    first, end = rollup.coverage(db.session)
    maintained = snapshot()
    rollup.rebuild(db.session, first=first, end=end)
    same = snapshot() == maintained
    db.session.rollback()
    return same


if __name__ == "__main__":
    sys.exit(main())
