"""Faults for the control runs of the race tests: the production app with one guard taken out by the test.

A race test first shows that the real server keeps an invariant under concurrent requests, then runs the same race
against one of these (gunicorn 'tests.faults:NAME()') to show the race does happen without the guard, so the test
would catch its loss. The faults live here, never in app/: production code has no switch that turns a guard off.
Race tests that call the services in threads (at_once_in_app) take a guard out with without_lock() and widen the
window between a rule's check and its write with widened(), in the guarded run and the control alike.
"""

from __future__ import annotations

import functools
import time

import sqlalchemy as sa

from app import create_app
from app.bookings import services as booking_services
from app.core import locks
from app.core.db import write_intent
from app.events import registrations
from app.events.models import EventOccurrence
from app.extensions import db

UNGUARDED_DELAY_S = 0.05  # between the count and the write: wide enough for the racers to interleave


def without_booking_claims():
    """Bookings write no claim rows: nothing refuses a second booking of the same cells."""
    booking_services._claim_cells = lambda booking, q, day: None
    return create_app()


def _count_then_write(occurrence_id: int) -> tuple[EventOccurrence, int]:
    """The naive check-then-write: count in a transaction of its own, then write in another. Nothing holds the
    seats in between, which is exactly the race the occurrence lock prevents."""
    db.session.rollback()  # nothing written yet; end the request's write transaction so the count is not locked
    token = write_intent.set(False)
    try:
        count = registrations.confirmed_counts([occurrence_id]).get(occurrence_id, 0)
        db.session.rollback()
    finally:
        write_intent.reset(token)
    time.sleep(UNGUARDED_DELAY_S)
    return db.session.get(EventOccurrence, occurrence_id), count


def without_seat_lock():
    """Registrations count the seats without holding the occurrence: concurrent registrations overfill it."""
    registrations._hold_seats = _count_then_write
    registrations._lock_occurrence = lambda occurrence_id: db.session.get(EventOccurrence, occurrence_id)
    return create_app()


def without_lock(monkeypatch, kind: str) -> None:
    """The advisory locks whose key begins with KIND (app/core/locks.py, e.g. "facility-calendar") are not taken;
    every other lock still is."""
    real, real_expression = locks.advisory_lock, locks.lock_expression

    def all_but_kind(*key, shared: bool = False) -> None:
        if key[0] != kind:
            real(*key, shared=shared)

    def all_expressions_but_kind(*key, shared: bool = False):
        return real_expression(*key, shared=shared) if key[0] != kind else sa.null()

    monkeypatch.setattr(locks, "advisory_lock", all_but_kind)
    monkeypatch.setattr(locks, "lock_expression", all_expressions_but_kind)


def widened(monkeypatch, target, name: str, delay: float = 0.2) -> None:
    """TARGET.NAME (a rule's check) sleeps DELAY seconds after it returns, so that racers released together are
    all between their check and their write at the same time; with the lock the second one waits before its check,
    without it both write."""
    real = getattr(target, name)

    @functools.wraps(real)
    def slow(*args, **kwargs):
        result = real(*args, **kwargs)
        time.sleep(delay)
        return result

    monkeypatch.setattr(target, name, slow)
