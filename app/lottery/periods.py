"""Lottery periods as staff configure them: the covered month, priority tiers by applicant kind with their own
entry windows, limits, draw date, winners' confirmation deadline and first-come opening; the staff draw button;
and the public reads (phase, results by entry number). Entries and awards: app/lottery/entries.py.

Services never commit. Dates typed by staff are Tokyo days (a window "until the 10th" closes at the end of
the 10th in Tokyo); every stored instant is UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core import locks
from app.core.audit import record_audit
from app.core.errors import Conflict
from app.core.permissions import Role, has_role
from app.core.time import tokyo_to_utc, utcnow
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.availability import related
from app.facilities.models import Facility, Room
from app.lottery import draw as lottery
from app.lottery import services as lottery_services
from app.lottery.draw import SlotKey
from app.lottery.errors import LotteryError, NotOpen
from app.lottery.models import ANY_OTHER, INDIVIDUAL, LotteryDraw, LotteryEntry, LotteryPeriod, LotteryTier
from app.organizations.models import OrganizationKind

APPLICANT_KINDS = [k.value for k in OrganizationKind] + [INDIVIDUAL, ANY_OTHER]


def kind_label(kind: str):
    """The label of an applicant kind in a tier."""
    if kind == INDIVIDUAL:
        return _l("個人")
    if kind == ANY_OTHER:
        return _l("ほかのすべての登録団体")
    return OrganizationKind(kind).label


# --- staff: a period's configuration -------------------------------------------------------------------------


@dataclass
class TierSpec:
    """A tier as staff type it: applicant kinds, and the Tokyo days its window opens and closes (inclusive)."""

    kinds: list[str]
    opens_on: date
    closes_on: date


@dataclass
class PeriodSpec:
    """A lottery period as staff configure it."""

    room_id: int | None
    month: date  # any day of the covered month
    draw_date: date
    confirm_until_on: date  # winners confirm until the end of this Tokyo day
    leftovers_open_at: datetime  # aware instant
    entries_per_group: int
    max_preferences: int
    allow_individuals: bool
    tiers: list[TierSpec]


def _end_of_day(day: date) -> datetime:
    return tokyo_to_utc(day + timedelta(days=1), time(0, 0))


def _month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def _check_spec(facility: Facility, spec: PeriodSpec, *, exclude_period_id: int | None = None) -> None:
    if spec.entries_per_group < 1 or spec.max_preferences < 1:
        raise LotteryError(_l("申込数と希望数は1以上にしてください。"))
    if spec.max_preferences > 10 or spec.entries_per_group > 10:
        raise LotteryError(_l("申込数と希望数は10以下にしてください。"))
    rooms = facility_queries.facility_rooms(facility.id)
    if spec.room_id is not None and spec.room_id not in {r.id for r in rooms}:
        raise LotteryError(_l("その部屋はこの施設にありません。"))
    start, end = _month_bounds(spec.month)
    if not spec.tiers:
        raise LotteryError(_l("優先順位を1つ以上設定してください。"))
    seen: set[str] = set()
    for n, tier in enumerate(spec.tiers, start=1):
        if not tier.kinds:
            raise LotteryError(_l("優先順位%(n)sの申込者の種類を選んでください。", n=n))
        repeated = seen & set(tier.kinds)
        if repeated:
            raise LotteryError(_l("同じ申込者の種類が2つの優先順位にあります。"))
        seen |= set(tier.kinds)
        if tier.opens_on > tier.closes_on:
            raise LotteryError(_l("優先順位%(n)sの受付開始日が受付終了日より後です。", n=n))
        if tier.closes_on >= spec.draw_date:
            raise LotteryError(_l("優先順位%(n)sの受付は抽選日の前日までに終えてください。", n=n))
    if INDIVIDUAL in seen and not spec.allow_individuals:
        raise LotteryError(_l("個人の申込を受け付けるときは「個人も申し込める」を選んでください。"))
    if spec.draw_date >= start:
        raise LotteryError(_l("抽選日は対象の月より前にしてください。"))
    if spec.confirm_until_on < spec.draw_date:
        raise LotteryError(_l("当選者の確定期限は抽選日以後にしてください。"))
    if spec.leftovers_open_at < _end_of_day(spec.confirm_until_on):
        raise LotteryError(_l("先着順の受付開始は、当選者の確定期限の後にしてください。"))
    if spec.leftovers_open_at >= tokyo_to_utc(end, time(0, 0)):
        raise LotteryError(_l("先着順の受付開始は、対象の月が終わる前にしてください。"))
    # Two periods over the same days of the same rooms would draw the same slots twice.
    family = related(facility_queries.room_node(r) for r in rooms)
    others = db.session.execute(
        sa.select(LotteryPeriod.id, LotteryPeriod.room_id).where(
            LotteryPeriod.facility_id == facility.id, LotteryPeriod.start_date < end, LotteryPeriod.end_date > start,
            LotteryPeriod.id != (exclude_period_id or 0)))
    for _id, room_id in others:
        if room_id is None or spec.room_id is None or room_id in family.get(spec.room_id, frozenset()):
            raise Conflict(_l("同じ部屋と月の抽選期間がすでにあります。"))


def _hold_periods(facility_id: int) -> None:
    """Before _check_spec looks for an overlapping period, hold the facility's lock of lottery periods
    (app/core/locks.py): two staff opening (or moving) periods over the same rooms and month at once check one
    after the other, so the second sees the first and is refused. A first-come booking needs no part in it: a
    period is allowed over days already booked (the draw leaves their slots out), so a booking that commits while
    a period is being opened is what booking first would have given."""
    locks.advisory_lock("lottery-periods", facility_id)


def _write_tiers(period: LotteryPeriod, tiers: Sequence[TierSpec]) -> None:
    db.session.execute(sa.delete(LotteryTier).where(LotteryTier.period_id == period.id))
    for rank, tier in enumerate(tiers, start=1):
        db.session.add(LotteryTier(period_id=period.id, rank=rank, kinds=list(tier.kinds),
                                   opens_at=tokyo_to_utc(tier.opens_on, time(0, 0)),
                                   closes_at=_end_of_day(tier.closes_on)))


def open_period(facility: Facility, spec: PeriodSpec, *, actor, now: datetime | None = None) -> LotteryPeriod:
    """Create a lottery period with its tiers and commit to a fresh seed (its hash is published at once)."""
    now = now or utcnow()
    _hold_periods(facility.id)
    _check_spec(facility, spec)
    start, end = _month_bounds(spec.month)
    period = LotteryPeriod(
        facility_id=facility.id, room_id=spec.room_id, start_date=start, end_date=end, draw_date=spec.draw_date,
        allow_individuals=spec.allow_individuals, confirm_until=_end_of_day(spec.confirm_until_on),
        leftovers_open_at=spec.leftovers_open_at, created_by_id=actor.id)
    db.session.add(period)
    db.session.flush()
    _write_tiers(period, spec.tiers)
    lottery_services.commit_seed(period, entries_per_group=spec.entries_per_group,
                                 max_preferences=spec.max_preferences, actor=actor, now=now)
    record_audit("lottery.open", actor_id=actor.id, target_type="lottery_period", target_id=period.id,
                 details={"month": start.isoformat(), "room_id": spec.room_id})
    return period


def update_period(period: LotteryPeriod, spec: PeriodSpec, *, actor) -> None:
    """Change a period before its draw. Once entries exist, the room, month and limits stay as announced."""
    draw = draw_of(period.id)
    if draw is None or draw.is_drawn:
        raise NotOpen(_l("抽選が終わった期間は変更できません。"))
    facility = db.session.get(Facility, period.facility_id)
    _hold_periods(facility.id)
    _check_spec(facility, spec, exclude_period_id=period.id)
    start, end = _month_bounds(spec.month)
    has_entries = db.session.scalar(sa.select(LotteryEntry.id).where(LotteryEntry.period_id == period.id).limit(1))
    if has_entries is not None and (spec.room_id != period.room_id or start != period.start_date
                                    or spec.entries_per_group != draw.entries_per_group
                                    or spec.max_preferences != draw.max_preferences):
        raise Conflict(_l("申込があるため、部屋・対象の月・申込数・希望数は変更できません。"))
    period.room_id, period.start_date, period.end_date = spec.room_id, start, end
    period.draw_date = spec.draw_date
    period.allow_individuals = spec.allow_individuals
    period.confirm_until = _end_of_day(spec.confirm_until_on)
    period.leftovers_open_at = spec.leftovers_open_at
    draw.entries_per_group, draw.max_preferences = spec.entries_per_group, spec.max_preferences
    _write_tiers(period, spec.tiers)
    record_audit("lottery.update", actor_id=actor.id, target_type="lottery_period", target_id=period.id)


def tiers_of(period_id: int) -> list[LotteryTier]:
    """The period's tiers, rank 1 first."""
    return list(db.session.scalars(
        sa.select(LotteryTier).where(LotteryTier.period_id == period_id).order_by(LotteryTier.rank)))


def draw_of(period_id: int) -> LotteryDraw | None:
    return db.session.scalar(sa.select(LotteryDraw).where(LotteryDraw.period_id == period_id))


def related_rooms(period: LotteryPeriod, rooms: Sequence[Room]) -> frozenset[int] | set[int]:
    """The rooms a period draws: all of the facility's, or its room with the rooms above and below it."""
    if period.room_id is None:
        return {r.id for r in rooms}
    return related(facility_queries.room_node(r) for r in rooms).get(period.room_id, frozenset())


def can_manage(user, facility_id: int) -> bool:
    """Ward staff manage every facility's lotteries; facility staff those of their facilities."""
    return has_role(user, Role.WARD_STAFF) or facility_queries.is_facility_staff(user, facility_id)


def staff_draw(period: LotteryPeriod, *, actor, now: datetime | None = None):
    """The staff button: draw now, once every tier's window has closed."""
    now = now or utcnow()
    tiers = tiers_of(period.id)
    if tiers and now < max(t.closes_at for t in tiers):
        raise NotOpen(_l("申込の受付中は抽選できません。"))
    if period.leftovers_open_at is not None and now >= period.leftovers_open_at:
        # Its slots are first-come by now: a draw would hand out slots people may already have booked.
        raise NotOpen(_l("先着順の受付が始まった後は抽選できません。"))
    return lottery_services.run_draw(period, available=lottery_services.lottery_slots(period), actor=actor, now=now)


# --- public reads -----------------------------------------------------------------------------------------------


def phase(period: LotteryPeriod, tiers: Sequence[LotteryTier], draw: LotteryDraw | None, now: datetime) -> str:
    """Where the period is: preparing | before | open | waiting | confirming | first_come."""
    if draw is None or not tiers:
        return "preparing"
    if period.leftovers_open_at is not None and now >= period.leftovers_open_at:
        return "first_come"
    if draw.is_drawn:
        return "confirming"
    if now < min(t.opens_at for t in tiers):
        return "before"
    if now < max(t.closes_at for t in tiers):
        return "open"
    return "waiting"


@dataclass
class ResultRow:
    """One line of the public results: entry number, tier, draw position, the slot won (or None)."""

    position: int
    entry_id: int
    tier: int
    slot: SlotKey | None
    rank: int | None


def public_results(period: LotteryPeriod, draw: LotteryDraw) -> list[ResultRow]:
    """The draw in draw order, by entry number only (no names): what anyone may check with `verify`."""
    rows, pure = lottery_services._pure_entries(period.id)
    by_id = {str(r.id): r for r in rows}
    result = []
    for position, entry in enumerate(lottery.draw_order(pure, draw.seed), start=1):
        row = by_id[entry.entry_id]
        result.append(ResultRow(position, row.id, row.tier, award(row), row.won_rank))
    return result


def upcoming_periods(*, facility_id: int | None = None, since: date | None = None) -> list[LotteryPeriod]:
    """Periods whose month has not ended, by month."""
    stmt = sa.select(LotteryPeriod).order_by(LotteryPeriod.start_date, LotteryPeriod.id)
    if facility_id is not None:
        stmt = stmt.where(LotteryPeriod.facility_id == facility_id)
    if since is not None:
        stmt = stmt.where(LotteryPeriod.end_date > since)
    return list(db.session.scalars(stmt))


def award(entry: LotteryEntry) -> SlotKey | None:
    """The slot ENTRY won, if any."""
    if entry.won_rank is None:
        return None
    pref = next((p for p in entry.preferences if p.rank == entry.won_rank), None)
    return SlotKey(pref.room_id, pref.day, pref.slot_code) if pref else None
