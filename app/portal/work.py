"""What waits for each role: the counts and lists behind the header's menus, the home page and the workspaces.

Every number here is defined once and read by the menus, the home page and the workspace pages alike, so a count
beside a link is the length of the list the link opens. Each function is a fixed number of queries whatever the
data (no query per group or facility), and the per-request results are kept on `g`: the header asks on every page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, g

from app.bookings.models import ACTIVE_STATES, Booking, BookingState
from app.core.permissions import Role, has_role
from app.core.time import to_tokyo, today_tokyo, tokyo_to_utc, utcnow
from app.events.models import EventOccurrence, EventSeries, EventStatus, OccurrenceStatus, Registration
from app.events.registrations import my_registrations
from app.extensions import db
from app.facilities.models import Facility, FacilityStaff, Room
from app.lottery.entries import award_state, entries_for
from app.lottery.models import LotteryPeriod, LotteryTier
from app.organizations.models import Membership, MembershipRole, Organization, VerificationStatus
from app.participation.models import ParticipationReport, ReportStatus
from app.participation.reports import ended_clause

# How many of a group's next occurrences its workspace lists (with their registrants).
UPCOMING = 3
# A 仮予約 whose payment deadline falls within this many days is "near its deadline" on the desk's list.
TENTATIVE_DEADLINE_DAYS = 3


def _cached(key: str, make: Callable):
    """MAKE() once per request (the header, the page and its parts ask for the same numbers)."""
    store = g.setdefault("_portal_work", {})
    if key not in store:
        store[key] = make()
    return store[key]


# ---------------------------------------------------------------- groups (団体の管理)


@dataclass
class GroupWork:
    """One group the user runs (officer) or writes events for (editor), and what waits there."""

    organization: Organization
    role: MembershipRole
    today: list[EventOccurrence] = field(default_factory=list)  # occurrences held today: the door check-in
    upcoming: list[EventOccurrence] = field(default_factory=list)  # the next UPCOMING after today
    reports_due: int = 0  # ended occurrences whose report is missing or was returned
    drafts: int = 0  # event series not yet submitted (or returned by staff)

    @property
    def is_officer(self) -> bool:
        return self.role == MembershipRole.OFFICER


def _due_clause(now: datetime):
    """Ended, held occurrences of published events whose latest report is missing or returned: the officers' to-do.
    (A report waiting for staff is with staff, not due; an approved one is done.)"""
    latest = sa.orm.aliased(ParticipationReport)
    return sa.and_(
        ended_clause(now),
        ~sa.exists().where(latest.occurrence_id == EventOccurrence.id, latest.is_latest.is_(True),
                           latest.status != ReportStatus.RETURNED),
    )


def group_work(user) -> list[GroupWork]:
    """The groups USER is an officer or editor of, by name, with today's and the next occurrences and the counts:
    3 queries."""
    if not user.is_authenticated:
        return []

    def make() -> list[GroupWork]:
        rows = db.session.execute(
            sa.select(Organization, Membership.role).join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user.id,
                   Membership.role.in_((MembershipRole.OFFICER, MembershipRole.EDITOR)))
            .order_by(Organization.name_ja, Organization.id)).all()
        work = {org.id: GroupWork(org, role) for org, role in rows}
        if not work:
            return []
        now = utcnow()
        today = today_tokyo()
        start, end = tokyo_to_utc(today, time(0)), tokyo_to_utc(today + timedelta(days=1), time(0))
        for occurrence in db.session.scalars(
                sa.select(EventOccurrence).join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                .where(EventSeries.organization_id.in_(work), EventSeries.status == EventStatus.PUBLISHED,
                       EventOccurrence.status == OccurrenceStatus.SCHEDULED, EventOccurrence.ends_at > start)
                .options(sa.orm.joinedload(EventOccurrence.series))
                .order_by(EventOccurrence.starts_at, EventOccurrence.id).limit(UPCOMING * 20 + 50)):
            group = work[occurrence.series.organization_id]
            if occurrence.starts_at < end:
                group.today.append(occurrence)
            elif len(group.upcoming) < UPCOMING:
                group.upcoming.append(occurrence)
        drafts = sa.func.count(sa.distinct(sa.case(
            (EventSeries.status.in_((EventStatus.DRAFT,)), EventSeries.id))))
        due = sa.func.count(sa.distinct(sa.case((_due_clause(now), EventOccurrence.id))))
        for org_id, n_drafts, n_due in db.session.execute(
                sa.select(EventSeries.organization_id, drafts, due)
                .outerjoin(EventOccurrence, EventOccurrence.series_id == EventSeries.id)
                .where(EventSeries.organization_id.in_(work)).group_by(EventSeries.organization_id)):
            work[org_id].drafts, work[org_id].reports_due = n_drafts, n_due
        return list(work.values())

    return _cached("groups", make)


# ---------------------------------------------------------------- facility desks (窓口)


@dataclass
class DeskWork:
    """One facility the user staffs, and what waits at its desk."""

    facility: Facility
    today: int = 0  # active bookings today
    requested: int = 0  # bookings waiting for staff approval, today on
    tentative_due: int = 0  # unpaid 仮予約 whose deadline is within TENTATIVE_DEADLINE_DAYS (or passed)

    @property
    def waiting(self) -> int:
        return self.requested + self.tentative_due


def desk_facilities(user) -> list[Facility]:
    """The facilities whose desk USER works: their assignments, or every active facility for an admin."""
    if not has_role(user, Role.FACILITY_STAFF):
        return []
    stmt = sa.select(Facility).where(Facility.active.is_(True)).order_by(Facility.id)
    if user.role != Role.ADMIN:
        stmt = (stmt.join(FacilityStaff, FacilityStaff.facility_id == Facility.id)
                .where(FacilityStaff.user_id == user.id))
    return list(db.session.scalars(stmt))


def desk_work(user) -> list[DeskWork]:
    """USER's facilities with today's, waiting and near-deadline counts: 2 queries."""

    def make() -> list[DeskWork]:
        work = {f.id: DeskWork(f) for f in desk_facilities(user)}
        if not work:
            return []
        today, deadline = today_tokyo(), utcnow() + timedelta(days=TENTATIVE_DEADLINE_DAYS)
        active = Booking.state.in_(ACTIVE_STATES)
        for facility_id, n_today, n_requested, n_tentative in db.session.execute(
                sa.select(Booking.facility_id,
                          sa.func.count(sa.case((sa.and_(Booking.day == today, active), Booking.id))),
                          sa.func.count(sa.case((Booking.state == BookingState.REQUESTED, Booking.id))),
                          sa.func.count(sa.case((_tentative_due(deadline), Booking.id))))
                .where(Booking.facility_id.in_(work), Booking.day >= today).group_by(Booking.facility_id)):
            desk = work[facility_id]
            desk.today, desk.requested, desk.tentative_due = n_today, n_requested, n_tentative
        return list(work.values())

    return _cached("desks", make)


def _tentative_due(deadline: datetime):
    return sa.and_(Booking.state == BookingState.TENTATIVE, Booking.paid_at.is_(None),
                   Booking.hold_until.is_not(None), Booking.hold_until <= deadline)


def desk_queue(facility_ids: list[int], limit: int = 50) -> tuple[list[Booking], list[Booking]]:
    """(bookings waiting for approval, unpaid 仮予約 near their deadline) at FACILITY_IDS, soonest first."""
    if not facility_ids:
        return [], []
    today, deadline = today_tokyo(), utcnow() + timedelta(days=TENTATIVE_DEADLINE_DAYS)
    base = (sa.select(Booking).where(Booking.facility_id.in_(facility_ids), Booking.day >= today)
            .options(sa.orm.joinedload(Booking.room), sa.orm.selectinload(Booking.items)))
    requested = list(db.session.scalars(base.where(Booking.state == BookingState.REQUESTED)
                                        .order_by(Booking.day, Booking.id).limit(limit)))
    tentative = list(db.session.scalars(base.where(_tentative_due(deadline))
                                        .order_by(Booking.hold_until, Booking.id).limit(limit)))
    return requested, tentative


# ---------------------------------------------------------------- ward staff (区の業務)


@dataclass
class WardWork:
    groups_to_verify: int  # new and expired registrations (organizations.review)
    events_to_review: int  # series submitted for review (events.review)
    reports_to_approve: int  # latest report revisions waiting for staff (participation.staff_reports)
    reports_overdue: int  # ended occurrences whose report is missing or returned past the due days


def ward_work(user) -> WardWork | None:
    """The ward staff's queues, counted in one statement; None for anyone else."""
    if not has_role(user, Role.WARD_STAFF):
        return None

    def make() -> WardWork:
        now = utcnow()
        due_days = int(current_app.config.get("PARTICIPATION_REPORT_DUE_DAYS", 7))
        overdue = (sa.select(sa.func.count(EventOccurrence.id))
                   .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                   .where(_due_clause(now), EventOccurrence.ends_at <= now - timedelta(days=due_days)))
        row = db.session.execute(sa.select(
            sa.select(sa.func.count(Organization.id)).where(Organization.status.in_(
                (VerificationStatus.PENDING, VerificationStatus.EXPIRED))).scalar_subquery(),
            sa.select(sa.func.count(EventSeries.id)).where(
                EventSeries.status == EventStatus.SUBMITTED).scalar_subquery(),
            sa.select(sa.func.count(ParticipationReport.id)).where(
                ParticipationReport.is_latest.is_(True),
                ParticipationReport.status == ReportStatus.SUBMITTED).scalar_subquery(),
            overdue.scalar_subquery(),
        )).one()
        return WardWork(*row)

    return _cached("ward", make)


# ---------------------------------------------------------------- a person's own (マイページ)


@dataclass
class MyNext:
    registrations: list[Registration]
    bookings: list[Booking]


def my_next(user, limit: int = 3) -> MyNext:
    """USER's next LIMIT registrations and own bookings from today on, soonest first."""
    registrations = my_registrations(user)[:limit]
    bookings = list(db.session.scalars(
        sa.select(Booking).where(Booking.user_id == user.id, Booking.day >= today_tokyo(),
                                 Booking.state.in_(ACTIVE_STATES))
        .options(sa.orm.joinedload(Booking.room).joinedload(Room.facility), sa.orm.selectinload(Booking.items))
        .order_by(Booking.day, Booking.id).limit(limit)))
    return MyNext(registrations, bookings)


@dataclass
class Notice:
    """Something that asks the person to act, with where to do it."""

    kind: str  # lottery_won | tentative | report_returned
    day: date | datetime | None
    endpoint: str
    values: dict
    subject: str = ""
    booking: Booking | None = None  # the 仮予約 a "tentative" notice is about
    period: LotteryPeriod | None = None  # the lottery a "lottery_won" notice is about


def my_notices(user) -> list[Notice]:
    """What asks USER to act now: lottery wins to confirm, own unpaid 仮予約 and reports returned to their groups."""

    def make() -> list[Notice]:
        now = utcnow()
        notices: list[Notice] = []
        entries = [e for e in entries_for(user) if e.won_rank is not None and e.confirmed_at is None
                   and e.released_at is None]
        periods = {p.id: p for p in db.session.scalars(
            sa.select(LotteryPeriod).where(LotteryPeriod.id.in_({e.period_id for e in entries})))} if entries else {}
        for entry in entries:
            period = periods[entry.period_id]
            if award_state(entry, period, now) == "open":
                notices.append(Notice("lottery_won", period.confirm_until, "lotteries.entry",
                                      {"entry_id": entry.id}, period=period))
        for booking in db.session.scalars(
                sa.select(Booking).where(Booking.user_id == user.id, Booking.state == BookingState.TENTATIVE,
                                         Booking.paid_at.is_(None), Booking.day >= today_tokyo())
                .options(sa.orm.joinedload(Booking.room).joinedload(Room.facility))
                .order_by(Booking.hold_until, Booking.id).limit(10)):
            notices.append(Notice("tentative", booking.hold_until, "bookings.show", {"booking_id": booking.id},
                                  booking=booking))
        officer_of = [w.organization.id for w in group_work(user) if w.is_officer]
        if officer_of:
            for occurrence in db.session.scalars(
                    sa.select(EventOccurrence).join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                    .join(ParticipationReport, ParticipationReport.occurrence_id == EventOccurrence.id)
                    .where(EventSeries.organization_id.in_(officer_of), ParticipationReport.is_latest.is_(True),
                           ParticipationReport.status == ReportStatus.RETURNED)
                    .options(sa.orm.joinedload(EventOccurrence.series)).order_by(EventOccurrence.starts_at)
                    .limit(10)):
                notices.append(Notice("report_returned", occurrence.starts_at, "participation.report",
                                      {"occurrence_id": occurrence.id}, subject=occurrence.series.title_ja))
        return notices

    return _cached("notices", make)


# ---------------------------------------------------------------- the public side of the home page


def open_lotteries(now: datetime | None = None, limit: int = 6) -> list[tuple[LotteryPeriod, Facility, datetime]]:
    """Lottery periods taking entries now, with the facility and when entry closes, closing soonest first."""
    now = now or utcnow()
    closes = sa.func.max(LotteryTier.closes_at)
    rows = db.session.execute(
        sa.select(LotteryPeriod, Facility, closes)
        .join(Facility, Facility.id == LotteryPeriod.facility_id)
        .join(LotteryTier, LotteryTier.period_id == LotteryPeriod.id)
        .where(Facility.active.is_(True), LotteryPeriod.end_date > to_tokyo(now).date())
        .group_by(LotteryPeriod.id, Facility.id)
        .having(sa.func.min(LotteryTier.opens_at) <= now, closes > now)
        .order_by(closes, LotteryPeriod.id).limit(limit))
    return [(period, facility, closes_at) for period, facility, closes_at in rows]
