"""Lottery periods under concurrency (issue #20): two staff open a period over the same rooms and month at the
same instant (released by a barrier, each in its own session). At most one is stored: on PostgreSQL by the
advisory lock ("lottery-periods", facility) of lottery.periods._hold_periods, on SQLite by BEGIN IMMEDIATE. The
overlap check is widened (tests/faults.py:widened) so that both are between check and write in every round; the
control (PostgreSQL only) takes the lock out and must store two periods over the same slots.

A period against a first-come booking of its days is no race to guard: a period may be opened over days already
booked (the draw leaves their slots out), so a booking committed while the period is opened is what booking first
would have given (see _hold_periods)."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.errors import DomainError
from app.core.permissions import Role
from app.extensions import db
from app.facilities.models import Facility
from app.lottery import periods
from app.lottery.models import LotteryPeriod
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center
from tests.factories import make_user
from tests.faults import widened, without_lock
from tests.lottery.factories import at, spec_for

ROUNDS = 5
MONTH = date(2027, 8, 1)


def _open(facility_id: int, staff_id: int, room_id: int | None) -> str:
    spec = spec_for(MONTH, tiers_from=date(2027, 4, 1), closes=date(2027, 6, 10), draw=date(2027, 6, 20),
                    confirm=date(2027, 6, 30), leftovers=at(date(2027, 7, 5), 9), room_id=room_id)
    try:
        periods.open_period(db.session.get(Facility, facility_id), spec, actor=db.session.get(User, staff_id))
        db.session.commit()
        return "ok"
    except DomainError:
        db.session.rollback()
        return "refused"
    finally:
        db.session.remove()


def _rounds(app) -> tuple[int, list[list[str]]]:
    """ROUNDS facilities; in each, two staff open at once a period for the whole facility and one for the hall's
    half A, same month. Returns how many facilities ended with two periods, and the outcomes."""
    staff = make_user(role=Role.WARD_STAFF)
    broken, outcomes = 0, []
    for _ in range(ROUNDS):
        center = make_center()
        done, errors = at_once_in_app(app, [partial(_open, center.facility_id, staff.id, None),
                                            partial(_open, center.facility_id, staff.id, center.hall_a_id)],
                                      timeout=60)
        assert not errors, errors
        outcomes.append(done)
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count(LotteryPeriod.id))
                                       .where(LotteryPeriod.facility_id == center.facility_id))
            db.session.remove()
        broken += stored > 1
    return broken, outcomes


def test_two_overlapping_periods_opened_at_once_store_one(app, monkeypatch):
    widened(monkeypatch, periods, "_check_spec")
    broken, outcomes = _rounds(app)
    assert broken == 0, outcomes
    assert all(sorted(o) == ["ok", "refused"] for o in outcomes), outcomes


def test_control_without_the_period_lock_two_periods_draw_the_same_slots(app, monkeypatch):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises the writers; there is no lock to take out")
    widened(monkeypatch, periods, "_check_spec")
    without_lock(monkeypatch, "lottery-periods")
    broken, outcomes = _rounds(app)
    print(f"\ncontrol lottery periods: {broken}/{ROUNDS} rounds broken")  # noqa: T201 - the measured rate
    assert broken >= 1, outcomes
