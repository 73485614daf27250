"""Booking rules and writes: quote, book (the claims table arbitrates), cancel with undo, expire, approve."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.bookings.access import is_booking_side
from app.bookings.availability import claims_between
from app.bookings.errors import (
    Banned,
    BookingError,
    ClosedDay,
    FeeNotSet,
    NotCancellable,
    OutsideWindow,
    OverCapacity,
    PastDate,
    QuoteChanged,
    RoomNotFound,
    SlotTaken,
    TooManyBookings,
    UnknownSlot,
)
from app.bookings.ical import bookings_calendar
from app.bookings.models import ACTIVE_STATES, Booking, BookingClaim, BookingEquipment, BookingItem, BookingState
from app.core import locks
from app.core.audit import record_audit
from app.core.errors import NotAllowed
from app.core.mail import Attachment, queue_mail
from app.core.time import to_tokyo, tokyo_to_utc, utcnow
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.availability import (
    RoomNode,
    Unit,
    cells,
    leaves,
    related,
    slots_for_day,
    span_covers,
    units_for,
)
from app.facilities.models import Equipment, ExemptDay, Facility, FeeRate, FeeReduction, Room, UserCategory
from app.organizations.models import Membership, MembershipRole, Organization

HOURLY_FEE_CODE = "hour"


@dataclass
class Quote:
    """What a booking would be: units, fee breakdown and the rules that apply (shown before confirming)."""

    facility: Facility
    room: Room
    day: date
    units: list[Unit]
    category: UserCategory
    organization: Organization | None
    fees: list[int]
    gross: int
    reduction_percent: int
    reduction: int
    net: int
    state: BookingState
    hold_until: datetime | None
    rules: list[str] = field(default_factory=list)
    equipment: list[Equipment] = field(default_factory=list)
    leaf_ids: frozenset[int] = frozenset()  # the leaf rooms whose cells the booking claims


def _facility_rooms(facility_id: int) -> list[Room]:
    return list(db.session.scalars(sa.select(Room).where(Room.facility_id == facility_id)))


# quote() runs at every booking: its statements are built once, with bound parameters (building a statement and its
# cache key each time cost more than running the small queries).

@functools.lru_cache(maxsize=1)
def _sibling_rooms_statement():
    """Every room of the facility of room "room_id", with the facility: the room asked for and the tree of rooms
    its claims depend on, in one query."""
    asked = sa.orm.aliased(Room)
    facility_of_asked = sa.select(asked.facility_id).where(asked.id == sa.bindparam("room_id")).scalar_subquery()
    return (sa.select(Room).join(Room.facility).options(sa.orm.contains_eager(Room.facility))
            .where(Room.facility_id == facility_of_asked))


@functools.lru_cache(maxsize=2)
def _monthly_count_statement(by_organization: bool):
    who = Booking.organization_id if by_organization else Booking.user_id
    return sa.select(sa.func.count(Booking.id)).where(
        who == sa.bindparam("who"), Booking.state.in_(sorted(ACTIVE_STATES)),
        Booking.day >= sa.bindparam("first"), Booking.day < sa.bindparam("after"))


@functools.lru_cache(maxsize=1)
def _fee_rates_statement():
    return sa.select(FeeRate.slot_code, FeeRate.amount_yen).where(
        FeeRate.room_id == sa.bindparam("room_id"), FeeRate.category == sa.bindparam("category"))


def window_days(facility: Facility, category: UserCategory) -> int:
    """How many days ahead CATEGORY may book at FACILITY."""
    return facility.window_days_resident if category == UserCategory.RESIDENT else facility.window_days_other


def _penalised():
    """A late cancellation or a no-show. The partial index ix_bookings_penalised_user_id repeats this WHERE
    (models.PENALISED_WHERE); SQLite uses the index only when the query has the same term."""
    return sa.or_(Booking.late_cancellation.is_(True), Booking.no_show_at.is_not(None))


@functools.lru_cache(maxsize=1)
def _any_penalty_statement():
    """Whether the user has a late-cancelled or no-show booking: one lookup in the small partial index
    ix_bookings_penalised_user_id (built once: each booking asks)."""
    return sa.select(Booking.id).where(Booking.user_id == sa.bindparam("user_id"), _penalised()).limit(1)


@functools.lru_cache(maxsize=1)
def _penalties_statement():
    exempt = sa.exists().where(
        ExemptDay.day == Booking.day,
        sa.or_(ExemptDay.facility_id.is_(None), ExemptDay.facility_id == Booking.facility_id),
    )
    return (sa.select(Booking.cancelled_at, Booking.late_cancellation, Booking.no_show_at,
                      Facility.late_cancel_ban_days, Facility.no_show_ban_days)
            .join(Facility, Facility.id == Booking.facility_id)
            .where(Booking.user_id == sa.bindparam("user_id"), ~exempt, _penalised()))


def _penalties(user_id: int) -> list:
    """(cancelled_at, late_cancellation, no_show_at, late_cancel_ban_days, no_show_ban_days) of the user's late
    cancellations and no-shows, except those on exempt days. Most users have none: a single-table lookup says so
    before the join (whose planning alone took 1-2 ms on PostgreSQL at each booking)."""
    if db.session.execute(_any_penalty_statement(), {"user_id": user_id}).first() is None:
        return []
    return db.session.execute(_penalties_statement(), {"user_id": user_id}).all()


def ban_until(user_id: int, *, now: datetime | None = None) -> datetime | None:
    """The end of the user's booking ban after a late cancellation or a no-show, or None.

    Bookings on a day staff marked exempt (weather, heat alert) for their facility or ward-wide bar nobody.
    """
    now = now or utcnow()
    rows = _penalties(user_id)
    ends = []
    for cancelled_at, late, no_show_at, late_days, no_show_days in rows:
        if late and cancelled_at and late_days > 0:
            ends.append(cancelled_at + timedelta(days=late_days))
        if no_show_at and no_show_days > 0:
            ends.append(no_show_at + timedelta(days=no_show_days))
    latest = max(ends, default=None)
    return latest if latest and latest > now else None


BAN_LATE_CANCELLATION = "late_cancellation"
BAN_NO_SHOW = "no_show"


def ban_reasons(user_id: int, *, now: datetime | None = None) -> dict[str, datetime]:
    """Why the user is barred now: {BAN_LATE_CANCELLATION or BAN_NO_SHOW: the end of the ban it brings}.

    Empty when ban_until() is None; the latest end is ban_until(). The desk shows staff why and until when before
    they book for a barred resident. Exempt days bar nobody, as in ban_until()."""
    now = now or utcnow()
    rows = _penalties(user_id)
    reasons: dict[str, datetime] = {}
    for cancelled_at, late, no_show_at, late_days, no_show_days in rows:
        for reason, start, days in ((BAN_LATE_CANCELLATION, cancelled_at if late else None, late_days),
                                    (BAN_NO_SHOW, no_show_at, no_show_days)):
            end = start + timedelta(days=days) if start and days > 0 else None
            if end and end > now and (reason not in reasons or end > reasons[reason]):
                reasons[reason] = end
    return reasons


def parse_units(room: Room, day: date, keys: list[str], *, slots, holidays) -> list[Unit]:
    """The units named by KEYS for ROOM on DAY; an unknown key or a slot of another facility is refused."""
    if not keys:
        raise UnknownSlot(_l("時間区分を1つ以上選んでください。"))
    offered = {u.key: u for u in units_for(RoomNode(room.id, room.parent_id, room.hourly),
                                           slots_for_day(slots, day, holidays))}
    chosen = []
    for key in dict.fromkeys(keys):
        if key not in offered:
            raise UnknownSlot(_l("選んだ時間区分はこの部屋のこの日にはありません。もう一度選んでください。"))
        chosen.append(offered[key])
    return sorted(chosen, key=lambda u: u.start)


def quote(
    *,
    user,
    room_id: int,
    day: date,
    unit_keys: list[str],
    attendees: int,
    category: UserCategory,
    organization_id: int | None = None,
    equipment_ids: list[int] | None = None,
    now: datetime | None = None,
    on_behalf: bool = False,
    lottery_award: bool = False,
) -> Quote:
    """Check every rule for a booking and price it, without writing. Raises a BookingError when a rule fails.

    LOTTERY_AWARD: a winner confirms the slot a lottery gave them (app/lottery/entries.py): the lottery's
    own windows and limits replace the booking window, the monthly limit and the 抽 block; every other rule,
    the fees and 減免 are those of any booking."""
    now = now or utcnow()
    today = to_tokyo(now).date()
    rooms = list(db.session.scalars(_sibling_rooms_statement(), {"room_id": room_id}))
    room = next((r for r in rooms if r.id == room_id), None)
    if room is None or not room.active:
        raise RoomNotFound(_l("その部屋は見つかりません。"))
    facility = room.facility
    organization = _organization_for(user, organization_id, on_behalf=on_behalf)
    if not on_behalf:
        banned = ban_until(user.id, now=now)
        if banned:
            raise Banned(_l("直前の取消しがあったため、{day}まで新しい予約はできません。").format(
                day=to_tokyo(banned).date().isoformat()))
    if day < today:
        raise PastDate(_l("過ぎた日は予約できません。"))
    if (day - today).days < facility.min_lead_days:
        raise OutsideWindow(_l("この施設は{n}日前までに予約してください。").format(n=facility.min_lead_days))
    window = window_days(facility, category)
    if (day - today).days > window and not lottery_award:
        raise OutsideWindow(_l("この区分の予約は{n}日先までです。").format(n=window))
    if room.verified_groups_only and not (organization and organization.is_verified):
        raise NotAllowed(_l("この部屋は登録団体だけが予約できます。"))
    if attendees > room.capacity:
        raise OverCapacity(_l("人数が定員({n}人)を超えています。").format(n=room.capacity))
    if attendees < 1:
        raise OverCapacity(_l("人数は1人以上で入力してください。"))

    slots = facility_queries.facility_slots(facility.id)
    holidays = facility_queries.holidays_between(day, day + timedelta(days=1))
    nodes = [RoomNode(r.id, r.parent_id, r.hourly) for r in rooms]
    closures, lotteries = facility_queries.facility_spans(facility.id, day, day + timedelta(days=1), now=now)
    related_ids = related(nodes)[room.id]
    if (facility.closed_on_holidays and day in holidays) or span_covers(closures, day, related_ids):
        raise ClosedDay(_l("この日は休館日(または使用できない日)です。別の日を選んでください。"))
    if span_covers(lotteries, day, related_ids) and not lottery_award:
        raise ClosedDay(_l("この日は抽選の期間です。先着順の予約はまだできません。"))
    units = parse_units(room, day, unit_keys, slots=slots, holidays=holidays)
    if day == today:
        local = to_tokyo(now)
        if any(u.start < local.hour * 60 + local.minute for u in units):
            raise PastDate(_l("始まる時刻を過ぎた時間区分は予約できません。"))

    if not lottery_award:
        _check_monthly_limit(user, organization, facility, day, on_behalf=on_behalf)
    equipment = _equipment(facility.id, equipment_ids or [])
    fees, gross, percent, reduction = _price(room, units, category, organization,
                                             extra=sum(e.fee_yen for e in equipment))
    net = gross - reduction
    if room.requires_approval:
        state, hold = BookingState.REQUESTED, None
    elif net > 0 and facility.tentative_hold_days > 0:
        state = BookingState.TENTATIVE
        hold = hold_deadline(now, day, min(u.start for u in units), facility.tentative_hold_days)
    else:
        state, hold = BookingState.CONFIRMED, None
    rules = [
        str(_l("予約後{n}分以内の取消しは、理由を問わず影響はありません。").format(
            n=current_app.config["BOOKING_UNDO_MINUTES"])),
        str(_l("利用日の{d}日前を過ぎた取消しは、{b}日間新しい予約ができなくなります。").format(
            d=facility.cancel_deadline_days, b=facility.late_cancel_ban_days))
        if facility.late_cancel_ban_days else str(_l("利用日の{d}日前までに取り消してください。").format(
            d=facility.cancel_deadline_days)),
        str(_l("この区分では{n}日先まで予約できます。").format(n=window)),
    ]
    # Every configured rule of the facility and room, whether or not it bites this time (the issue: who may book,
    # how far ahead, lead time, the monthly limit are shown before the user commits).
    if facility.min_lead_days > 0:
        rules.append(str(_l("この施設は{n}日前までに予約してください。").format(n=facility.min_lead_days)))
    if not lottery_award:
        rules.append(str(_l("1か月に予約できるのは{n}件までです。").format(n=facility.max_active_per_month)))
    if room.verified_groups_only:
        rules.append(str(_l("この部屋は登録団体だけが予約できます。")))
    if state == BookingState.TENTATIVE:
        rules.append(str(_l("仮予約です。期限までに窓口で使用料を支払うと確定します。")))
    if state == BookingState.REQUESTED:
        rules.append(str(_l("この部屋は職員の承認が必要です。")))
    return Quote(facility, room, day, units, category, organization, fees, gross, percent, reduction, net,
                 state, hold, rules, equipment, leaves(nodes)[room.id])


def _organization_for(user, organization_id: int | None, *, on_behalf: bool) -> Organization | None:
    if organization_id is None:
        return None
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise BookingError(_l("その団体は見つかりません。"))
    if on_behalf:
        return organization
    membership = db.session.scalar(sa.select(Membership).where(
        Membership.organization_id == organization_id, Membership.user_id == user.id))
    if membership is None or membership.role != MembershipRole.OFFICER:
        raise NotAllowed(_l("団体として予約できるのは、その団体の役員だけです。"))
    return organization


def _check_monthly_limit(user, organization, facility: Facility, day: date, *, on_behalf: bool) -> None:
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    if on_behalf and organization is None:
        return
    count = db.session.scalar(_monthly_count_statement(organization is not None),
                              {"who": organization.id if organization else user.id, "first": first, "after": after})
    if count >= facility.max_active_per_month:
        raise TooManyBookings(_l("1か月に予約できるのは{n}件までです。").format(n=facility.max_active_per_month))


def _equipment(facility_id: int, ids: list[int]) -> list[Equipment]:
    """The chosen 付帯設備; one of another facility (or unknown) is refused."""
    if not ids:
        return []
    wanted = set(ids)
    found = list(db.session.scalars(sa.select(Equipment).where(
        Equipment.id.in_(sorted(wanted)), Equipment.facility_id == facility_id, Equipment.active.is_(True))
        .order_by(Equipment.id)))
    if len(found) != len(wanted):
        raise UnknownSlot(_l("選んだ付帯設備はこの施設にはありません。もう一度選んでください。"))
    return found


HOLD_DEADLINE_AT = time(23, 59)  # a 仮予約's payment deadline: the end of a day, as the desk and the mail say it


def hold_deadline(now: datetime, day: date, first_minute: int, hold_days: int) -> datetime:
    """The payment deadline of a 仮予約 made at NOW for DAY: the end (23:59, Tokyo) of the day HOLD_DAYS from now,
    but no later than the end of the day before the use; a booking for today or tomorrow made too late for that
    is held until its first 時間区分 starts (pay at the desk before using the room). Never 00:00 of the day of use,
    which read as a deadline already past the evening before."""
    today = to_tokyo(now).date()
    latest = tokyo_to_utc(today + timedelta(days=hold_days), HOLD_DEADLINE_AT)
    eve = tokyo_to_utc(day - timedelta(days=1), HOLD_DEADLINE_AT)
    if eve > now:
        return min(latest, eve)
    return tokyo_to_utc(day, time(0, 0)) + timedelta(minutes=first_minute)


def _price(room: Room, units: list[Unit], category: UserCategory, organization: Organization | None, *,
           extra: int = 0):
    rates = dict(db.session.execute(_fee_rates_statement(), {"room_id": room.id, "category": category}).all())
    fees = []
    for unit in units:
        code = HOURLY_FEE_CODE if unit.hourly else unit.slot.code
        if code not in rates:
            raise FeeNotSet(_l("この部屋の使用料が設定されていません。施設にお問い合わせください。"))
        fees.append(rates[code])
    gross = sum(fees) + extra  # 付帯設備 are charged on top of the room
    percent = 0
    if organization is not None and category != UserCategory.COMMERCIAL:
        rule = db.session.scalar(sa.select(FeeReduction).where(FeeReduction.organization_kind == organization.kind))
        if rule and (organization.is_verified or not rule.requires_verified):
            percent = rule.percent
    reduction = gross * percent // 100
    return fees, gross, percent, reduction


def _claim_cells(booking: Booking, q: Quote, day: date) -> None:
    """Claim every 30-minute cell of every leaf room the booking holds: the unique (room, day, cell) constraint of
    booking_claims is what refuses a double booking, whatever raced it."""
    db.session.execute(sa.insert(BookingClaim), [
        {"booking_id": booking.id, "room_id": leaf, "day": day, "cell": c}
        for leaf in sorted(q.leaf_ids) for u in q.units for c in cells(u.start, u.end)
    ])


def _lock_rules(user, room_id: int, day: date, organization_id: int | None, *, on_behalf: bool) -> None:
    """Before quote() checks them, hold the locks of the rules a concurrent writer could break (app/core/locks.py):
    the facility's calendar, shared (a closure being added takes it exclusive, so it is not added between this
    booking's check and its write), then the booker's month of the monthly limit, exclusive (two bookings of one
    person or group in one month count one after the other; the limit counts every facility, so the key names
    no facility). Always in that order, so two bookings never wait on each other. Nothing on SQLite."""
    if not locks.enabled():
        return
    taken = [locks.lock_expression("facility-calendar", Room.facility_id, shared=True)]
    if not (on_behalf and organization_id is None):  # the desk booking for a person has no limit (_check_monthly_limit)
        who = ("organization", organization_id) if organization_id is not None else ("user", user.id)
        taken.append(locks.lock_expression("monthly-limit", *who, f"{day:%Y-%m}"))
    # One statement finds the room's facility and takes both locks; an unknown room takes none (quote() refuses it).
    db.session.execute(sa.select(*taken).where(Room.id == room_id))


def book_slots(
    *,
    user,
    room_id: int,
    day: date,
    unit_keys: list[str],
    purpose: str,
    attendees: int,
    category: UserCategory,
    organization_id: int | None = None,
    equipment_ids: list[int] | None = None,
    actor=None,
    now: datetime | None = None,
    lottery_award: bool = False,
    series_id: int | None = None,
    ban_override_reason: str | None = None,
    expected_net_yen: int | None = None,
) -> Booking:
    """Book UNITS of a room for USER. The unique cell constraint decides races: a loser gets SlotTaken, and
    the caller must then roll back the transaction. LOTTERY_AWARD: see quote(). SERIES_ID: an occurrence of a
    weekly series (app/bookings/series.py), which sends one e-mail for the whole series instead of one each.
    BAN_OVERRIDE_REASON: the desk booked for a barred resident (ban_until()) on purpose; audited with the reason.
    EXPECTED_NET_YEN: the fee of the summary the user confirmed; a different fee now raises QuoteChanged (with the
    new quote) and books nothing."""
    now = now or utcnow()
    actor = actor or user
    on_behalf = actor.id != user.id
    _lock_rules(user, room_id, day, organization_id, on_behalf=on_behalf)
    q = quote(user=user, room_id=room_id, day=day, unit_keys=unit_keys, attendees=attendees, category=category,
              organization_id=organization_id, equipment_ids=equipment_ids, now=now, on_behalf=on_behalf,
              lottery_award=lottery_award)
    if expected_net_yen is not None and q.net != expected_net_yen:
        raise QuoteChanged(_l("料金が、確かめたときと変わりました。新しい内容を確かめてから予約してください。"),
                           quote=q)
    booking = Booking(
        user_id=user.id, organization_id=q.organization.id if q.organization else None,
        facility_id=q.facility.id, room_id=q.room.id, day=day, state=q.state, category=category,
        purpose=purpose, attendees=attendees, fee_gross_yen=q.gross, fee_reduction_yen=q.reduction,
        fee_net_yen=q.net, reduction_percent=q.reduction_percent, created_by_id=actor.id, created_at=now,
        hold_until=q.hold_until, confirmed_at=now if q.state == BookingState.CONFIRMED else None,
        series_id=series_id,
    )
    booking.items = [
        BookingItem(slot_code=u.slot.code if not u.hourly else HOURLY_FEE_CODE, label_ja=u.slot.label,
                    start_minute=u.start, end_minute=u.end, fee_yen=fee)
        for u, fee in zip(q.units, q.fees, strict=True)
    ]
    booking.equipment = [BookingEquipment(equipment_id=e.id, name_ja=e.name_ja, fee_yen=e.fee_yen)
                         for e in q.equipment]
    db.session.add(booking)
    db.session.flush()  # a failure here is a real error, never reported as a taken slot
    try:
        # Only the claims go in the savepoint: their unique constraint is the one that may fail. One executemany
        # (core insert, no ORM objects): a slot is 6-8 cells per leaf room, a whole hall twice that.
        with db.session.begin_nested():
            _claim_cells(booking, q, day)
    except IntegrityError:
        # The caller rolls back (the booking row added above must not be kept).
        raise SlotTaken(
            _l("申し訳ありません。選んだ時間は、ほかの方が先に予約しました。"),
            alternatives=find_alternatives(q.room, day, q.units, attendees) if series_id is None else [],
        ) from None
    if series_id is None:
        _queue_confirmation(booking, user)
    record_audit("booking.create", actor_id=actor.id, target_type="booking", target_id=booking.id,
                 details={"room_id": q.room.id, "day": day.isoformat(), "state": q.state.value,
                          "on_behalf": on_behalf, "organization_id": booking.organization_id,
                          **({"series_id": series_id} if series_id else {}),
                          **({"ban_override": True, "ban_reason": ban_override_reason}
                             if ban_override_reason else {})})
    return booking


def _queue_confirmation(booking: Booking, user) -> None:
    """The confirmation e-mail with an .ics, queued in the outbox of this transaction (sent after commit)."""
    base_url = current_app.config["BASE_URL"]
    ics = bookings_calendar([booking], name="Tsudoi", base_url=base_url).decode("utf-8")
    queue_mail(to=user.email, subject=_l("施設の予約を受け付けました"), template="bookings/confirmation",
               language=user.preferred_language, attachments=[Attachment("booking.ics", "text/calendar", ics)],
               user=user, booking=booking, url=f"{base_url}/bookings/{booking.id}")


@dataclass
class Alternative:
    """A room where the same ranges are free on the same day."""

    room: Room
    unit_keys: list[str]


def find_alternatives(room: Room, day: date, units: list[Unit], attendees: int, *, limit: int = 5):
    """Other rooms (same facility first) that offer the same time ranges free on DAY, with enough capacity."""
    wanted = {(u.start, u.end) for u in units}
    candidates = list(db.session.scalars(
        sa.select(Room).where(Room.id != room.id, Room.active.is_(True), Room.capacity >= attendees)
        .order_by(sa.case((Room.facility_id == room.facility_id, 0), else_=1), Room.facility_id, Room.sort_order)
    ))
    holidays = facility_queries.holidays_between(day, day + timedelta(days=1))
    by_facility: dict[int, list[Room]] = {}
    for candidate in candidates:
        by_facility.setdefault(candidate.facility_id, []).append(candidate)
    found: list[Alternative] = []
    for facility_id, facility_rooms in by_facility.items():
        all_rooms = _facility_rooms(facility_id)
        nodes = [RoomNode(r.id, r.parent_id, r.hourly) for r in all_rooms]
        leaf_of, related_of = leaves(nodes), related(nodes)
        facility = db.session.get(Facility, facility_id)
        if facility.closed_on_holidays and day in holidays:
            continue
        closures, lotteries = facility_queries.facility_spans(facility_id, day, day + timedelta(days=1))
        claims = claims_between([r.id for r in all_rooms], day, day + timedelta(days=1))
        day_slots = slots_for_day(facility_queries.facility_slots(facility_id), day, holidays)
        for candidate in facility_rooms:
            if span_covers(closures, day, related_of[candidate.id]) or span_covers(lotteries, day,
                                                                                   related_of[candidate.id]):
                continue
            offered = {(u.start, u.end): u for u in units_for(nodes[all_rooms.index(candidate)], day_slots)}
            if not wanted <= offered.keys():
                continue
            if any((leaf, day, c) in claims for leaf in leaf_of[candidate.id] for s, e in wanted
                   for c in cells(s, e)):
                continue
            found.append(Alternative(candidate, [offered[r].key for r in sorted(wanted)]))
            if len(found) >= limit:
                return found
    return found


# Functions called with a booking whose cells were just released (cancelled, expired, rejected). Other domains
# register here (app.events.venue unlinks the events using it as their venue) so the rules stay in one place.
# The utilization rollup needs no hook: app/utilization/rollup.py sees every Booking / BookingItem row a flush
# writes (any state change, on any path) and recomputes it before the commit. Write bookings through the ORM;
# a bulk sa.update(Booking) makes the dashboards compute live until `flask utilization rebuild`.
_release_hooks: list = []


def register_release_hook(hook) -> None:
    """Call HOOK(booking) whenever a booking is cancelled, expires or is rejected (same transaction)."""
    if hook not in _release_hooks:
        _release_hooks.append(hook)


def _release(booking: Booking) -> None:
    db.session.execute(sa.delete(BookingClaim).where(BookingClaim.booking_id == booking.id))
    for hook in _release_hooks:
        hook(booking)


@dataclass
class CancellationPreview:
    """What cancelling now would mean: free undo, normal, or late (with the ban it brings)."""

    undo: bool
    late: bool
    ban_days: int
    undo_until: datetime


def cancellation_preview(booking: Booking, *, now: datetime | None = None) -> CancellationPreview:
    """The consequences of cancelling BOOKING now (shown before the user confirms)."""
    now = now or utcnow()
    facility = db.session.get(Facility, booking.facility_id)
    undo_until = booking.created_at + timedelta(minutes=current_app.config["BOOKING_UNDO_MINUTES"])
    undo = now <= undo_until
    days_left = (booking.day - to_tokyo(now).date()).days
    late = not undo and days_left < facility.cancel_deadline_days
    return CancellationPreview(undo, late, facility.late_cancel_ban_days if late else 0, undo_until)


def cancel_booking(booking: Booking, *, actor, now: datetime | None = None,
                   notify: bool = True) -> CancellationPreview:
    """Cancel BOOKING and release its cells. Within the undo window it has no consequence. NOTIFY: the booking's
    user gets an e-mail saying so (a weekly series cancelled at once sends none per date)."""
    now = now or utcnow()
    if booking.state not in ACTIVE_STATES:
        raise NotCancellable(_l("この予約はすでに取り消されているか、終了しています。"))
    if booking.day < to_tokyo(now).date():
        raise NotCancellable(_l("利用日を過ぎた予約は取り消せません。"))
    preview = cancellation_preview(booking, now=now)
    booking.state = BookingState.CANCELLED
    booking.cancelled_at = now
    # Staff cancelling for the user (a phone call, a heat alert) never bans them; another officer of the group the
    # booking is for cancels as the group (the booking's contact carries the ban, as if they had cancelled).
    booking.late_cancellation = preview.late and is_booking_side(actor, booking)
    _release(booking)
    record_audit("booking.cancel", actor_id=actor.id, target_type="booking", target_id=booking.id,
                 details={"undo": preview.undo, "late": booking.late_cancellation,
                          **({"for_user_id": booking.user_id, "organization_id": booking.organization_id}
                             if actor.id != booking.user_id else {})})
    if notify:
        _queue_cancellation(booking)
    return preview


def _queue_cancellation(booking: Booking) -> None:
    """The e-mail telling the booking's user it is cancelled, queued in this transaction (sent after commit)."""
    user = db.session.get(User, booking.user_id) if booking.user_id else None
    if user is None or not user.email:
        return
    queue_mail(to=user.email, subject=_l("施設の予約を取り消しました"), template="bookings/cancellation",
               language=user.preferred_language, user=user, booking=booking,
               url=f"{current_app.config['BASE_URL']}/bookings/{booking.id}")


def expire_tentative(*, now: datetime | None = None) -> int:
    """Expire 仮予約 past their deadline and release their cells; safe to run repeatedly. Returns how many."""
    now = now or utcnow()
    expired = list(db.session.scalars(sa.select(Booking).where(
        Booking.state == BookingState.TENTATIVE, Booking.hold_until.is_not(None), Booking.hold_until < now)))
    for booking in expired:
        booking.state = BookingState.EXPIRED
        _release(booking)
        record_audit("booking.expire", target_type="booking", target_id=booking.id)
    return len(expired)


def decide_booking(booking: Booking, *, actor, approve: bool, now: datetime | None = None) -> None:
    """Staff: approve a requested booking (confirmed) or reject it (cells released)."""
    now = now or utcnow()
    if booking.state != BookingState.REQUESTED:
        raise BookingError(_l("承認待ちの予約ではありません。"))
    if approve:
        booking.state = BookingState.CONFIRMED
        booking.confirmed_at = now
    else:
        booking.state = BookingState.REJECTED
        _release(booking)
    record_audit("booking.approve" if approve else "booking.reject", actor_id=actor.id, target_type="booking",
                 target_id=booking.id)


def record_payment(booking: Booking, *, actor, now: datetime | None = None) -> None:
    """Staff: the fee was paid at the desk; a 仮予約 becomes confirmed."""
    now = now or utcnow()
    if booking.state not in (BookingState.TENTATIVE, BookingState.CONFIRMED) or booking.paid_at:
        raise BookingError(_l("この予約には支払いを記録できません。"))
    booking.paid_at = now
    if booking.state == BookingState.TENTATIVE:
        booking.state = BookingState.CONFIRMED
        booking.confirmed_at = now
    record_audit("booking.paid", actor_id=actor.id, target_type="booking", target_id=booking.id,
                 details={"net_yen": booking.fee_net_yen})


def mark_attendance(booking: Booking, *, actor, came: bool, now: datetime | None = None) -> None:
    """Staff: the group came (checked in) or nobody came (no-show, which may bar the user). On or after the day."""
    now = now or utcnow()
    if booking.state != BookingState.CONFIRMED:
        raise BookingError(_l("確定した予約だけ、来館や無断キャンセルを記録できます。"))
    if booking.day > to_tokyo(now).date():
        raise BookingError(_l("利用日より前には記録できません。"))
    if came:
        booking.checked_in_at, booking.no_show_at = now, None
    else:
        booking.no_show_at, booking.checked_in_at = now, None
    record_audit("booking.check_in" if came else "booking.no_show", actor_id=actor.id, target_type="booking",
                 target_id=booking.id)


def add_exempt_day(*, facility_id: int | None, day: date, reason: str, actor) -> ExemptDay:
    """Staff: late cancellations and no-shows on DAY bar nobody (weather, heat alert). Idempotent per day."""
    existing = db.session.scalar(sa.select(ExemptDay).where(
        ExemptDay.day == day,
        ExemptDay.facility_id.is_(None) if facility_id is None else ExemptDay.facility_id == facility_id))
    if existing:
        return existing
    exempt = ExemptDay(facility_id=facility_id, day=day, reason_ja=reason, created_by_id=actor.id)
    db.session.add(exempt)
    db.session.flush()
    record_audit("booking.exempt_day", actor_id=actor.id, target_type="facility", target_id=facility_id,
                 details={"day": day.isoformat(), "reason": reason})
    return exempt
