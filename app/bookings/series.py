"""Weekly booking series: the dates, a plan that says which dates are free before the user confirms, booking them
in one transaction (all or nothing, or only the free dates when the user explicitly chooses so), cancelling the rest.

Every occurrence is an ordinary booking made by services.book_slots (same rules, fees, claims and hooks); the
series row keeps what was asked for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.bookings import services
from app.bookings.access import is_booking_side
from app.bookings.availability import claims_between
from app.bookings.ical import bookings_calendar
from app.bookings.models import ACTIVE_STATES, Booking, BookingSeries
from app.core.audit import record_audit
from app.core.mail import Attachment, queue_mail
from app.core.time import to_tokyo, utcnow
from app.extensions import db
from app.facilities.availability import cells
from app.facilities.models import Room, UserCategory

MAX_OCCURRENCES = 52  # a year of weekly dates
INTERVALS = (1, 2)  # every week, every 2 weeks

# Rules that fail for one date and not for the others: the plan marks that date, the series can go on without it.
PER_DATE_ERRORS = (services.PastDate, services.OutsideWindow, services.ClosedDay, services.UnknownSlot,
                   services.TooManyBookings)


class SeriesError(services.BookingError):
    """The series as a whole cannot be made (bad interval, no end, too many dates, nothing free)."""

    code = "series_invalid"


class SeriesConflict(services.SlotTaken):
    """Some dates are not free and the user asked for all or nothing; PLAN says which."""

    code = "series_conflict"

    def __init__(self, message=None, *, plan: SeriesPlan | None = None):
        super().__init__(message)
        self.plan = plan


def series_dates(first_day: date, *, interval_weeks: int, count: int | None = None,
                 until: date | None = None) -> list[date]:
    """The dates of a series: FIRST_DAY then every INTERVAL_WEEKS weeks, COUNT of them or up to UNTIL (inclusive)."""
    if interval_weeks not in INTERVALS:
        raise SeriesError(_l("くり返しは「毎週」か「2週ごと」を選んでください。"))
    if count is None and until is None:
        raise SeriesError(_l("回数か最後の日のどちらかを入力してください。"))
    if count is not None and not 2 <= count <= MAX_OCCURRENCES:
        raise SeriesError(_l("回数は2回から{n}回までにしてください。").format(n=MAX_OCCURRENCES))
    if until is not None and until <= first_day:
        raise SeriesError(_l("最後の日は最初の日より後にしてください。"))
    step = timedelta(weeks=interval_weeks)
    if first_day > date.max - step * (MAX_OCCURRENCES + 1):  # a year typo (9999): the steps would overflow
        raise SeriesError(_l("日付を正しく入力してください(例: 2026-12-01)。"))
    dates: list[date] = []
    day = first_day
    while (count is None or len(dates) < count) and (until is None or day <= until):
        if len(dates) >= MAX_OCCURRENCES:
            raise SeriesError(
                _l("一度に予約できるのは{n}回までです。最後の日を早めてください。").format(n=MAX_OCCURRENCES))
        dates.append(day)
        day += step
    if len(dates) < 2:
        raise SeriesError(_l("くり返しの予約は2回以上にしてください。最後の日を遅くしてください。"))
    return dates


@dataclass
class PlannedDate:
    """One date of a series plan: its quote when it can be booked, else why not (taken, closed, a rule)."""

    day: date
    quote: services.Quote | None = None
    problem: str | None = None
    kind: str = "free"  # free | taken | closed | rule

    @property
    def free(self) -> bool:
        return self.problem is None


@dataclass
class SeriesPlan:
    """What a series would be: every date with its state and fee, and the totals of the free dates."""

    dates: list[PlannedDate]
    interval_weeks: int

    @property
    def free(self) -> list[PlannedDate]:
        return [d for d in self.dates if d.free]

    @property
    def blocked(self) -> list[PlannedDate]:
        return [d for d in self.dates if not d.free]

    @property
    def net(self) -> int:
        return sum(d.quote.net for d in self.free)

    @property
    def gross(self) -> int:
        return sum(d.quote.gross for d in self.free)

    @property
    def reduction(self) -> int:
        return sum(d.quote.reduction for d in self.free)

    @property
    def first_quote(self) -> services.Quote | None:
        return next((d.quote for d in self.dates if d.quote), None)


def plan_series(
    *,
    user,
    room_id: int,
    first_day: date,
    interval_weeks: int,
    unit_keys: list[str],
    attendees: int,
    category: UserCategory,
    count: int | None = None,
    until: date | None = None,
    organization_id: int | None = None,
    equipment_ids: list[int] | None = None,
    now: datetime | None = None,
    on_behalf: bool = False,
) -> SeriesPlan:
    """Check every date of a series without writing: free, taken, closed, or outside a rule (window, monthly limit).

    Rules that hold for the whole series (room, group, ban, capacity, fees) raise as for a single booking.
    """
    now = now or utcnow()
    planned: list[PlannedDate] = []
    for day in series_dates(first_day, interval_weeks=interval_weeks, count=count, until=until):
        try:
            q = services.quote(user=user, room_id=room_id, day=day, unit_keys=unit_keys, attendees=attendees,
                               category=category, organization_id=organization_id, equipment_ids=equipment_ids,
                               now=now, on_behalf=on_behalf)
        except PER_DATE_ERRORS as exc:
            kind = "closed" if isinstance(exc, services.ClosedDay) else "rule"
            planned.append(PlannedDate(day, None, str(exc.message), kind))
        else:
            planned.append(PlannedDate(day, q))
    quoted = [p for p in planned if p.quote]
    if quoted:
        _mark_taken(quoted)
        _apply_monthly_limit(quoted, user=user, on_behalf=on_behalf)
    return SeriesPlan(planned, interval_weeks)


def _mark_taken(quoted: list[PlannedDate]) -> None:
    """Dates whose cells someone already holds: one query for the whole series."""
    leaf_ids = sorted(quoted[0].quote.leaf_ids)
    claims = claims_between(leaf_ids, quoted[0].day, quoted[-1].day + timedelta(days=1))
    for p in quoted:
        if any((leaf, p.day, c) in claims for leaf in leaf_ids for u in p.quote.units for c in cells(u.start, u.end)):
            p.problem, p.kind = str(_l("ほかの予約が入っています。")), "taken"


def _apply_monthly_limit(quoted: list[PlannedDate], *, user, on_behalf: bool) -> None:
    """The per-month limit counts the series' own dates too: dates past it in a month are marked."""
    first = quoted[0].quote
    organization = first.organization
    if on_behalf and organization is None:
        return
    limit = first.facility.max_active_per_month
    who = Booking.organization_id == organization.id if organization else Booking.user_id == user.id
    start = quoted[0].day.replace(day=1)
    end = (quoted[-1].day.replace(day=1) + timedelta(days=32)).replace(day=1)
    existing: Counter = Counter()
    for day in db.session.scalars(sa.select(Booking.day).where(
            who, Booking.state.in_(list(ACTIVE_STATES)), Booking.day >= start, Booking.day < end)):
        existing[(day.year, day.month)] += 1
    for p in quoted:
        if not p.free:
            continue
        month = (p.day.year, p.day.month)
        if existing[month] >= limit:
            p.problem, p.kind = str(_l("1か月に予約できるのは{n}件までです。").format(n=limit)), "rule"
        else:
            existing[month] += 1


def book_series(
    *,
    user,
    room_id: int,
    first_day: date,
    interval_weeks: int,
    unit_keys: list[str],
    purpose: str,
    attendees: int,
    category: UserCategory,
    count: int | None = None,
    until: date | None = None,
    organization_id: int | None = None,
    equipment_ids: list[int] | None = None,
    skip_conflicts: bool = False,
    actor=None,
    now: datetime | None = None,
    ban_override_reason: str | None = None,
) -> tuple[BookingSeries, list[Booking]]:
    """Book every date of a series in the current transaction.

    By default all or nothing: a date that is taken (now, or by a concurrent transaction: the claims' unique
    constraint decides), closed or outside a rule raises SeriesConflict and the caller rolls back. With
    SKIP_CONFLICTS (the user chose "book the free dates only") such dates are left out, each in its own savepoint.
    BAN_OVERRIDE_REASON: as in services.book_slots() (the desk booked for a barred resident on purpose).
    """
    now = now or utcnow()
    actor = actor or user
    dates = series_dates(first_day, interval_weeks=interval_weeks, count=count, until=until)
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        raise services.RoomNotFound(_l("その部屋は見つかりません。"))
    series = BookingSeries(
        user_id=user.id, organization_id=organization_id, facility_id=room.facility_id, room_id=room.id,
        first_day=first_day, interval_weeks=interval_weeks, count=count, until_date=until, unit_keys=list(unit_keys),
        purpose=purpose, attendees=attendees, category=category, skip_conflicts=skip_conflicts,
        created_by_id=actor.id, created_at=now,
    )
    db.session.add(series)
    db.session.flush()
    booked: list[Booking] = []
    skipped: list[date] = []
    for day in dates:
        try:
            with db.session.begin_nested():  # a skipped date leaves nothing behind: booking, items, audit
                booking = services.book_slots(
                    user=user, room_id=room.id, day=day, unit_keys=unit_keys, purpose=purpose, attendees=attendees,
                    category=category, organization_id=organization_id, equipment_ids=equipment_ids, actor=actor,
                    now=now, series_id=series.id, ban_override_reason=ban_override_reason)
        except (services.SlotTaken, *PER_DATE_ERRORS) as exc:
            if not skip_conflicts:
                raise SeriesConflict(
                    _l("{day}は予約できません({why})。すべての日を予約するか、空いている日だけを予約するか、"
                       "もう一度選んでください。").format(day=day.isoformat(), why=exc.message)) from None
            skipped.append(day)
            continue
        booked.append(booking)
    if not booked:
        raise SeriesConflict(_l("予約できる日がありませんでした。日付や時間区分を変えてください。"))
    _queue_series_confirmation(series, booked, user)
    record_audit("booking.series.create", actor_id=actor.id, target_type="booking_series", target_id=series.id,
                 details={"room_id": room.id, "booked": [b.day.isoformat() for b in booked],
                          "skipped": [d.isoformat() for d in skipped], "on_behalf": actor.id != user.id,
                          **({"ban_override": True, "ban_reason": ban_override_reason}
                             if ban_override_reason else {})})
    return series, booked


def _queue_series_confirmation(series: BookingSeries, bookings: list[Booking], user) -> None:
    """One e-mail for the whole series with every occurrence in one .ics."""
    base_url = current_app.config["BASE_URL"]
    ics = bookings_calendar(bookings, name="Tsudoi", base_url=base_url).decode("utf-8")
    queue_mail(to=user.email, subject=_l("くり返しの予約を受け付けました"), template="bookings/series_confirmation",
               language=user.preferred_language, attachments=[Attachment("bookings.ics", "text/calendar", ics)],
               user=user, series=series, bookings=bookings, url=f"{base_url}/bookings/series/{series.id}")


def series_bookings(series_id: int) -> list[Booking]:
    """Every occurrence of a series, by date (items loaded for display)."""
    return list(db.session.scalars(
        sa.select(Booking).where(Booking.series_id == series_id).order_by(Booking.day, Booking.id)
        .options(sa.orm.selectinload(Booking.items))))


@dataclass
class SeriesCancellation:
    """What cancelling the rest of a series from a day would do: the bookings, and which of them are late."""

    bookings: list[Booking]
    late: list[Booking]
    ban_days: int


def remaining(series_id: int, *, from_day: date | None = None, now: datetime | None = None) -> list[Booking]:
    """Active occurrences of the series on or after FROM_DAY (never before today)."""
    today = to_tokyo(now or utcnow()).date()
    first = max(from_day or today, today)
    return [b for b in series_bookings(series_id) if b.state in ACTIVE_STATES and b.day >= first]


def cancellation_preview(series: BookingSeries, *, actor, from_day: date | None = None,
                         now: datetime | None = None) -> SeriesCancellation:
    """Shown before the user confirms "cancel the rest": how many dates, how many late, the ban they bring."""
    now = now or utcnow()
    bookings = remaining(series.id, from_day=from_day, now=now)
    late = []
    ban = 0
    for booking in bookings:
        preview = services.cancellation_preview(booking, now=now)
        if preview.late and is_booking_side(actor, booking):
            late.append(booking)
            ban = max(ban, preview.ban_days)
    return SeriesCancellation(bookings, late, ban)


def cancel_series(series: BookingSeries, *, actor, from_day: date | None = None,
                  now: datetime | None = None) -> list[Booking]:
    """Cancel every active occurrence on or after FROM_DAY (each through services.cancel_booking)."""
    now = now or utcnow()
    bookings = remaining(series.id, from_day=from_day, now=now)
    if not bookings:
        raise services.NotCancellable(_l("取り消せる予約が残っていません。"))
    for booking in bookings:
        services.cancel_booking(booking, actor=actor, now=now, notify=False)
    record_audit("booking.series.cancel", actor_id=actor.id, target_type="booking_series", target_id=series.id,
                 details={"cancelled": [b.day.isoformat() for b in bookings],
                          **({"for_user_id": series.user_id, "organization_id": series.organization_id}
                             if actor.id != series.user_id else {})})
    return bookings

