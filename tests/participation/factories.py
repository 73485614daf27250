"""Factories for check-in and participation tests: an organized occurrence (moved in time), registrations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core.time import utcnow
from app.events import tickets
from app.events.models import EventOccurrence, Registration, RegistrationStatus
from app.extensions import db
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, make_user
from tests.organizations.factories import make_organization


@dataclass
class Organized:
    """Who and what a door test needs."""

    officer_email: str
    officer_id: int
    organization_id: int
    series_id: int
    occurrence_id: int


def make_organized(*, starts_at: datetime | None = None, hours: int = 2, verified: bool = True,
                   category: str = "safety", editor: bool = False) -> Organized:
    """A group (the user is its officer, or editor), a published one-off event, its occurrence at STARTS_AT."""
    user = make_user()
    roles = {"editor_id": user.id} if editor else {"officer_id": user.id}
    organization = make_organization(verified=verified, **roles)
    series = make_series(organization_id=organization.id, actor_id=user.id, category=category)
    occurrence_id = occurrence_ids(series.id)[0]
    if starts_at is not None:
        move_occurrence(occurrence_id, starts_at, hours=hours)
    return Organized(user.email, user.id, organization.id, series.id, occurrence_id)


def move_occurrence(occurrence_id: int, starts_at: datetime, *, hours: int = 2) -> None:
    """Set an occurrence's time (to make it past, or put it on a fiscal-year boundary)."""
    with app_context():
        occurrence = db.session.get(EventOccurrence, occurrence_id)
        occurrence.starts_at = starts_at
        occurrence.ends_at = starts_at + timedelta(hours=hours)
        db.session.commit()


def today() -> datetime:
    """A start time on today's Tokyo day (now, to the minute): check-in at the door is open only on that day."""
    return utcnow().replace(second=0, microsecond=0)


def ended(hours_ago: int = 3) -> datetime:
    """A start time whose two-hour occurrence ended an hour before now (by default)."""
    return utcnow() - timedelta(hours=hours_ago)


def make_report(org: Organized, total: int, *, approve: bool = True, amend_to: int | None = None) -> None:
    """ORG's officer reports TOTAL participants (head count) and the ward staff approves it (unless not APPROVE);
    with AMEND_TO, the approved report is then amended to that total. Needs a ward staff user."""
    from app.accounts.models import User
    from app.core.permissions import Role
    from app.participation import reports

    with app_context():
        occurrence = db.session.get(EventOccurrence, org.occurrence_id)
        officer = db.session.get(User, org.officer_id)
        staff = db.session.scalar(sa.select(User).where(User.role == Role.WARD_STAFF))
        report = reports.submit_report(occurrence=occurrence, actor=officer,
                                       data=reports.ReportInput(total=total, counting_method="head_count"))
        if amend_to is not None:
            reports.approve_report(report=report, staff=staff)
            report = reports.submit_report(occurrence=occurrence, actor=officer, data=reports.ReportInput(
                total=amend_to, counting_method="head_count"))
        if approve:
            reports.approve_report(report=report, staff=staff)
        db.session.commit()


def make_registration(occurrence_id: int, *, user_id: int | None = None,
                      status: RegistrationStatus = RegistrationStatus.CONFIRMED) -> tuple[int, int, str]:
    """A registration of a new user (or USER_ID): (registration id, user id, e-mail)."""
    if user_id is None:
        user = make_user()
        user_id, email = user.id, user.email
    else:
        email = ""
    with app_context():
        registration = Registration(occurrence_id=occurrence_id, user_id=user_id, status=status)
        db.session.add(registration)
        db.session.flush()
        if status == RegistrationStatus.CONFIRMED:
            tickets.ensure_code(registration)  # as the registration service does on confirmation
        db.session.commit()
        return registration.id, user_id, email
