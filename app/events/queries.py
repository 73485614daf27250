"""Reads used by several pages: occurrence cards with their counts, filtered, in a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app.core.districts import District
from app.core.time import tokyo_to_utc, utcnow
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventAudience,
    EventCategory,
    EventOccurrence,
    EventSeries,
    EventStatus,
    Registration,
    RegistrationStatus,
)
from app.extensions import db
from app.organizations.models import Organization

ACCESSIBILITY = ("wheelchair_accessible", "sign_language", "captions", "childcare", "no_smoking")


@dataclass
class Filters:
    """What the public list can be narrowed by; unknown values from the query string are dropped."""

    date_from: date | None = None
    date_to: date | None = None
    district: District | None = None
    category: EventCategory | None = None
    audience: Audience | None = None
    accessibility: list[str] = field(default_factory=list)
    free: bool = False
    language: str | None = None
    keyword: str | None = None
    organization_id: int | None = None

    @classmethod
    def from_args(cls, args) -> Filters:
        """Parse request.args leniently: a bad value is ignored rather than an error."""

        def _enum(enum_cls, key):
            try:
                return enum_cls(args.get(key)) if args.get(key) else None
            except ValueError:
                return None

        def _date(key):
            try:
                return date.fromisoformat(args.get(key, ""))
            except ValueError:
                return None

        keyword = (args.get("q") or "").strip()[:100] or None
        language = args.get("lang") if args.get("lang") in FOREIGN_LANGUAGES else None
        return cls(
            date_from=_date("from"), date_to=_date("to"), district=_enum(District, "district"),
            category=_enum(EventCategory, "category"), audience=_enum(Audience, "audience"),
            accessibility=[a for a in args.getlist("access") if a in ACCESSIBILITY],
            free=args.get("free") == "1", language=language, keyword=keyword,
        )


@dataclass
class Card:
    """One occurrence as the list shows it."""

    occurrence: EventOccurrence
    series: EventSeries
    confirmed: int
    waitlisted: int

    @property
    def seats_left(self) -> int | None:
        cap = self.occurrence.capacity
        return None if cap is None else max(cap - self.confirmed, 0)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _count(status: RegistrationStatus):
    # Correlated: counted only for the page's rows, not GROUP BY over every registration (200,000 in the bench).
    # The status is tested in a CASE, not the WHERE, so the planner looks registrations up by occurrence only
    # (PostgreSQL without statistics otherwise ANDs in the status index: 160,000 rows per occurrence).
    return (sa.select(sa.func.coalesce(sa.func.sum(sa.case((Registration.status == status, 1), else_=0)), 0))
            .where(Registration.occurrence_id == EventOccurrence.id)
            .correlate(EventOccurrence).scalar_subquery())


def _matching_series(filters: Filters, now: datetime):
    """Ids of public series matching the series-level FILTERS (a subquery)."""
    query = sa.select(EventSeries.id).join(EventSeries.organization).where(EventSeries.public_clause(now))
    if filters.district:
        query = query.where(EventSeries.district == filters.district)
    if filters.category:
        query = query.where(EventSeries.category == filters.category)
    if filters.audience:
        query = query.where(sa.exists().where(EventAudience.series_id == EventSeries.id,
                                              EventAudience.audience == filters.audience))
    for name in filters.accessibility:
        query = query.where(getattr(EventSeries, name).is_(True))
    if filters.free:
        query = query.where(EventSeries.fee_yen == 0)
    if filters.language:
        query = query.where(sa.or_(EventSeries.foreign_languages == filters.language,
                                   EventSeries.foreign_languages.like(f"{filters.language},%"),
                                   EventSeries.foreign_languages.like(f"%,{filters.language}"),
                                   EventSeries.foreign_languages.like(f"%,{filters.language},%")))
    if filters.keyword:
        pattern = f"%{_escape_like(filters.keyword.lower())}%"
        query = query.where(sa.or_(EventSeries.search_text.like(pattern, escape="\\"),
                                   sa.func.lower(Organization.name_ja).like(pattern, escape="\\")))
    if filters.organization_id:
        query = query.where(sa.or_(EventSeries.organization_id == filters.organization_id,
                                   EventSeries.partner_rows.any(organization_id=filters.organization_id)))
    return query


def occurrence_cards(filters: Filters, *, limit: int = 50, offset: int = 0, include_past: bool = False) -> list[Card]:
    """Public occurrences matching FILTERS with their counts: one SQL statement whatever the data size.

    The page is chosen first (occurrence ids in start order, walking the starts_at index), then only its rows
    are joined to their series and counted. An occurrence lies within one day (services check end > start on
    the same day), so "ends after X" also bounds the start from below by X - 1 day, which lets the index skip
    the archive; `series_id + 0` keeps SQLite from driving the query by series instead of by start.
    """
    now = utcnow()
    page = (
        sa.select(EventOccurrence.id)
        .where((EventOccurrence.series_id + 0).in_(_matching_series(filters, now)))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id)
        .limit(limit)
        .offset(offset)
    )
    ends_after = None
    if filters.date_from:
        ends_after = tokyo_to_utc(filters.date_from, time())
    elif not include_past:
        ends_after = now
    if ends_after is not None:
        page = page.where(EventOccurrence.ends_at > ends_after,
                          EventOccurrence.starts_at > ends_after - timedelta(days=1))
    if filters.date_to:
        page = page.where(EventOccurrence.starts_at < tokyo_to_utc(filters.date_to, time(23, 59, 59)))
    query = (
        sa.select(EventOccurrence, _count(RegistrationStatus.CONFIRMED), _count(RegistrationStatus.WAITLISTED))
        .join(EventOccurrence.series)
        .join(EventSeries.organization)
        .options(contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .where(EventOccurrence.id.in_(page))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id)
    )
    return [Card(occurrence=o, series=o.series, confirmed=int(c), waitlisted=int(w))
            for o, c, w in db.session.execute(query).unique().all()]


def feed_occurrences(*, organization_id: int | None = None, since: datetime | None = None,
                     district: District | None = None, category: EventCategory | None = None,
                     limit: int = 2000) -> list[EventOccurrence]:
    """Occurrences for an ICS feed (published or cancelled series), with series and organizer, in one query."""
    query = (
        sa.select(EventOccurrence).join(EventOccurrence.series).join(EventSeries.organization)
        .options(contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .where(EventSeries.public_clause(utcnow()))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id).limit(limit)
    )
    if since is not None:
        query = query.where(EventOccurrence.ends_at > since)
    if organization_id is not None:
        query = query.where(sa.or_(EventSeries.organization_id == organization_id,
                                   EventSeries.partner_rows.any(organization_id=organization_id)))
    if district is not None:
        query = query.where(EventSeries.district == district)
    if category is not None:
        query = query.where(EventSeries.category == category)
    return list(db.session.scalars(query).unique())


def feed_occurrences_of_user(user_id: int, *, since: datetime) -> list[EventOccurrence]:
    """Occurrences the person is registered for (confirmed or waitlisted), for their private feed; one query."""
    query = (
        sa.select(EventOccurrence).join(EventOccurrence.series).join(EventSeries.organization)
        .join(Registration, Registration.occurrence_id == EventOccurrence.id)
        .options(contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .where(Registration.user_id == user_id, Registration.status != RegistrationStatus.CANCELLED,
               EventOccurrence.ends_at > since)
        .order_by(EventOccurrence.starts_at, EventOccurrence.id).limit(1000)
    )
    return list(db.session.scalars(query).unique())


def review_queue() -> list[EventSeries]:
    """Series waiting for staff review, oldest first."""
    return list(db.session.scalars(
        sa.select(EventSeries).where(EventSeries.status == EventStatus.SUBMITTED).order_by(EventSeries.submitted_at)
    ))


def series_of_organization(organization_id: int) -> list[EventSeries]:
    """Every series of a group, newest first (for its editors)."""
    return list(db.session.scalars(
        sa.select(EventSeries).where(EventSeries.organization_id == organization_id)
        .order_by(EventSeries.created_at.desc())
    ))
