"""Factories for lottery flow tests: a configured period (tiers, windows, dates) opened through the service."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app.core.time import tokyo_to_utc
from app.extensions import db
from app.facilities.models import Facility
from app.lottery import periods
from app.lottery.models import ANY_OTHER, INDIVIDUAL
from app.organizations.models import OrganizationKind
from tests.factories import app_context, make_user

NEIGHBORHOOD = OrganizationKind.NEIGHBORHOOD_ASSOCIATION.value


def at(day: date, hour: int = 12) -> datetime:
    """An aware instant: HOUR o'clock in Tokyo on DAY."""
    return tokyo_to_utc(day, time(hour, 0))


def usual_tiers(first: date, *, closes: date) -> list[periods.TierSpec]:
    """町会 from FIRST, other groups a month later, individuals two months later; all close on CLOSES."""
    return [
        periods.TierSpec([NEIGHBORHOOD, OrganizationKind.NPO.value], first, closes),
        periods.TierSpec([ANY_OTHER], first + timedelta(days=30), closes),
        periods.TierSpec([INDIVIDUAL], first + timedelta(days=60), closes),
    ]


def spec_for(month: date, *, tiers_from: date, closes: date, draw: date, confirm: date, leftovers: datetime,
             room_id: int | None = None, k: int = 3, entries: int = 1, individuals: bool = True,
             tiers: list[periods.TierSpec] | None = None) -> periods.PeriodSpec:
    return periods.PeriodSpec(room_id=room_id, month=month, draw_date=draw, confirm_until_on=confirm,
                           leftovers_open_at=leftovers, entries_per_group=entries, max_preferences=k,
                           allow_individuals=individuals, tiers=tiers or usual_tiers(tiers_from, closes=closes))


def open_period(facility_id: int, spec: periods.PeriodSpec, *, actor_id: int | None = None) -> int:
    """A committed period opened by staff (a made staff user when ACTOR_ID is None); returns its id."""
    from app.accounts.models import User
    from app.core.permissions import Role

    actor_id = actor_id or make_user(role=Role.WARD_STAFF).id
    with app_context():
        period = periods.open_period(db.session.get(Facility, facility_id), spec, actor=db.session.get(User, actor_id),
                                  now=datetime.now().astimezone())
        db.session.commit()
        return period.id
