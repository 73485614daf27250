"""Lottery services: commit to a seed, take entries, run the draw once, and verify a drawn period.

The rules of the draw are in app/lottery/draw.py (pure); this module loads and stores. Services never
commit. Entries and the draw lock the period's LotteryDraw row (FOR UPDATE on PostgreSQL; SQLite serialises
writers), so a group's entry limit holds under concurrent submissions and a period is drawn once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.bookings.availability import facility_grid
from app.core.audit import record_audit
from app.core.db import rows_by_id
from app.core.errors import Conflict
from app.core.mail import queue_mail
from app.core.time import to_tokyo, utcnow
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.availability import Status, cells, leaves, related
from app.facilities.models import Facility, Room, TimeSlot
from app.lottery import draw as lottery
from app.lottery.draw import SlotKey
from app.lottery.errors import AlreadyDrawn, BadPreferences, LotteryError, NotOpen, TooManyEntries
from app.lottery.models import LotteryDraw, LotteryEntry, LotteryPeriod, LotteryPreference


def group_key(*, user_id: int, organization_id: int | None) -> str:
    """Who an entry counts against: the organization if it applies as one, else the person."""
    return f"org:{organization_id}" if organization_id is not None else f"user:{user_id}"


def commit_seed(period: LotteryPeriod, *, entries_per_group: int, max_preferences: int, actor=None,
                now: datetime | None = None) -> LotteryDraw:
    """Create the period's draw with a fresh secret seed; its SHA-256 (seed_commitment) may be published now."""
    if db.session.scalar(sa.select(LotteryDraw.id).where(LotteryDraw.period_id == period.id)) is not None:
        raise Conflict(_l("この抽選期間の抽選はすでに準備されています。"))
    if entries_per_group < 1 or max_preferences < 1:
        raise LotteryError(_l("申込数と希望数は1以上にしてください。"))
    seed = lottery.new_seed()
    draw = LotteryDraw(period_id=period.id, seed=seed, seed_commitment=lottery.commitment(seed),
                       entries_per_group=entries_per_group, max_preferences=max_preferences,
                       committed_at=now or utcnow(), committed_by_id=getattr(actor, "id", None))
    db.session.add(draw)
    db.session.flush()
    record_audit("lottery.commit", actor_id=getattr(actor, "id", None), target_type="lottery_period",
                 target_id=period.id, details={"seed_commitment": draw.seed_commitment})
    return draw


def _locked_draw(period_id: int) -> LotteryDraw | None:
    return db.session.scalars(
        sa.select(LotteryDraw).where(LotteryDraw.period_id == period_id).with_for_update()
    ).first()


def _check_preferences(period: LotteryPeriod, draw: LotteryDraw, preferences: Sequence[SlotKey]) -> None:
    if not preferences:
        raise BadPreferences(_l("希望を1つ以上選んでください。"))
    if len(preferences) > draw.max_preferences:
        raise BadPreferences(_l("希望は%(n)s件までです。", n=draw.max_preferences))
    if len(set(preferences)) != len(preferences):
        raise BadPreferences(_l("同じ希望が2回選ばれています。"))
    room_ids = {room.id for room in facility_queries.facility_rooms(period.facility_id)}
    if period.room_id is not None:
        room_ids &= related(facility_queries.room_node(r) for r in
                            facility_queries.facility_rooms(period.facility_id)).get(period.room_id, frozenset())
    for slot in preferences:
        if slot.room_id not in room_ids or not (period.start_date <= slot.day < period.end_date):
            raise BadPreferences(_l("抽選期間の対象ではない希望があります。"))


def enter(period: LotteryPeriod, *, user, organization_id: int | None = None, tier: int,
          preferences: Sequence[SlotKey], now: datetime | None = None) -> LotteryEntry:
    """Add an entry with ranked PREFERENCES (best first) for USER, or for the organization they act for.

    Eligibility (a verified group, individuals allowed, the tier of the applicant's kind) is decided by the
    caller; this checks the period's limits under a lock on its draw row.
    """
    draw = _locked_draw(period.id)
    if draw is None or draw.is_drawn:
        raise NotOpen(_l("この抽選は申込を受け付けていません。"))
    _check_preferences(period, draw, preferences)
    key = group_key(user_id=user.id, organization_id=organization_id)
    used = db.session.scalar(sa.select(sa.func.count(LotteryEntry.id)).where(
        LotteryEntry.period_id == period.id, LotteryEntry.group_key == key))
    if used >= draw.entries_per_group:
        raise TooManyEntries(_l("この抽選への申込は%(n)s件までです。", n=draw.entries_per_group))
    now = now or utcnow()
    entry = LotteryEntry(period_id=period.id, user_id=user.id, organization_id=organization_id, group_key=key,
                         tier=tier, created_at=now, updated_at=now)
    entry.preferences = [LotteryPreference(rank=rank, room_id=slot.room_id, day=slot.day, slot_code=slot.slot_code)
                         for rank, slot in enumerate(preferences, start=1)]
    db.session.add(entry)
    db.session.flush()
    record_audit("lottery.enter", actor_id=user.id, target_type="lottery_entry", target_id=entry.id)
    return entry


def change_entry(entry: LotteryEntry, *, preferences: Sequence[SlotKey], now: datetime | None = None) -> None:
    """Replace an entry's preferences (until the draw)."""
    period = db.session.get(LotteryPeriod, entry.period_id)
    draw = _locked_draw(entry.period_id)
    if period is None or draw is None or draw.is_drawn:
        raise NotOpen(_l("この抽選は申込を受け付けていません。"))
    _check_preferences(period, draw, preferences)
    entry.preferences.clear()
    db.session.flush()  # the old ranks go before the new ones reuse them (UNIQUE entry_id, rank)
    entry.preferences.extend(
        LotteryPreference(rank=rank, room_id=slot.room_id, day=slot.day, slot_code=slot.slot_code)
        for rank, slot in enumerate(preferences, start=1))
    entry.updated_at = now or utcnow()


def room_overlaps(slots: Iterable[SlotKey], facility_id: int) -> dict[SlotKey, set[SlotKey]]:
    """For each slot, the other given slots it excludes: the same day and 時間区分 in a parent or child room."""
    slots = set(slots)
    family = related(facility_queries.room_node(r) for r in facility_queries.facility_rooms(facility_id))
    result: dict[SlotKey, set[SlotKey]] = {}
    for slot in slots:
        others = {SlotKey(room_id, slot.day, slot.slot_code) for room_id in family.get(slot.room_id, ())} - {slot}
        if others & slots:
            result[slot] = others & slots
    return result


def lottery_slots(period: LotteryPeriod) -> list[SlotKey]:
    """The slots the period lets by lottery: its rooms' 時間区分 on its days, minus closures and booked slots.

    Read from the facility's availability grid (4 queries): cells shown 抽 whose time is not claimed by a
    booking (staff may have booked 行政使用 before the draw). Rooms let by the hour are not in lotteries.
    """
    facility = db.session.get(Facility, period.facility_id)
    data = facility_grid(facility, period.start_date, period.end_date)
    nodes = [facility_queries.room_node(r) for r in data.rooms]
    leaf_of, family = leaves(nodes), related(nodes)
    scope = family.get(period.room_id, frozenset()) if period.room_id is not None else {r.id for r in data.rooms}
    result = []
    for room in data.rooms:
        if room.id not in scope or room.hourly:
            continue
        for day in data.grid.days:
            for cell in data.grid.row(room.id, day):
                if cell.status != Status.LOTTERY:
                    continue
                if any((leaf, day, c) in data.claims for leaf in leaf_of[room.id]
                       for c in cells(cell.slot.start, cell.slot.end)):
                    continue
                result.append(SlotKey(room.id, day, cell.slot.code))
    return result


def _pure_entries(period_id: int) -> tuple[list[LotteryEntry], list[lottery.Entry]]:
    rows = list(db.session.scalars(
        sa.select(LotteryEntry).where(LotteryEntry.period_id == period_id).order_by(LotteryEntry.id)
        .options(sa.orm.selectinload(LotteryEntry.preferences))))  # 2 queries, not one per entry
    pure = [lottery.Entry(entry_id=str(row.id), group=row.group_key, tier=row.tier,
                          preferences=tuple(SlotKey(p.room_id, p.day, p.slot_code) for p in row.preferences))
            for row in rows]
    return rows, pure


def run_draw(period: LotteryPeriod, *, available: Iterable[SlotKey], actor=None,
             now: datetime | None = None) -> lottery.DrawResult:
    """Draw the period once over the AVAILABLE slots; store the result, the frozen inputs and the digest.

    AVAILABLE are the room x day x 時間区分 the lottery lets (free, not closed); parent/child rooms of the
    facility exclude each other. After this the seed may be shown and `verify_period` re-runs the draw.
    """
    draw = _locked_draw(period.id)
    if draw is None:
        raise NotOpen(_l("この抽選は準備されていません。"))
    if draw.is_drawn:
        raise AlreadyDrawn(_l("この抽選はすでに行われました。"))
    available = sorted(set(available))
    overlaps = room_overlaps(available, period.facility_id)
    rows, entries = _pure_entries(period.id)
    result = lottery.draw(entries, available, draw.seed, entries_per_group=draw.entries_per_group,
                          max_preferences=draw.max_preferences, overlaps=overlaps)
    for row in rows:
        row.won_rank = result.ranks.get(str(row.id))
    draw.available_slots = [slot.token() for slot in available]
    draw.overlapping_slots = sorted([a.token(), b.token()] for a, others in overlaps.items() for b in others)
    draw.result_digest = result.digest()
    draw.drawn_at = now or utcnow()
    record_audit("lottery.draw", actor_id=getattr(actor, "id", None), target_type="lottery_period",
                 target_id=period.id, details={"entries": len(entries), "won": len(result.awards),
                                               "result_digest": draw.result_digest})
    _queue_results(period, draw, rows, result)
    return result


def _queue_results(period: LotteryPeriod, draw: LotteryDraw, rows: list[LotteryEntry],
                   result: lottery.DrawResult) -> None:
    """Tell every entrant their result, with the seed and its commitment so they can re-run the draw."""
    facility = db.session.get(Facility, period.facility_id)
    rooms = rows_by_id(db.session.scalars(sa.select(Room).where(Room.facility_id == period.facility_id)))
    labels: dict[str, str] = {}  # a slot code's name: the default row's, else any row's
    for code, label, weekday, on_date in db.session.execute(
            sa.select(TimeSlot.code, TimeSlot.label_ja, TimeSlot.weekday, TimeSlot.on_date)
            .where(TimeSlot.facility_id == period.facility_id).order_by(TimeSlot.id)):
        if code not in labels or (weekday is None and on_date is None):
            labels[code] = label
    users = {u.id: u for u in db.session.scalars(
        sa.select(User).where(User.id.in_({row.user_id for row in rows if row.user_id is not None})))}
    from flask import current_app

    base_url = current_app.config["BASE_URL"]
    for row in rows:
        user = users.get(row.user_id)
        if user is None:
            continue
        slot = result.awards.get(str(row.id))
        queue_mail(
            to=user.email, subject=_l("抽選の結果をお知らせします"), template="bookings/lottery_result",
            language=user.preferred_language, user=user, facility=facility, entry_id=row.id, slot=slot,
            rank=result.ranks.get(str(row.id)), room=rooms.get(slot.room_id) if slot else None,
            slot_label=labels.get(slot.slot_code, slot.slot_code) if slot else None, period=period, draw=draw,
            entry_url=f"{base_url}/lotteries/entries/{row.id}", results_url=f"{base_url}/lotteries/{period.id}",
            confirm_deadline=period.confirm_until - timedelta(seconds=1) if period.confirm_until else None,
        )


def published_awards(period_id: int) -> dict[str, SlotKey]:
    """The stored result of a drawn period: entry id -> the slot it won."""
    rows, _ = _pure_entries(period_id)
    return {str(row.id): SlotKey(pref.room_id, pref.day, pref.slot_code)
            for row in rows if row.won_rank is not None
            for pref in row.preferences if pref.rank == row.won_rank}


def verify_period(period: LotteryPeriod, *, seed: str | None = None) -> lottery.Verification:
    """Re-run a drawn period from its seed (or SEED, e.g. as published) and stored entries; compare results."""
    draw = db.session.scalars(sa.select(LotteryDraw).where(LotteryDraw.period_id == period.id)).first()
    if draw is None or not draw.is_drawn:
        raise NotOpen(_l("この抽選はまだ行われていません。"))
    available = [SlotKey.from_token(token) for token in draw.available_slots or ()]
    _, entries = _pure_entries(period.id)
    return lottery.verify(
        seed=draw.seed if seed is None else seed, published_commitment=draw.seed_commitment, entries=entries,
        available=available, published_awards=published_awards(period.id),
        entries_per_group=draw.entries_per_group, max_preferences=draw.max_preferences,
        overlaps=_stored_overlaps(draw),
    )


def _stored_overlaps(draw: LotteryDraw) -> dict[SlotKey, set[SlotKey]]:
    result: dict[SlotKey, set[SlotKey]] = {}
    for a, b in draw.overlapping_slots or ():
        result.setdefault(SlotKey.from_token(a), set()).add(SlotKey.from_token(b))
    return result


def export_period(period: LotteryPeriod) -> dict:
    """The public record of a drawn period (lottery.to_document): anyone can re-run it with lottery.py alone."""
    draw = db.session.scalars(sa.select(LotteryDraw).where(LotteryDraw.period_id == period.id)).first()
    if draw is None or not draw.is_drawn:
        raise NotOpen(_l("この抽選はまだ行われていません。"))
    _, entries = _pure_entries(period.id)
    return lottery.to_document(
        period=period.id, seed=draw.seed, seed_commitment=draw.seed_commitment, entries=entries,
        available=[SlotKey.from_token(token) for token in draw.available_slots or ()],
        overlaps=_stored_overlaps(draw), awards=published_awards(period.id),
        entries_per_group=draw.entries_per_group, max_preferences=draw.max_preferences,
    )


def draw_due_periods(*, now: datetime) -> int:
    """Draw every committed, undrawn period whose draw date (Tokyo) has come; returns how many were drawn.

    Run by the `lottery.draw-due` job. Periods without a committed seed are left alone (staff commit first).
    """
    today = to_tokyo(now).date()
    due = list(db.session.scalars(
        sa.select(LotteryPeriod).join(LotteryDraw, LotteryDraw.period_id == LotteryPeriod.id)
        .where(LotteryPeriod.draw_date.is_not(None), LotteryPeriod.draw_date <= today, LotteryDraw.drawn_at.is_(None))
        .order_by(LotteryPeriod.id)))
    for period in due:
        run_draw(period, available=lottery_slots(period), now=now)
    return len(due)
