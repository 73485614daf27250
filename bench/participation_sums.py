"""Benchmark of recomputing every indicator of the plan for one fiscal year, as a ratio to one raw SQL
aggregate over the same rows.

Usage: python bench/participation_sums.py [--reports 100000] [--repeat 3] [--postgres [URL]]

Builds a fresh database (SQLite file, or a new PostgreSQL database that is dropped afterwards), migrates it,
inserts REPORTS ended occurrences of FY2025 (eighty series over every event category, so some map to no
indicator) each with an approved report, plus a tenth as many occurrences in FY2024 and a tenth whose
latest revision is still waiting (so the filters have something to skip), runs ANALYZE, then times in one
process, best of REPEAT:

- app.indicators.queries.year_values(every indicator, [2025]): every computed indicator (participant sums and
  partner counts through the staff-editable mapping rules, as loaded by default from the catalog; bookings;
  the registry) and the entered ones, counting its SQL statements;
- one raw `GROUP BY category` summing the latest approved totals over the same occurrences;
- year_values again with the data unchanged, served by app.indicators.cache (shown, not part of the ratio).
The participant sums must agree with the raw aggregate summed over each indicator's mapped categories.

Prints both times and the ratio (goal: at most 3x; exit status 1 when missed, 0 when met).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_RATIO = 3.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
YEAR = 2025
CHUNK = 5_000

RAW_GROUP_BY = """
SELECT s.category, sum(r.total) AS participants, count(*) AS reports
FROM event_occurrences o
JOIN event_series s ON s.id = o.series_id
JOIN participation_reports r ON r.occurrence_id = o.id AND r.is_latest AND r.status = 'approved'
WHERE o.starts_at >= :start AND o.starts_at < :end
GROUP BY s.category
"""


def _best(func, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return min(times), result


def generate(reports: int, *, seed: int = 5) -> None:
    """Insert the organization, series, occurrences and reports (in the current app context)."""
    import sqlalchemy as sa

    from app.events.models import EventCategory, EventOccurrence, EventSeries
    from app.extensions import db
    from app.organizations.models import Organization
    from app.participation.models import ParticipationReport

    rng = random.Random(seed)
    org_id = db.session.execute(sa.insert(Organization).values(
        kind="neighborhood_association", district="shiba", name_ja="ベンチ町会", status="verified",
    ).returning(Organization.id)).scalar_one()
    categories = list(EventCategory)
    series_rows = [dict(organization_id=org_id, title_ja=f"ベンチ {n}", category=categories[n % len(categories)],
                        district="shiba", start_time=datetime(2000, 1, 1, 10).time(),
                        end_time=datetime(2000, 1, 1, 12).time(), status="published",
                        published_at=datetime(2025, 1, 1, tzinfo=UTC)) for n in range(80)]
    db.session.execute(sa.insert(EventSeries), series_rows)
    series_ids = list(db.session.scalars(sa.select(EventSeries.id)))
    first = datetime(2025, 4, 1, tzinfo=UTC) - timedelta(hours=9)  # 2025-04-01 00:00 JST
    extra = reports // 10
    plans = ([(first + timedelta(minutes=rng.randrange(365 * 24 * 60)), "approved") for _ in range(reports)]
             + [(first - timedelta(minutes=1 + rng.randrange(365 * 24 * 60)), "approved") for _ in range(extra)]
             + [(first + timedelta(minutes=rng.randrange(365 * 24 * 60)), "submitted") for _ in range(extra)])
    for start in range(0, len(plans), CHUNK):
        chunk = plans[start:start + CHUNK]
        before = _max_report_occurrence(db)  # every earlier occurrence has its report
        # The sequence column carries the row's index in its chunk, so reports find their occurrence.
        rows = [dict(series_id=rng.choice(series_ids), starts_at=at, ends_at=at + timedelta(hours=2), capacity=None,
                     status="scheduled", sequence=n, created_at=at, updated_at=at)
                for n, (at, _status) in enumerate(chunk)]
        db.session.execute(sa.insert(EventOccurrence), rows)
        ids = db.session.execute(sa.select(EventOccurrence.id, EventOccurrence.sequence)
                                 .where(EventOccurrence.id > before).order_by(EventOccurrence.id)).all()
        report_rows = [dict(occurrence_id=occurrence_id, revision=1, is_latest=True, total=rng.randint(0, 400),
                            counting_method="head_count", status=chunk[sequence][1],
                            submitted_at=chunk[sequence][0] + timedelta(days=1))
                       for occurrence_id, sequence in ids]
        db.session.execute(sa.insert(ParticipationReport), report_rows)
        db.session.commit()


def _max_report_occurrence(db) -> int:
    import sqlalchemy as sa

    from app.participation.models import ParticipationReport

    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(ParticipationReport.occurrence_id), 0)))


def measure(url: str, *, reports: int, repeat: int) -> dict:
    """Generate, then time participant_sums and the raw GROUP BY; returns the figures."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.core.time import FiscalYear
    from app.extensions import db
    from app.indicators import queries, services
    from app.indicators.models import MatchKind, SourceKind

    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        started = time.perf_counter()
        generate(reports)
        services.load_catalog()  # the 40 indicators with their default mapping rules
        db.session.commit()
        generated = time.perf_counter() - started
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        year = FiscalYear(YEAR)
        now = year.end_at + timedelta(days=30)
        statements = []

        def count(_conn, _cursor, statement, *args, **kwargs):
            if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is not a query
                statements.append(statement)

        indicators = list(db.session.scalars(queries._query()))
        db.session.expire_on_commit = False
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            # cached=False: every run recomputes (the cache would answer the repeats).
            sums_time, values = _best(lambda: queries.year_values(indicators, [YEAR], now=now, cached=False), repeat)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        queries.year_values(indicators, [YEAR], now=now)  # fills the cache
        cached_time, _cached = _best(lambda: queries.year_values(indicators, [YEAR], now=now), repeat)
        raw_time, raw = _best(lambda: db.session.execute(sa.text(RAW_GROUP_BY),
                                                         {"start": year.start_at, "end": year.end_at}).all(), repeat)
        by_category = {row[0]: int(row[1]) for row in raw}
        agree, computed_total = True, 0
        for indicator in indicators:
            if indicator.source_kind != SourceKind.PARTICIPANT_SUM:
                continue
            categories = {r.value for r in indicator.rules if r.match == MatchKind.CATEGORY}
            value = values[indicator.id][YEAR].value or 0
            computed_total += int(value)
            agree = agree and int(value) == sum(by_category.get(c, 0) for c in categories)
        computed = sum(1 for i in indicators if i.source_kind != SourceKind.MANUAL)
    return {"generated": generated, "sums_time": sums_time, "raw_time": raw_time, "cached_time": cached_time,
            "indicators": len(indicators),
            "computed": computed, "statements": len(statements) // repeat, "agree": agree, "total": computed_total}


def _database(postgres: str | None):
    """A context manager yielding a fresh database URL, removed afterwards."""
    import contextlib

    @contextlib.contextmanager
    def sqlite():
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'participation.sqlite3'}"

    @contextlib.contextmanager
    def pg():
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        server = make_url(postgres).set(drivername="postgresql+psycopg")
        name = f"tsudoi_bench_part_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    return pg() if postgres else sqlite()


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print times, statement count and the ratio against the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None)
    args = parser.parse_args(argv)
    with _database(args.postgres) as url:
        figures = measure(url, reports=args.reports, repeat=args.repeat)
    ratio = figures["sums_time"] / figures["raw_time"] if figures["raw_time"] else float("inf")
    met = ratio <= GOAL_RATIO
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}; {args.reports:,} approved reports in FY{YEAR} "
          f"(generated in {figures['generated']:.1f} s)")
    print(f"every indicator ({figures['indicators']}, {figures['computed']} computed): "
          f"{figures['sums_time'] * 1000:.1f} ms ({figures['statements']} SQL statements), "
          f"participants {figures['total']:,}, agrees with raw SQL: {'yes' if figures['agree'] else 'NO'}")
    print(f"raw GROUP BY: {figures['raw_time'] * 1000:.1f} ms")
    print(f"every indicator again, unchanged data (app.indicators.cache: one signature statement): "
          f"{figures['cached_time'] * 1000:.1f} ms")
    print(f"ratio every indicator / raw GROUP BY: {ratio:.2f}x (goal: at most {GOAL_RATIO:g}x: "
          f"{'met' if met else 'missed'})")
    return 0 if met and figures["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
