"""Benchmark of the lottery draw through the database: `lottery_services.run_draw` for ENTRIES entries over
3,000 slots of one facility (load the entries, draw, store won_rank and the frozen inputs, queue every
entrant's result e-mail), then the commit. This is what the `lottery.draw-due` job does once per period.

Usage: python bench/lottery_draw_db.py [--entries 10000] [--postgres URL]

Builds a fresh database (SQLite file in a temporary directory, or a new database on the PostgreSQL server
URL), a centre with 32 extra rooms (3,000 lottery slots in a month), ENTRIES users each with one entry of up
to 5 preferences (skewed demand, fixed seed), inserted in bulk; only run_draw and the commit are timed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server URL (a database is created)")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from tests import factories
    from tests.databases import create_pg_database, drop_pg_database

    tmp = tempfile.TemporaryDirectory()
    name = None
    if args.postgres:
        url, name = create_pg_database(args.postgres)
    else:
        url = f"sqlite:///{tmp.name}/draw.sqlite3"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_STORAGE_URI="memory://")
    try:
        with app.app_context():
            upgrade(revision="heads")
        factories.APP = app
        from app.accounts.models import User
        from app.facilities.models import Room
        from app.lottery import services
        from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryPreference
        from tests.facilities.factories import make_center

        center = make_center()
        with app.app_context():
            period = LotteryPeriod(facility_id=center.facility_id, start_date=date(2027, 9, 1),
                                   end_date=date(2027, 10, 1))
            db.session.add(period)
            db.session.commit()
            services.commit_seed(period, entries_per_group=1, max_preferences=5)
            kind = db.session.get(Room, center.meeting_id).kind
            db.session.add_all(Room(facility_id=center.facility_id, name_ja=f"室{i}", capacity=10, kind=kind,
                                    sort_order=100 + i) for i in range(32))
            db.session.commit()
            slots = sorted(services.lottery_slots(period))[:3000]
            db.session.execute(sa.insert(User), [
                {"email": f"u{i}@example.jp", "password_hash": "x", "display_name": f"u{i}"}
                for i in range(args.entries)])
            user_ids = list(db.session.scalars(sa.select(User.id).order_by(User.id.desc()).limit(args.entries)))
            rng = random.Random(1)
            db.session.execute(sa.insert(LotteryEntry), [
                {"period_id": period.id, "user_id": u, "group_key": f"user:{u}", "tier": 1 + rng.randrange(3)}
                for u in user_ids])
            weights = [1.0 / (1 + i % 50) for i in range(len(slots))]
            db.session.execute(sa.insert(LotteryPreference), [
                {"entry_id": e, "rank": rank, "room_id": s.room_id, "day": s.day, "slot_code": s.slot_code}
                for e in db.session.scalars(sa.select(LotteryEntry.id))
                for rank, s in enumerate(dict.fromkeys(rng.choices(slots, weights, k=5)), 1)])
            db.session.commit()

            started = time.perf_counter()
            result = services.run_draw(db.session.get(LotteryPeriod, period.id), available=slots)
            drawn = time.perf_counter()
            db.session.commit()
            done = time.perf_counter()
            dialect = db.engine.dialect.name
        print(f"{dialect}: {args.entries} entries over {len(slots)} slots, {len(result.awards)} won: "
              f"run_draw {drawn - started:.2f} s, commit {done - drawn:.2f} s")
    finally:
        with app.app_context():
            db.engine.dispose()
        if name:
            drop_pg_database(args.postgres, name)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
