"""Benchmark of the utilization overview: its time as a ratio to one raw SQL GROUP BY over the same bookings.

Usage: python bench/utilization_overview.py [--years 5] [--facilities 12] [--repeat 3] [--postgres [URL]]

Builds a fresh database (SQLite file, or a new PostgreSQL database that is dropped afterwards), migrates it,
runs the `utilization` scenario's generator (12 facilities x 5 rooms = 60 rooms, YEARS fiscal years, about
65 % of the slots booked), builds the utilization rollup as `flask utilization rebuild` does (the generator
bulk-inserts, which the booking services' flush hook does not see), runs ANALYZE, then times in one process,
best of REPEAT:

- the overview's data (app.dashboards.queries.overview for ward staff: this fiscal year and the last), counting
  its SQL statements; it reads the rollup;
- the same overview computed live from the bookings (rollup coverage dropped), for comparison;
- one raw `GROUP BY facility` over the same bookings and items of the same two fiscal years.

Prints the times and the ratio overview / raw GROUP BY. Goal (issue 6): at most 3x, with at most 10 SQL
statements whatever the data size (14 since issue 17: the current year's days so far and bookings ahead apart,
the plan's targets, first bookings and room rule). Exit status 1 when the ratio goal is missed, 0 when met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_RATIO = 3.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

RAW_GROUP_BY = """
SELECT b.facility_id, count(*) AS booked
FROM bookings b JOIN booking_items i ON i.booking_id = b.id
WHERE b.state IN ('confirmed', 'tentative') AND b.day >= :start AND b.day < :end
GROUP BY b.facility_id
"""


def _best(func, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(url: str, *, years: int, facilities: int, repeat: int) -> dict:
    """Generate, then time the overview and the raw GROUP BY; returns the figures."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.accounts.models import User
    from app.core.time import FiscalYear
    from app.dashboards import queries
    from app.extensions import db
    from app.utilization import rollup
    from bench.scenarios import utilization as scenario

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    try:
        with app.app_context():
            upgrade(revision="heads")
            started = time.perf_counter()
            scenario.generate(app, years, facilities=facilities, rollup=False)  # the rebuild is timed below
            db.session.commit()
            generated = time.perf_counter() - started
            started = time.perf_counter()
            rollup.rebuild(db.session)
            db.session.commit()
            rebuilt = time.perf_counter() - started
            db.session.execute(sa.text("ANALYZE"))  # fresh bulk data: give the planner its statistics
            db.session.commit()
        with app.test_request_context():
            user = db.session.scalar(sa.select(User).where(User.email == scenario.WARD_STAFF))
            _start, _end, year = scenario._years(years)
            statements = []
            engine = db.engine

            def count(*args, **kwargs):
                statements.append(1)

            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                queries.overview(user, year)
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
            overview_time, data = _best(lambda: queries.overview(user, year), repeat)
            covered = rollup.coverage(db.session)
            rollup.drop_coverage(db.session)  # not committed: rolled back below
            live_time, live = _best(lambda: queries.overview(user, year), 1)
            db.session.rollback()
            assert rollup.coverage(db.session) == covered
            assert (live.center, live.koryu) == (data.center, data.koryu), "rollup != live"
            raw = sa.text(RAW_GROUP_BY).bindparams(
                sa.bindparam("start", FiscalYear(year - 1).first_day, sa.Date),
                sa.bindparam("end", FiscalYear(year).end_day, sa.Date),
            )
            raw_time, _rows = _best(lambda: db.session.execute(raw).all(), repeat)
            bookings = db.session.scalar(sa.text("SELECT count(*) FROM bookings"))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return {"rooms": facilities * scenario.ROOMS_PER_FACILITY, "years": years, "bookings": bookings,
            "generated": generated, "rebuilt": rebuilt, "live": live_time, "overview": overview_time,
            "raw": raw_time, "statements": len(statements), "center_rate": data.center.value}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; 1 when the ratio misses the goal."""
    from bench.run import fresh_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--facilities", type=int, default=12, help="5 rooms each (default 12 = 60 rooms)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, help=f"server (default {DEFAULT_PG})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir, fresh_database(args.postgres, Path(workdir)) as url:
        r = measure(url, years=args.years, facilities=args.facilities, repeat=args.repeat)
    ratio = r["overview"] / r["raw"] if r["raw"] else float("inf")
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}; {r['rooms']} rooms x {r['years']} fiscal years, "
          f"{r['bookings']:,} bookings (generated in {r['generated']:.1f} s)")
    print(f"rollup rebuilt (flask utilization rebuild) in {r['rebuilt']:.1f} s")
    print(f"overview (2 fiscal years, {r['statements']} SQL statements): {r['overview']:.3f} s "
          f"(区民センター利用率 {r['center_rate']}%)")
    print(f"the same overview computed live from the bookings (no rollup): {r['live']:.3f} s")
    print(f"raw GROUP BY over the same bookings: {r['raw']:.3f} s")
    met = ratio <= GOAL_RATIO
    verdict = "met" if met else "missed"
    print(f"ratio overview / raw GROUP BY: {ratio:.1f}x (goal: at most {GOAL_RATIO:.0f}x: {verdict})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
