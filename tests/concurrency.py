"""Helpers for tests that force one interleaving of two transactions instead of hoping a race happens."""

from __future__ import annotations

import time

import sqlalchemy as sa

_LOCK_WAITERS = sa.text("SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()")


def wait_for_a_lock_waiter(engine: sa.Engine, *, timeout: float = 30.0) -> bool:
    """PostgreSQL: wait until a session of this database waits on a lock (a row, a key or an advisory lock).
    Returns False if none did within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    with engine.connect() as probe:
        while time.monotonic() < deadline:
            if probe.scalar(_LOCK_WAITERS):
                return True
            probe.rollback()  # a fresh snapshot of pg_stat_activity at the next poll
            time.sleep(0.02)
    return False
