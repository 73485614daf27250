"""Freed-slot alerts: watch a room or facility on a day; record slots that free up; e-mail the watchers from a job.

A booking request only records what it freed (`slot_freed`, one small insert in its own transaction); the
`alerts.freed-slots` job later claims each freed row once (a conditional UPDATE, so parallel runners never both
send), checks against the claims table that the slot is still free, and e-mails every matching watcher once per
run. Whoever books first gets the slot: the unique cell constraint of booking_claims still decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.alerts.errors import AlertError, AlreadyWatching, InvalidAlertLink, TooManyWatches
from app.alerts.models import FreedCause, FreedSlot, SlotWatch
from app.bookings import services as booking_services
from app.bookings.availability import claims_between
from app.bookings.models import BookingState
from app.core.audit import record_audit
from app.core.db import rows_by_id
from app.core.mail import queue_mail
from app.core.time import to_tokyo, utcnow
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.availability import RoomNode, Span, cells, leaves, related, slots_for_day, span_covers, units_for
from app.facilities.models import Closure, Facility, Room, TimeSlot
from app.lottery.models import LotteryPeriod


@contextmanager
def url_context() -> Iterator[None]:
    """Let url_for build paths in a job run from the CLI (no request there); links are BASE_URL + path."""
    with nullcontext() if has_request_context() else current_app.test_request_context("/"):
        yield


# ---------------------------------------------------------------- recording freed slots


def slot_freed(*, room_id: int, day: date, cause: FreedCause | str,
               ranges: Iterable[tuple[int, int, str]] = (), slot_codes: Iterable[str] = (),
               now: datetime | None = None) -> list[FreedSlot]:
    """Record that ROOM's RANGES ((start minute, end minute, label)) or 時間区分 SLOT_CODES on DAY are free again.

    Called in the transaction that frees them (cancellation, 仮予約 expiry, rejection, a lottery release or the
    leftovers opening first-come); nothing is sent here: the alerts.freed-slots job announces them. Past days
    are ignored. Returns the rows added.
    """
    now = now or utcnow()
    if day < to_tokyo(now).date():
        return []
    room = db.session.get(Room, room_id)
    if room is None:
        return []
    wanted = list(ranges)
    codes = set(slot_codes)
    if codes:
        holidays = facility_queries.holidays_between(day, day + timedelta(days=1))
        for slot in slots_for_day(facility_queries.facility_slots(room.facility_id), day, holidays):
            if slot.code in codes:
                wanted.append((slot.start, slot.end, slot.label))
    rows = [FreedSlot(facility_id=room.facility_id, room_id=room.id, day=day, start_minute=start, end_minute=end,
                      label_ja=label[:60], cause=FreedCause(cause), freed_at=now)
            for start, end, label in dict.fromkeys(wanted)]
    db.session.add_all(rows)
    return rows


def booking_released(booking) -> None:
    """Release hook of app.bookings.services: a cancelled, expired or rejected booking frees its ranges."""
    cause = {BookingState.CANCELLED: FreedCause.CANCELLED, BookingState.EXPIRED: FreedCause.EXPIRED,
             BookingState.REJECTED: FreedCause.REJECTED}.get(booking.state, FreedCause.CANCELLED)
    slot_freed(room_id=booking.room_id, day=booking.day, cause=cause,
               ranges=[(i.start_minute, i.end_minute, i.label_ja) for i in booking.items])


# ---------------------------------------------------------------- is it still free? (batched)


@dataclass
class Offer:
    """A free unit to announce or list: a room's range on a day, with the link that books it."""

    facility: Facility
    room: Room
    day: date
    start: int
    end: int
    label: str

    @property
    def book_path(self) -> str:
        return url_for("bookings.new", room=self.room.id, day=self.day.isoformat())

    @property
    def times(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}–{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass
class _FacilityDay:
    nodes: dict[int, RoomNode]
    leaf_of: dict[int, frozenset[int]]
    related_of: dict[int, frozenset[int]]
    closures: list[Span]
    lotteries: list[Span]
    slots: list = field(default_factory=list)


class FreeChecker:
    """Answers "is this unit free now?" for many (facility, day) pairs with a fixed number of queries:
    rooms, 時間区分, closures and lotteries, and claims are each read once for all of them."""

    def __init__(self, pairs: Iterable[tuple[int, date]], *, now: datetime | None = None):
        self.now = now or utcnow()
        pairs = set(pairs)
        self.facility_ids = sorted({f for f, _d in pairs})
        self.days = sorted({d for _f, d in pairs})
        self.rooms: dict[int, Room] = {}
        self.facilities: dict[int, Facility] = {}
        self.claims: dict = {}
        self._slots: dict[int, list] = {}
        self._spans: dict[tuple[str, int], list[Span]] = {}
        self._by_facility: dict[int, list[Room]] = {}
        self._cache: dict[tuple[int, date], _FacilityDay] = {}
        if not pairs:
            return
        first, after = self.days[0], self.days[-1] + timedelta(days=1)
        self.facilities = rows_by_id(db.session.scalars(
            sa.select(Facility).where(Facility.id.in_(self.facility_ids), Facility.active.is_(True))))
        for room in db.session.scalars(sa.select(Room).where(Room.facility_id.in_(self.facility_ids),
                                                             Room.active.is_(True))
                                       .order_by(Room.sort_order, Room.id)):
            self.rooms[room.id] = room
            self._by_facility.setdefault(room.facility_id, []).append(room)
        for slot in db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id.in_(self.facility_ids))):
            self._slots.setdefault(slot.facility_id, []).append(facility_queries.slot_def(slot))

        closures = sa.select(sa.literal("c").label("what"), Closure.facility_id, Closure.room_id, Closure.start_date,
                             Closure.end_date).where(Closure.facility_id.in_(self.facility_ids),
                                                     Closure.start_date < after, Closure.end_date > first)
        lotteries = sa.select(sa.literal("l").label("what"), LotteryPeriod.facility_id, LotteryPeriod.room_id,
                              LotteryPeriod.start_date, LotteryPeriod.end_date).where(
            LotteryPeriod.facility_id.in_(self.facility_ids), LotteryPeriod.start_date < after,
            LotteryPeriod.end_date > first, facility_queries.lottery_blocks(self.now))  # leftovers opened: free
        for what, facility_id, room_id, start, end in db.session.execute(sa.union_all(closures, lotteries)):
            self._spans.setdefault((what, facility_id), []).append(Span(start, end, room_id))
        self.claims = claims_between(sorted(self.rooms), first, after)
        self.holidays = facility_queries.holidays_between(first, after)

    def _day(self, facility_id: int, day: date) -> _FacilityDay | None:
        if facility_id not in self.facilities:
            return None
        key = (facility_id, day)
        if key not in self._cache:
            nodes = {r.id: RoomNode(r.id, r.parent_id, r.hourly) for r in self._by_facility.get(facility_id, [])}
            facility = self.facilities[facility_id]
            closed_day = facility.closed_on_holidays and day in self.holidays
            self._cache[key] = _FacilityDay(
                nodes, leaves(list(nodes.values())), related(list(nodes.values())),
                self._spans.get(("c", facility_id), []), self._spans.get(("l", facility_id), []),
                [] if closed_day else slots_for_day(self._slots.get(facility_id, []), day, self.holidays))
        return self._cache[key]

    def free_units(self, facility_id: int, day: date, room_ids: Iterable[int], start: int, end: int,
                   slot_id: int | None = None) -> list[Offer]:
        """Units of ROOM_IDS on DAY overlapping [START, END) (and in SLOT_ID if given) that can be booked now."""
        info = self._day(facility_id, day)
        today = to_tokyo(self.now)
        if info is None or day < today.date():
            return []
        offers = []
        for room_id in room_ids:
            node = info.nodes.get(room_id)
            if node is None or span_covers(info.closures, day, info.related_of[room_id]) \
                    or span_covers(info.lotteries, day, info.related_of[room_id]):
                continue
            for unit in units_for(node, info.slots):
                if unit.end <= start or unit.start >= end or (slot_id is not None and unit.slot.id != slot_id):
                    continue
                if day == today.date() and unit.start < today.hour * 60 + today.minute:
                    continue
                if any((leaf, day, c) in self.claims for leaf in info.leaf_of[room_id]
                       for c in cells(unit.start, unit.end)):
                    continue
                offers.append(Offer(self.facilities[facility_id], self.rooms[room_id], day, unit.start, unit.end,
                                    unit.slot.label))
        return offers

    def related_rooms(self, facility_id: int, room_id: int) -> frozenset[int]:
        """ROOM_ID and the rooms sharing space with it (a whole hall and its halves)."""
        info = self._day(facility_id, self.days[0]) if self.days else None
        return info.related_of.get(room_id, frozenset()) if info else frozenset()


# ---------------------------------------------------------------- the public list


def newly_available(*, now: datetime | None = None, days: int | None = None, limit: int = 100) -> list[Offer]:
    """Slots freed in the last DAYS days that are still free now, most recently freed first (no personal data).

    A fixed number of queries whatever the number of rows: the freed rows, then one FreeChecker.
    """
    now = now or utcnow()
    days = days if days is not None else current_app.config["ALERTS_FREED_LIST_DAYS"]
    rows = list(db.session.execute(
        sa.select(FreedSlot.facility_id, FreedSlot.room_id, FreedSlot.day, FreedSlot.start_minute,
                  FreedSlot.end_minute)
        .where(FreedSlot.freed_at >= now - timedelta(days=days), FreedSlot.day >= to_tokyo(now).date(),
               # A lottery's leftovers are a whole month at once: listed per period (lottery_openings), not
               # as hundreds of cards pushing the cancellations off the list.
               FreedSlot.cause != FreedCause.LOTTERY)
        .order_by(FreedSlot.freed_at.desc(), FreedSlot.id.desc()).limit(limit * 4)
    ))
    checker = FreeChecker({(r.facility_id, r.day) for r in rows}, now=now)
    seen: set = set()
    offers: list[Offer] = []
    for facility_id, room_id, day, start, end in rows:
        for offer in checker.free_units(facility_id, day, [room_id], start, end):
            key = (offer.room.id, day, offer.start)
            if key in seen:
                continue
            seen.add(key)
            offers.append(offer)
        if len(offers) >= limit:
            break
    return offers[:limit]


@dataclass
class LotteryOpening:
    """A lottery period whose released and leftover slots went first-come recently (for the public list)."""

    facility: Facility
    room: Room | None
    start_date: date
    end_date: date  # exclusive
    open_at: datetime

    @property
    def last_day(self) -> date:
        return self.end_date - timedelta(days=1)

    @property
    def grid_path(self) -> str:
        return url_for("availability.grid", facility_id=self.facility.id, view="month",
                       start=max(self.start_date, to_tokyo(utcnow()).date()).isoformat())


def lottery_openings(*, now: datetime | None = None, days: int | None = None) -> list[LotteryOpening]:
    """Lottery periods whose slots opened first-come in the last DAYS days and still have days to come, newest
    first, in one query (their free cells are read on the facility's grid)."""
    now = now or utcnow()
    days = days if days is not None else current_app.config["ALERTS_FREED_LIST_DAYS"]
    rows = db.session.execute(
        sa.select(LotteryPeriod, Facility, Room)
        .join(Facility, Facility.id == LotteryPeriod.facility_id)
        .outerjoin(Room, Room.id == LotteryPeriod.room_id)
        .where(Facility.active.is_(True), LotteryPeriod.leftovers_open_at.is_not(None),
               LotteryPeriod.leftovers_open_at <= now, LotteryPeriod.leftovers_open_at >= now - timedelta(days=days),
               LotteryPeriod.end_date > to_tokyo(now).date())
        .order_by(LotteryPeriod.leftovers_open_at.desc(), LotteryPeriod.id.desc()).limit(50))
    return [LotteryOpening(facility, room, period.start_date, period.end_date, period.leftovers_open_at)
            for period, facility, room in rows]


# ---------------------------------------------------------------- watches


def _scope(room_id: int | None, slot_id: int | None) -> str:
    return f"{f'r{room_id}' if room_id else '*'}/{f's{slot_id}' if slot_id else '*'}"


def add_watch(*, user: User, facility_id: int, day: date, room_id: int | None = None, slot_id: int | None = None,
              now: datetime | None = None) -> SlotWatch:
    """USER asks to be e-mailed when a slot frees up at FACILITY (or in ROOM, or in 時間区分 SLOT) on DAY."""
    now = now or utcnow()
    facility = db.session.get(Facility, facility_id)
    if facility is None or not facility.active:
        raise AlertError(_l("その施設は見つかりません。"))
    if room_id is not None:
        room = db.session.get(Room, room_id)
        if room is None or not room.active or room.facility_id != facility.id:
            raise AlertError(_l("その部屋はこの施設にはありません。"))
    if slot_id is not None:
        slot = db.session.get(TimeSlot, slot_id)
        if slot is None or slot.facility_id != facility.id:
            raise AlertError(_l("その時間区分はこの施設にはありません。"))
    today = to_tokyo(now).date()
    if day < today:
        raise AlertError(_l("過ぎた日の空きは知らせられません。今日以降の日を選んでください。"))
    ahead = current_app.config["ALERTS_MAX_DAYS_AHEAD"]
    if (day - today).days > ahead:
        raise AlertError(_l("{n}日先までの日を選んでください。").format(n=ahead))
    # The user's row is the lock for their number of watches (FOR UPDATE on PostgreSQL; SQLite's write
    # transaction already began IMMEDIATE): two tabs cannot both pass the limit.
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    active = db.session.scalar(sa.select(sa.func.count(SlotWatch.id)).where(
        SlotWatch.user_id == user.id, SlotWatch.day >= today))
    limit = current_app.config["ALERTS_MAX_WATCHES"]
    if active >= limit:
        raise TooManyWatches(
            _l("空きのお知らせは{n}件まで登録できます。使わないものを解除してください。").format(n=limit))
    watch = SlotWatch(user_id=user.id, facility_id=facility.id, room_id=room_id, slot_id=slot_id, day=day,
                      scope=_scope(room_id, slot_id), created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(watch)
            db.session.flush()
    except IntegrityError:
        raise AlreadyWatching(_l("この空きのお知らせは、すでに登録されています。")) from None
    record_audit("alert.watch", actor_id=user.id, target_type="slot_watch", target_id=watch.id)
    return watch


def remove_watch(watch: SlotWatch, *, user: User) -> None:
    """Stop a watch; only its owner may (views answer 404 to anyone else before calling this)."""
    if watch.user_id != user.id:
        raise AlertError(_l("ご自身のお知らせだけ解除できます。"))
    db.session.delete(watch)
    record_audit("alert.unwatch", actor_id=user.id, target_type="slot_watch", target_id=watch.id)


def watches_of(user: User, *, now: datetime | None = None) -> list[SlotWatch]:
    """USER's watches from today on, soonest day first."""
    from sqlalchemy.orm import joinedload

    today = to_tokyo(now or utcnow()).date()
    return list(db.session.scalars(
        sa.select(SlotWatch).options(joinedload(SlotWatch.facility), joinedload(SlotWatch.room),
                                     joinedload(SlotWatch.slot))
        .where(SlotWatch.user_id == user.id, SlotWatch.day >= today)
        .order_by(SlotWatch.day, SlotWatch.facility_id, SlotWatch.id)))


def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tsudoi-alerts-unsubscribe")


def unsubscribe_token(watch: SlotWatch) -> str:
    """The signed token of the unsubscribe link in an alert e-mail (names the watch and its owner)."""
    return _unsubscribe_serializer().dumps({"w": watch.id, "u": watch.user_id})


def watch_for_token(token: str) -> SlotWatch | None:
    """The watch an unsubscribe token names; None when it was already removed; InvalidAlertLink when forged."""
    try:
        data = _unsubscribe_serializer().loads(token)
        watch_id, user_id = int(data["w"]), int(data["u"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidAlertLink(_l("このリンクは使えません。正しくないか、壊れています。")) from None
    watch = db.session.get(SlotWatch, watch_id)
    if watch is None or watch.user_id != user_id:
        return None
    return watch


def unsubscribe(token: str) -> bool:
    """Remove the watch named by TOKEN; False when it was already gone (the link is idempotent)."""
    watch = watch_for_token(token)
    if watch is None:
        return False
    db.session.delete(watch)
    record_audit("alert.unsubscribe", actor_id=watch.user_id, target_type="slot_watch", target_id=watch.id)
    return True


# ---------------------------------------------------------------- the job


def notify_freed_slots(*, now: datetime | None = None, limit: int = 200) -> int:
    """E-mail watchers about slots freed since the last run that are still free; returns the mails queued.

    Each freed row is claimed with a conditional UPDATE (notified_at IS NULL -> now): of several runners racing,
    exactly one gets it (PostgreSQL re-checks the condition after the other commits; SQLite serialises writers).
    One mail per watcher and run lists every matching free unit; the same watch is never told twice about the
    same unit in one run. A run takes whole (facility, day) pairs, at most LIMIT of them (the oldest first), so
    a lottery opening a month at once never splits a watched day over two runs (two mails).
    """
    now = now or utcnow()
    today = to_tokyo(now).date()
    table = FreedSlot.__table__
    waiting = list(db.session.execute(
        sa.select(FreedSlot.facility_id, FreedSlot.day).where(FreedSlot.notified_at.is_(None))
        .group_by(FreedSlot.facility_id, FreedSlot.day).order_by(sa.func.min(FreedSlot.id)).limit(limit)))
    if not waiting:
        return 0
    candidates = list(db.session.scalars(
        sa.select(FreedSlot).where(FreedSlot.notified_at.is_(None),
                                   sa.tuple_(FreedSlot.facility_id, FreedSlot.day).in_([tuple(p) for p in waiting]))
        .order_by(FreedSlot.id)))
    claimed: list[FreedSlot] = []
    for row in candidates:
        won = db.session.execute(sa.update(table).where(table.c.id == row.id, table.c.notified_at.is_(None))
                                 .values(notified_at=now)).rowcount
        if won == 1 and row.day >= today:
            claimed.append(row)
    if not claimed:
        return 0
    pairs = {(r.facility_id, r.day) for r in claimed}
    watches = list(db.session.scalars(
        sa.select(SlotWatch).where(sa.tuple_(SlotWatch.facility_id, SlotWatch.day).in_(sorted(pairs)))
        .order_by(SlotWatch.user_id, SlotWatch.id)))
    if not watches:
        return 0
    checker = FreeChecker(pairs, now=now)
    by_user: dict[int, list[tuple[SlotWatch, list[Offer]]]] = {}
    for watch in watches:
        offers: dict[tuple[int, int], Offer] = {}
        for freed in claimed:
            if (freed.facility_id, freed.day) != (watch.facility_id, watch.day):
                continue
            family = checker.related_rooms(freed.facility_id, freed.room_id)
            if watch.room_id is not None:
                if watch.room_id not in family:
                    continue
                rooms = [watch.room_id]
            else:
                rooms = sorted(family) or [freed.room_id]
            for offer in checker.free_units(freed.facility_id, freed.day, rooms, freed.start_minute,
                                            freed.end_minute, watch.slot_id):
                offers.setdefault((offer.room.id, offer.start), offer)
        if offers:
            by_user.setdefault(watch.user_id, []).append((watch, sorted(offers.values(),
                                                                        key=lambda o: (o.room.sort_order, o.start))))
    users = rows_by_id(db.session.scalars(sa.select(User).where(User.id.in_(sorted(by_user)))))
    base_url = current_app.config["BASE_URL"]
    sent = 0
    for user_id, found in by_user.items():
        user = users.get(user_id)
        if user is None or not user.is_active:
            continue
        items = []
        for watch, offers in found:
            watch.last_notified_at = now
            items.append({"watch": watch, "offers": offers,
                          "unsubscribe_url": base_url + url_for("alerts.unsubscribe", token=unsubscribe_token(watch))})
        queue_mail(to=user.email, subject=_l("予約に空きが出ました"), template="alerts/freed",
                   language=user.preferred_language, user=user, items=items, base_url=base_url,
                   list_url=base_url + url_for("alerts.freed"), mine_url=base_url + url_for("alerts.mine"))
        sent += 1
    return sent


def prune(*, now: datetime | None = None) -> int:
    """Delete watches and freed rows of past days (nothing to announce any more)."""
    today = to_tokyo(now or utcnow()).date()
    gone = db.session.execute(sa.delete(SlotWatch).where(SlotWatch.day < today)).rowcount
    gone += db.session.execute(sa.delete(FreedSlot).where(FreedSlot.day < today)).rowcount
    return gone


def init_app(_app) -> None:
    """Record the freed ranges of every booking released (cancelled, expired, rejected), whatever path released it."""
    booking_services.register_release_hook(booking_released)
