"""Reads used by several pages: occurrence cards with their counts, filtered, in a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, defaultload, selectinload

from app.bookings.models import Booking
from app.core.districts import District
from app.core.time import tokyo_to_utc, utcnow
from app.events.cache import LRU
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventAudience,
    EventCategory,
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
    search_key,
)
from app.extensions import db
from app.facilities.models import Room
from app.organizations.models import Organization

FEED_LIMIT = 2000  # occurrences per ICS feed, the earliest first
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

    def __post_init__(self) -> None:
        # Year 1 or 9999 would overflow the Tokyo/UTC conversion (a 500); no event lies outside these anyway.
        if self.date_from is not None:
            self.date_from = min(max(self.date_from, date(1900, 1, 1)), date(9000, 12, 31))
        if self.date_to is not None:
            self.date_to = min(max(self.date_to, date(1900, 1, 1)), date(9000, 12, 31))

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
    query = sa.select(EventSeries.id).where(EventSeries.public_clause(now))
    if filters.keyword:  # the organizer's name is searched too
        query = query.join(EventSeries.organization)
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
        # The texts are stored through search_key (NFKC, case-folded), so the keyword is too. Organization names
        # (every language) are stored as typed and compared with SQL lower(), against the normalized keyword and
        # the keyword as typed (a name with full-width brackets typed exactly still matches).
        key = f"%{_escape_like(search_key(filters.keyword))}%"
        patterns = sorted({key, f"%{_escape_like(filters.keyword.lower())}%"})
        query = query.where(sa.or_(
            EventSeries.search_text.like(key, escape="\\"),
            *(sa.func.lower(column).like(pattern, escape="\\")
              for column in (Organization.name_ja, Organization.name_en, Organization.name_easy)
              for pattern in patterns)))
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
    page = _page_ids(filters, now=utcnow(), limit=limit, offset=offset, include_past=include_past)
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


class CardRow(NamedTuple):
    """One occurrence as a card shows it, as plain values (hashable: the rendered card is cached by it)."""

    occurrence_id: int
    starts_at: datetime
    capacity: int | None
    cancelled: bool
    series_id: int
    title_ja: str
    title_en: str | None
    title_easy: str | None
    category: EventCategory
    district: District
    fee_yen: int
    registration_required: bool
    organization_id: int
    organization_ja: str
    organization_en: str | None
    organization_easy: str | None
    logo_name: str | None
    confirmed: int
    waitlisted: int

    def title(self, language: str) -> tuple[str, bool]:
        """The title in LANGUAGE and whether Japanese was shown instead (as EventSeries.text)."""
        value = {"en": self.title_en, "ja-easy": self.title_easy}.get(language)
        return (value, False) if value else (self.title_ja, language in ("en", "ja-easy"))

    def organization(self, language: str) -> str:
        """The organizer's name in LANGUAGE, Japanese when it has none."""
        return {"en": self.organization_en, "ja-easy": self.organization_easy}.get(language) or self.organization_ja


def _page_ids(filters: Filters, *, now, limit, offset, include_past: bool, day_before=None):
    """The ids of one page of public occurrences, in start order (a subquery). NOW, LIMIT, OFFSET (and
    DAY_BEFORE, now - 1 day) may be values or bind parameters."""
    broad = not (filters.keyword or filters.organization_id) and sum(
        bool(v) for v in (filters.district, filters.category, filters.audience, filters.accessibility, filters.free,
                          filters.language)) <= 1
    if broad:
        # Most series match: walk occurrences in start order and look each series up by its key (EXISTS), which
        # stops after one page (SQLite: 0.5 ms instead of 5 ms at 50,000 occurrences).
        series_match = _matching_series(filters, now).where(EventSeries.id == EventOccurrence.series_id).exists()
    else:
        # Narrow filters: the matching series first (a short list), then occurrences of those in start order.
        series_match = (EventOccurrence.series_id + 0).in_(_matching_series(filters, now))
    page = (
        sa.select(EventOccurrence.id)
        .where(series_match)
        .order_by(EventOccurrence.starts_at, EventOccurrence.id)
        .limit(limit)
        .offset(offset)
    )
    if filters.date_from:
        ends_after = tokyo_to_utc(filters.date_from, time())
        page = page.where(EventOccurrence.ends_at > ends_after,
                          EventOccurrence.starts_at > ends_after - timedelta(days=1))
    elif not include_past:
        page = page.where(EventOccurrence.ends_at > now,
                          EventOccurrence.starts_at > (now - timedelta(days=1) if day_before is None else day_before))
    if filters.date_to:
        page = page.where(EventOccurrence.starts_at < tokyo_to_utc(filters.date_to, time(23, 59, 59)))
    return page


def _card_statement(filters: Filters, include_past: bool, counts: bool = True):
    cancelled = sa.or_(EventOccurrence.status == OccurrenceStatus.CANCELLED,
                       EventSeries.status == EventStatus.CANCELLED)
    page = _page_ids(filters, now=sa.bindparam("now"), day_before=sa.bindparam("day_before"),
                     limit=sa.bindparam("limit", type_=sa.Integer), offset=sa.bindparam("offset", type_=sa.Integer),
                     include_past=include_past)
    return (
        sa.select(EventOccurrence.id, EventOccurrence.starts_at, EventOccurrence.capacity, cancelled,
                  EventSeries.id, EventSeries.title_ja, EventSeries.title_en, EventSeries.title_easy,
                  EventSeries.category, EventSeries.district, EventSeries.fee_yen, EventSeries.registration_required,
                  Organization.id, Organization.name_ja, Organization.name_en, Organization.name_easy,
                  Organization.logo_name,
                  *((_count(RegistrationStatus.CONFIRMED), _count(RegistrationStatus.WAITLISTED)) if counts
                    else (sa.literal(0), sa.literal(0))))
        .join(EventOccurrence.series)
        .join(EventSeries.organization)
        .where(EventOccurrence.id.in_(page))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id)
    )


# Built statements by filter values: building one costs more than running it (SQLAlchemy memoizes the cache
# key of a statement object, so reusing the object also skips that work). Time and page are bind parameters.
_CARD_STATEMENTS = LRU(max_entries=256)


def card_rows(filters: Filters, *, limit: int = 50, offset: int = 0, include_past: bool = False,
              counts: bool = True) -> list[CardRow]:
    """Public occurrences matching FILTERS as CardRows: one SQL statement and no ORM objects whatever the data.

    Same page choice as occurrence_cards; the list, the calendar and organization pages use it (rendering
    plain tuples, each card cached by its row, is what makes those pages fast). COUNTS=False leaves the
    registration counts out (0), for pages that do not show them (the month calendar).
    """
    key = (*(tuple(v) if isinstance(v, list) else v for v in vars(filters).values()), include_past, counts)
    statement = _CARD_STATEMENTS.get_or_make(key, lambda: _card_statement(filters, include_past, counts))
    now = utcnow()
    params = {"now": now, "day_before": now - timedelta(days=1), "limit": limit, "offset": offset}
    # Plain columns: run on the session's connection (same transaction), skipping the ORM execution layer.
    rows = db.session.connection().execute(statement, params)
    return [CardRow(*row[:17], int(row[17]), int(row[18])) for row in rows]


def _feed_where(query, *, now: datetime, organization_id: int | None, since: datetime | None,
                until: datetime | None, district: District | None, category: EventCategory | None):
    query = query.where(EventSeries.public_clause(now))
    if since is not None:
        query = query.where(EventOccurrence.ends_at > since)
    if until is not None:
        query = query.where(EventOccurrence.starts_at < until)
    if organization_id is not None:
        query = query.where(sa.or_(EventSeries.organization_id == organization_id,
                                   EventSeries.partner_rows.any(organization_id=organization_id)))
    if district is not None:
        query = query.where(EventSeries.district == district)
    if category is not None:
        query = query.where(EventSeries.category == category)
    return query


def _with_venues(query):
    # Booked venues (series' and occurrences' own) with their rooms and facilities: one query per level, only
    # when some row links a booking; never one per event.

    room = selectinload(Booking.room).selectinload(Room.facility)
    return query.options(selectinload(EventOccurrence.room_booking).options(room),
                         defaultload(EventOccurrence.series).selectinload(EventSeries.room_booking).options(room))


def feed_occurrences(*, organization_id: int | None = None, since: datetime | None = None,
                     until: datetime | None = None, district: District | None = None,
                     category: EventCategory | None = None, limit: int = FEED_LIMIT) -> list[EventOccurrence]:
    """Occurrences for an ICS feed (published or cancelled series), with series, organizer and venues."""
    query = (
        sa.select(EventOccurrence).join(EventOccurrence.series).join(EventSeries.organization)
        .options(contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id).limit(limit)
    )
    query = _feed_where(query, now=utcnow(), organization_id=organization_id, since=since, until=until,
                        district=district, category=category)
    return list(db.session.scalars(_with_venues(query)).unique())


def feed_signature(*, since: datetime, until: datetime, **_narrowing) -> tuple[int, datetime | None]:
    """(a row count, the latest change) that changes whenever a public feed of the window [SINCE, UNTIL) may.

    Deliberately wider than any one feed (so it is cheap: index lookups only, about 1 ms at 50,000 occurrences):
    the number of occurrences starting in the window (an occurrence lies within one day, hence SINCE - 1 day),
    and the latest updated_at of all occurrences, series and organizations, and the latest publish_at already
    reached (a scheduled publication coming due changes feeds without touching a row). Any edit, cancellation,
    publication, added or removed date moves one of them; a change elsewhere only costs one rebuild.
    District, category or organization narrowing (_NARROWING) is ignored on purpose: the signature covers them.
    """
    now = utcnow()
    in_window = (sa.select(sa.func.count()).select_from(EventOccurrence)
                 .where(EventOccurrence.starts_at > since - timedelta(days=1), EventOccurrence.starts_at < until)
                 .scalar_subquery())
    query = sa.select(
        in_window,
        sa.select(sa.func.max(EventOccurrence.updated_at)).scalar_subquery(),
        sa.select(sa.func.max(EventSeries.updated_at)).scalar_subquery(),
        sa.select(sa.func.max(EventSeries.publish_at)).where(EventSeries.publish_at <= now).scalar_subquery(),
        sa.select(sa.func.max(Organization.updated_at)).scalar_subquery(),
    )
    count, *stamps = db.session.connection().execute(query).one()
    stamps = [stamp for stamp in stamps if stamp is not None]
    return int(count), (max(stamps) if stamps else None)


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
    return list(db.session.scalars(_with_venues(query)).unique())


def review_queue() -> list[EventSeries]:
    """Series waiting for staff review, oldest first."""
    return list(db.session.scalars(
        sa.select(EventSeries).where(EventSeries.status == EventStatus.SUBMITTED).order_by(EventSeries.submitted_at)
    ))


WARD_RELATION_LIMIT = 300  # events listed on the ward staff's 区との関係 page


def ward_relation_list(*, marked_only: bool = False, limit: int = WARD_RELATION_LIMIT) -> list[EventSeries]:
    """Released events (published, or cancelled after release) for ward staff to mark 区と連携・協働 / 区が支援:
    the marked ones first, then the newest; with MARKED_ONLY, the marked ones only. Organizations loaded."""
    stmt = (sa.select(EventSeries).options(sa.orm.joinedload(EventSeries.organization))
            .where(EventSeries.published_at.is_not(None),
                   EventSeries.status.in_([EventStatus.PUBLISHED, EventStatus.CANCELLED])))
    if marked_only:
        stmt = stmt.where(EventSeries.ward_relation.is_not(None))
    return list(db.session.scalars(stmt.order_by(EventSeries.ward_relation.is_(None), EventSeries.id.desc())
                                   .limit(limit)))


def series_of_organization(organization_id: int) -> list[EventSeries]:
    """Every series of a group, newest first (for its editors)."""
    return list(db.session.scalars(
        sa.select(EventSeries).where(EventSeries.organization_id == organization_id)
        .order_by(EventSeries.created_at.desc())
    ))
