"""app.core.locks: the advisory lock taken in a query names the same lock as advisory_lock() does."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.core import locks
from app.extensions import db
from app.facilities.models import Room
from tests.facilities.factories import make_center


def test_a_lock_expression_uses_the_column_not_its_name():
    sql = str(locks.lock_expression("facility-calendar", Room.facility_id, shared=True)
              .compile(dialect=postgresql.dialect()))
    assert "rooms.facility_id" in sql and "pg_advisory_xact_lock_shared" in sql


def test_a_lock_expression_takes_the_lock_advisory_lock_names(app_ctx):
    if db.engine.dialect.name != "postgresql":
        return  # no advisory locks on SQLite
    center = make_center()
    db.session.execute(sa.select(locks.lock_expression("facility-calendar", Room.facility_id, shared=True))
                       .where(Room.id == center.meeting_id))
    held = db.session.execute(sa.text(
        "SELECT classid::bigint, objid::bigint, mode FROM pg_locks"
        " WHERE locktype = 'advisory' AND objsubid = 1 AND pid = pg_backend_pid()")).all()
    key = db.session.scalar(sa.select(sa.func.hashtextextended(
        locks.lock_name("facility-calendar", center.facility_id), 0)))
    db.session.rollback()
    assert held == [((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF, "ShareLock")]
