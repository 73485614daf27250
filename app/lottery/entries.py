"""Lottery entries and awards: applicants enter and change ranked preferences inside their tier's window, winners
confirm (a real booking through services.book_slots) or decline, the release job frees unconfirmed awards, and
leftovers open first-come at the announced time (with the freed-slot alerts). Periods, tiers and the public
reads: app/lottery/periods.py; the draw: lottery_services.run_draw over lottery.draw (pure).

Services never commit. Every instant is UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.alerts.models import FreedCause
from app.alerts.services import slot_freed
from app.bookings import services as booking_services
from app.bookings.availability import facility_grid
from app.core.audit import record_audit
from app.core.errors import Conflict, NotAllowed
from app.core.mail import queue_mail
from app.core.time import to_tokyo, utcnow
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.availability import Status, cells, leaves, related, slots_for_day
from app.facilities.models import Facility, Room
from app.lottery import services as lottery_services
from app.lottery.draw import SlotKey
from app.lottery.errors import BadPreferences, LotteryError, NotOpen, WindowClosed
from app.lottery.models import ANY_OTHER, INDIVIDUAL, LotteryEntry, LotteryPeriod, LotteryTier
from app.lottery.periods import award, draw_of, tiers_of
from app.organizations.models import Membership, MembershipRole, Organization


class PreferenceProblem(BadPreferences):
    """One ranked preference cannot be entered; RANK says which (1 = first choice)."""

    def __init__(self, message=None, *, rank: int | None = None):
        super().__init__(message)
        self.rank = rank


# --- applicants -----------------------------------------------------------------------------------------------


@dataclass
class Applicant:
    """Who may apply: a verified group the user is an officer of, or the user themself; and their tier."""

    organization: Organization | None
    kind: str
    tier: LotteryTier | None

    @property
    def value(self) -> str:
        return str(self.organization.id) if self.organization else ""


def tier_for(tiers: Sequence[LotteryTier], kind: str) -> LotteryTier | None:
    """The tier an applicant kind belongs to: the first naming it, else (groups) the one with ANY_OTHER."""
    for tier in tiers:
        if kind in tier.kinds:
            return tier
    if kind != INDIVIDUAL:
        for tier in tiers:
            if ANY_OTHER in tier.kinds:
                return tier
    return None


def applicants(period: LotteryPeriod, user) -> list[Applicant]:
    """The ways USER may apply to PERIOD: their verified groups (as officer), and themself if allowed."""
    tiers = tiers_of(period.id)
    groups = db.session.scalars(
        sa.select(Organization).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id, Membership.role == MembershipRole.OFFICER)
        .order_by(Organization.name_ja))
    found = [Applicant(o, o.kind.value, tier_for(tiers, o.kind.value)) for o in groups if o.is_verified]
    if period.allow_individuals:
        found.append(Applicant(None, INDIVIDUAL, tier_for(tiers, INDIVIDUAL)))
    return found


@dataclass
class Window:
    """Whether USER may enter a period now: open, or when it opens for them, or why not at all."""

    open: bool
    opens_at: datetime | None = None  # the earliest of their windows still to open, when none is open now
    closed: bool = False  # every window of theirs has closed
    no_tier: bool = False  # no tier takes any of their applicant kinds


def entry_window(found: Sequence[Applicant], now: datetime) -> Window:
    """The entry window of someone who may apply as FOUND (applicants()), at NOW: the page offers the form only
    while one of their tiers is open, and otherwise says when it opens."""
    tiers = [a.tier for a in found if a.tier is not None]
    if not tiers:
        return Window(open=False, no_tier=True)
    if any(t.opens_at <= now < t.closes_at for t in tiers):
        return Window(open=True)
    upcoming = [t.opens_at for t in tiers if now < t.opens_at]
    return Window(open=False, opens_at=min(upcoming)) if upcoming else Window(open=False, closed=True)


def _is_officer(user, organization_id: int) -> bool:
    return db.session.scalar(sa.select(Membership.id).where(
        Membership.organization_id == organization_id, Membership.user_id == user.id,
        Membership.role == MembershipRole.OFFICER)) is not None


def can_act_for(user, entry: LotteryEntry) -> bool:
    """The entrant, or (for a group's entry) any officer of that group."""
    if entry.organization_id is not None:
        return _is_officer(user, entry.organization_id)
    return entry.user_id == user.id


def _check_window(tier: LotteryTier | None, now: datetime) -> None:
    if tier is None:
        raise NotAllowed(_l("この抽選には、あなたの区分からは申し込めません。"))
    if now < tier.opens_at:
        raise WindowClosed(_l("まだ受付前です。%(when)sから申し込めます。",
                              when=to_tokyo(tier.opens_at).strftime("%Y-%m-%d %H:%M")))
    if now >= tier.closes_at:
        raise WindowClosed(_l("受付は終わりました。申込の追加や変更はできません。"))


def check_preferences(period: LotteryPeriod, preferences: Sequence[SlotKey], *, max_preferences: int) -> None:
    """Each preference must be a lottery slot of the period: its room, its month, a 時間区分 of that day, not a
    closed day, not already used (行政使用). Raises PreferenceProblem naming the preference."""
    if not preferences:
        raise BadPreferences(_l("希望を1つ以上選んでください。"))
    if len(preferences) > max_preferences:
        raise BadPreferences(_l("希望は%(n)s件までです。", n=max_preferences))
    facility = db.session.get(Facility, period.facility_id)
    data = facility_grid(facility, period.start_date, period.end_date)
    nodes = [facility_queries.room_node(r) for r in data.rooms]
    leaf_of, family = leaves(nodes), related(nodes)
    scope = family.get(period.room_id, frozenset()) if period.room_id is not None else {r.id for r in data.rooms}
    hourly = {r.id for r in data.rooms if r.hourly}
    seen: set[SlotKey] = set()
    for rank, slot in enumerate(preferences, start=1):
        day = slot.day.isoformat()
        if slot in seen:
            raise PreferenceProblem(_l("第%(rank)s希望は、前の希望と同じです。", rank=rank), rank=rank)
        seen.add(slot)
        if slot.room_id not in scope or slot.room_id in hourly:
            raise PreferenceProblem(_l("第%(rank)s希望の部屋は、この抽選の対象ではありません。", rank=rank), rank=rank)
        if not period.start_date <= slot.day < period.end_date:
            raise PreferenceProblem(_l("第%(rank)s希望の日(%(day)s)は、対象の月ではありません。", rank=rank, day=day),
                                    rank=rank)
        cell = next((c for c in data.grid.row(slot.room_id, slot.day) if c.slot.code == slot.slot_code), None)
        if cell is None:
            raise PreferenceProblem(_l("第%(rank)s希望: %(day)sには、この時間区分はありません。", rank=rank, day=day),
                                    rank=rank)
        if cell.status == Status.CLOSED:
            raise PreferenceProblem(_l("第%(rank)s希望: %(day)sは休館日です。", rank=rank, day=day), rank=rank)
        if any((leaf, slot.day, c) in data.claims for leaf in leaf_of[slot.room_id]
               for c in cells(cell.slot.start, cell.slot.end)):
            raise PreferenceProblem(_l("第%(rank)s希望: %(day)sのこの時間区分は、行政使用などで使えません。",
                                       rank=rank, day=day), rank=rank)


def apply(period: LotteryPeriod, *, user, organization_id: int | None, preferences: Sequence[SlotKey],
          now: datetime | None = None) -> LotteryEntry:
    """USER enters PERIOD for their group (as its officer) or for themself, inside their tier's window."""
    now = now or utcnow()
    choices = {a.organization.id if a.organization else None: a for a in applicants(period, user)}
    applicant = choices.get(organization_id)
    if applicant is None:
        if organization_id is None:
            raise NotAllowed(_l("この抽選は団体だけが申し込めます。"))
        raise NotAllowed(_l("団体として申し込めるのは、登録が確認された団体の役員だけです。"))
    _check_window(applicant.tier, now)
    draw = draw_of(period.id)
    if draw is None or draw.is_drawn:
        raise NotOpen(_l("この抽選は申込を受け付けていません。"))
    check_preferences(period, preferences, max_preferences=draw.max_preferences)
    return lottery_services.enter(period, user=user, organization_id=organization_id, tier=applicant.tier.rank,
                                  preferences=preferences, now=now)


def _entry_tier(entry: LotteryEntry) -> LotteryTier | None:
    return db.session.scalar(sa.select(LotteryTier).where(LotteryTier.period_id == entry.period_id,
                                                          LotteryTier.rank == entry.tier))


def change(entry: LotteryEntry, *, user, preferences: Sequence[SlotKey], now: datetime | None = None) -> None:
    """Replace an entry's preferences while its tier's window is open."""
    now = now or utcnow()
    if not can_act_for(user, entry):
        raise NotAllowed(_l("この申込を変更する権限がありません。"))
    _check_window(_entry_tier(entry), now)
    period = db.session.get(LotteryPeriod, entry.period_id)
    draw = draw_of(period.id)
    check_preferences(period, preferences, max_preferences=draw.max_preferences)
    lottery_services.change_entry(entry, preferences=preferences, now=now)
    record_audit("lottery.change", actor_id=user.id, target_type="lottery_entry", target_id=entry.id)


def withdraw(entry: LotteryEntry, *, user, now: datetime | None = None) -> None:
    """Withdraw an entry while its tier's window is open (its number is not reused)."""
    now = now or utcnow()
    if not can_act_for(user, entry):
        raise NotAllowed(_l("この申込を取り下げる権限がありません。"))
    _check_window(_entry_tier(entry), now)
    record_audit("lottery.withdraw", actor_id=user.id, target_type="lottery_entry", target_id=entry.id)
    db.session.delete(entry)
    db.session.flush()


def entries_for(user, *, period_id: int | None = None) -> list[LotteryEntry]:
    """Entries USER may see and act on: their own, and those of groups they are an officer of."""
    groups = sa.select(Membership.organization_id).where(Membership.user_id == user.id,
                                                         Membership.role == MembershipRole.OFFICER)
    stmt = (sa.select(LotteryEntry)
            .where(sa.or_(sa.and_(LotteryEntry.organization_id.is_(None), LotteryEntry.user_id == user.id),
                          LotteryEntry.organization_id.in_(groups)))
            .order_by(LotteryEntry.period_id.desc(), LotteryEntry.id)
            .options(sa.orm.selectinload(LotteryEntry.preferences)))
    if period_id is not None:
        stmt = stmt.where(LotteryEntry.period_id == period_id)
    return list(db.session.scalars(stmt))


# --- after the draw: confirm, decline, release, leftovers ------------------------------------------------------


def award_state(entry: LotteryEntry, period: LotteryPeriod, now: datetime) -> str:
    """none (lost or not drawn) | confirmed | released | open (may confirm now) | lapsed (deadline passed)."""
    if entry.won_rank is None:
        return "none"
    if entry.confirmed_at is not None:
        return "confirmed"
    if entry.released_at is not None:
        return "released"
    if period.confirm_until is not None and now >= period.confirm_until:
        return "lapsed"
    return "open"


def _lock_entry(entry: LotteryEntry) -> None:
    """Lock and re-read the entry: two officers confirming at once, or the release job, wait for each other
    (FOR UPDATE on PostgreSQL; SQLite serialises writers) and the second sees the first one's outcome.
    (tests/lottery/test_entries.py switches this off in a control run to show its race test bites.)"""
    db.session.refresh(entry, with_for_update=True)


def _check_award_open(entry: LotteryEntry, user, now: datetime) -> tuple[LotteryPeriod, SlotKey]:
    if not can_act_for(user, entry):
        raise NotAllowed(_l("この申込を確定する権限がありません。"))
    _lock_entry(entry)
    period = db.session.get(LotteryPeriod, entry.period_id)
    state = award_state(entry, period, now)
    if state == "none":
        raise LotteryError(_l("この申込は当選していません。"))
    if state == "confirmed":
        raise Conflict(_l("この当選はすでに確定しています。"))
    if state in ("released", "lapsed"):
        raise Conflict(_l("確定の期限が過ぎたか辞退したため、この当選は取り消されました。"))
    return period, award(entry)


def unit_key_for(slot: SlotKey, facility_id: int) -> str:
    """The booking form's unit key ('s<slot id>') of a lottery slot's 時間区分 on its day."""
    holidays = facility_queries.holidays_between(slot.day, slot.day + timedelta(days=1))
    for s in slots_for_day(facility_queries.facility_slots(facility_id), slot.day, holidays):
        if s.code == slot.slot_code:
            return f"s{s.id}"
    raise LotteryError(_l("この日の時間区分が変わったため、確定できません。施設にお問い合わせください。"))


def confirm_award(entry: LotteryEntry, *, user, purpose: str, attendees: int, category,
                  now: datetime | None = None):
    """The winner confirms: the slot becomes a booking through services.book_slots (fees, 減免, approval, the
    claims table against any double booking). Raises what book_slots raises; the caller rolls back."""
    now = now or utcnow()
    period, slot = _check_award_open(entry, user, now)
    booking = booking_services.book_slots(
        user=user, room_id=slot.room_id, day=slot.day, unit_keys=[unit_key_for(slot, period.facility_id)],
        purpose=purpose, attendees=attendees, category=category, organization_id=entry.organization_id,
        now=now, lottery_award=True)
    entry.booking_id = booking.id
    entry.confirmed_at = now
    record_audit("lottery.confirm", actor_id=user.id, target_type="lottery_entry", target_id=entry.id,
                 details={"booking_id": booking.id})
    return booking


def decline_award(entry: LotteryEntry, *, user, now: datetime | None = None) -> None:
    """The winner gives the slot back; it opens first-come with the leftovers."""
    now = now or utcnow()
    _check_award_open(entry, user, now)
    entry.released_at, entry.release_reason = now, "declined"
    record_audit("lottery.decline", actor_id=user.id, target_type="lottery_entry", target_id=entry.id)


def release_expired_awards(*, now: datetime | None = None) -> int:
    """Release awards not confirmed by their period's deadline and tell the entrant. Idempotent: a released
    award is never touched again. Returns how many were released (the `lottery.release-unconfirmed` job)."""
    now = now or utcnow()
    rows = list(db.session.scalars(
        sa.select(LotteryEntry).join(LotteryPeriod, LotteryPeriod.id == LotteryEntry.period_id)
        .where(LotteryEntry.won_rank.is_not(None), LotteryEntry.confirmed_at.is_(None),
               LotteryEntry.released_at.is_(None), LotteryPeriod.confirm_until.is_not(None),
               LotteryPeriod.confirm_until <= now)
        .order_by(LotteryEntry.id).with_for_update(of=LotteryEntry)))
    for entry in rows:
        entry.released_at, entry.release_reason = now, "expired"
        record_audit("lottery.release", target_type="lottery_entry", target_id=entry.id)
        user = db.session.get(User, entry.user_id) if entry.user_id else None
        if user is not None:
            period = db.session.get(LotteryPeriod, entry.period_id)
            slot = award(entry)
            queue_mail(to=user.email, subject=_l("抽選の当選を取り消しました"), template="bookings/lottery_released",
                       language=user.preferred_language, user=user, entry=entry, period=period, slot=slot,
                       deadline=period.confirm_until - timedelta(seconds=1),
                       facility=db.session.get(Facility, period.facility_id), room=db.session.get(Room, slot.room_id))
    return len(rows)


def open_due_leftovers(*, now: datetime | None = None) -> int:
    """At each period's announced time, its released and leftover slots open first-come (the grid stops
    showing 抽 by itself: see facilities.queries.lottery_blocks). This job marks the period opened once and
    tells the freed-slot alerts which slots became bookable. Idempotent. Returns how many periods opened."""
    now = now or utcnow()
    periods = list(db.session.scalars(
        sa.select(LotteryPeriod).where(LotteryPeriod.leftovers_open_at.is_not(None),
                                       LotteryPeriod.leftovers_open_at <= now,
                                       LotteryPeriod.leftovers_opened_at.is_(None))
        .order_by(LotteryPeriod.id).with_for_update()))
    for period in periods:
        period.leftovers_opened_at = now
        draw = draw_of(period.id)
        booked = {award(e) for e in db.session.scalars(
            sa.select(LotteryEntry).where(LotteryEntry.period_id == period.id, LotteryEntry.confirmed_at.is_not(None))
            .options(sa.orm.selectinload(LotteryEntry.preferences)))}
        tokens = (draw.available_slots or []) if draw is not None and draw.is_drawn else []
        # A confirmed hall also holds its halves (and a half the whole hall): those did not open.
        for a, b in (draw.overlapping_slots or []) if tokens else []:
            if SlotKey.from_token(a) in booked:
                booked.add(SlotKey.from_token(b))
        opened = [s for s in map(SlotKey.from_token, tokens) if s not in booked]
        record_audit("lottery.leftovers_open", target_type="lottery_period", target_id=period.id,
                     details={"slots": len(opened)})
        notify_freed_slots(opened, now=now)
    return len(periods)


def notify_freed_slots(slots: Sequence[SlotKey], *, now: datetime) -> None:
    """THE single call site for freed-slot alerts from lotteries: the slots of a period that just opened
    first-come (released awards and leftovers; the alerts job re-checks each against the claims table)."""
    by_room_day: dict[tuple[int, date], list[str]] = {}
    for slot in sorted(slots):
        by_room_day.setdefault((slot.room_id, slot.day), []).append(slot.slot_code)
    for (room_id, day), codes in by_room_day.items():
        slot_freed(room_id=room_id, day=day, cause=FreedCause.LOTTERY, slot_codes=codes, now=now)
