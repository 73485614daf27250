"""Helpers for concurrency tests: calls released at the same instant by a barrier, and forcing one interleaving
of two transactions instead of hoping a race happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

_LOCK_WAITERS = sa.text("SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()")


def at_once(calls: Sequence[Callable[[], Any]], *, app=None, timeout: float = 120.0) -> list[Any]:
    """Run each of CALLS in a thread of its own, all released at the same instant by a barrier; with APP, each
    thread pushes an app context (its own database session) before the barrier.

    Returns, in the order of CALLS, what each call returned or the exception it raised (a thread still running
    after TIMEOUT seconds counts as a TimeoutError)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [TimeoutError(f"still running after {timeout} s")] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            if app is None:
                barrier.wait(timeout=timeout)
                outcomes[index] = call()
            else:
                with app.app_context():
                    barrier.wait(timeout=timeout)
                    outcomes[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


def at_once_in_app(app, calls: Sequence[Callable[[], Any]], *, timeout: float = 120.0) -> tuple[list, list]:
    """at_once() with an app context per thread: (what the calls that returned returned, in the order of CALLS;
    the exceptions the others raised)."""
    outcomes = at_once(calls, app=app, timeout=timeout)
    return ([o for o in outcomes if not isinstance(o, BaseException)],
            [o for o in outcomes if isinstance(o, BaseException)])


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
