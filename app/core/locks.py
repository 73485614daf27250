"""Advisory locks for check-then-write rules that no unique constraint can hold.

A rule such as "no booking inside a closure" or "at most N active bookings a month" is checked by reading rows and
then written in the same transaction. On SQLite a writing transaction begins with BEGIN IMMEDIATE (core/db.py), so
writers run one at a time and the check still holds at the write. On PostgreSQL two READ COMMITTED transactions
both pass the check and both write. Every writer of such a rule therefore first takes the same transaction-scoped
advisory lock, named by what the rule is about (e.g. ("facility-calendar", facility_id)); the second writer waits
at the lock until the first commits or rolls back, and its check (a fresh statement, a fresh snapshot) then sees
the first one's rows. docs/architecture.md, "Invariants under concurrency", lists the rules, their keys and tests.

The lock is taken before the check, by every competing writer, always in the same order of kinds (the facility
calendar, then the monthly limit) so that two writers never wait on each other. SHARED: writers that do not
compete with each other (two bookings against a closure) take it shared; the one that competes with all of them
(the closure) takes it exclusive. The key is hashed to PostgreSQL's one-bigint lock space, apart from the two-int
keys of the utilization rollup (app/utilization/rollup.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db

_EXCLUSIVE = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_SHARED = sa.text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:key, 0))")


def lock_name(*key) -> str:
    """The text a KEY is hashed from: its parts joined by ':' ("facility-calendar:12")."""
    return ":".join(str(part) for part in key)


def enabled() -> bool:
    """Whether advisory locks are taken: on PostgreSQL. A caller that needs a query to name its key asks first, so
    that SQLite runs no extra statement."""
    return db.session.get_bind().dialect.name == "postgresql"


def advisory_lock(*key, shared: bool = False) -> None:
    """Hold the lock named KEY until the end of the session's transaction (PostgreSQL); nothing on SQLite, whose
    writing transactions are serialised by BEGIN IMMEDIATE already."""
    if not enabled():
        return
    db.session.execute(_SHARED if shared else _EXCLUSIVE, {"key": lock_name(*key)})


def lock_expression(*key, shared: bool = False) -> sa.ColumnElement:
    """The SQL that takes the lock named KEY (PostgreSQL), whose parts may be columns: selected in the query that
    finds the key, it takes the lock in the same statement (the booking path counts its statements). The name is
    the one lock_name() gives; several in one select list are taken from left to right."""
    parts = [sa.literal(str(part), sa.Text) if isinstance(part, str | int) else part for part in key]
    take = sa.func.pg_advisory_xact_lock_shared if shared else sa.func.pg_advisory_xact_lock
    return take(sa.func.hashtextextended(sa.func.concat_ws(":", *parts), 0))
