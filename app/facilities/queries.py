"""Reads: facilities with rooms, the 空き状況 grid of a facility in a fixed number of queries, holidays."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import jpholiday
import sqlalchemy as sa

from app.core.permissions import Role, has_role
from app.core.time import utcnow
from app.extensions import db
from app.facilities.availability import RoomNode, SlotDef, Span
from app.facilities.models import Closure, Equipment, Facility, FacilityStaff, Room, TimeSlot
from app.lottery.models import LotteryPeriod


def holidays_between(start: date, end: date) -> frozenset[date]:
    """Japanese national holidays in [start, end) (jpholiday, which follows the 内閣府 list)."""
    if end <= start:
        return frozenset()
    return frozenset(day for day, _name in jpholiday.between(start, end - timedelta(days=1)))


def holiday_name(day: date) -> str | None:
    """The holiday's Japanese name, or None."""
    return jpholiday.is_holiday_name(day)


def minutes(value) -> int:
    """Minutes after midnight of a time."""
    return value.hour * 60 + value.minute


def slot_def(slot: TimeSlot) -> SlotDef:
    """The pure view of a 時間区分 row."""
    return SlotDef(
        id=slot.id, code=slot.code, label=slot.label, start=minutes(slot.start_time), end=minutes(slot.end_time),
        weekday=slot.weekday, on_date=slot.on_date,
    )


def room_node(room: Room) -> RoomNode:
    return RoomNode(room.id, room.parent_id, room.hourly)


def list_facilities(*, district=None, kind=None) -> list[Facility]:
    """Active facilities, by district then name."""
    stmt = sa.select(Facility).where(Facility.active.is_(True)).order_by(Facility.district, Facility.name_ja)
    if district:
        stmt = stmt.where(Facility.district == district)
    if kind:
        stmt = stmt.where(Facility.kind == kind)
    return list(db.session.scalars(stmt))


def facility_rooms(facility_id: int) -> list[Room]:
    """Active rooms of a facility in display order."""
    return list(db.session.scalars(
        sa.select(Room).where(Room.facility_id == facility_id, Room.active.is_(True)).order_by(Room.sort_order, Room.id)
    ))


@functools.lru_cache(maxsize=1)
def _slots_statement():
    return sa.select(TimeSlot).where(TimeSlot.facility_id == sa.bindparam("facility_id"))


def facility_slots(facility_id: int) -> list[SlotDef]:
    """Every 時間区分 row of a facility, as pure values (the statement is built once: each booking asks)."""
    rows = db.session.scalars(_slots_statement(), {"facility_id": facility_id})
    return [slot_def(s) for s in rows]


def lottery_blocks(now: datetime | None = None):
    """SQL condition: the lottery period still holds its days (抽, no first-come) at NOW.

    A period's days open first-come at its announced `leftovers_open_at`; a period without one holds them.
    """
    now = utcnow() if now is None else now  # or a bound parameter (facility_spans)
    return sa.or_(LotteryPeriod.leftovers_open_at.is_(None), LotteryPeriod.leftovers_open_at > now)


@functools.lru_cache(maxsize=1)
def _spans_statement():
    """Built once (each booking asks): facility_id, start, end and now are bound parameters."""
    facility_id, start, end = sa.bindparam("facility_id"), sa.bindparam("start"), sa.bindparam("end")
    closures = sa.select(
        sa.literal("c").label("what"), Closure.room_id, Closure.start_date, Closure.end_date
    ).where(Closure.facility_id == facility_id, Closure.start_date < end, Closure.end_date > start)
    lotteries = sa.select(
        sa.literal("l").label("what"), LotteryPeriod.room_id, LotteryPeriod.start_date, LotteryPeriod.end_date
    ).where(LotteryPeriod.facility_id == facility_id, LotteryPeriod.start_date < end, LotteryPeriod.end_date > start,
            lottery_blocks(sa.bindparam("now")))
    return sa.union_all(closures, lotteries)


def facility_spans(facility_id: int, start: date, end: date, *,
                   now: datetime | None = None) -> tuple[list[Span], list[Span]]:
    """Closures and lottery periods (still holding their days at NOW) overlapping [start, end), in ONE query."""
    found: dict[str, list[Span]] = {"c": [], "l": []}
    params = {"facility_id": facility_id, "start": start, "end": end, "now": now or utcnow()}
    for what, room_id, first, last in db.session.execute(_spans_statement(), params):
        found[what].append(Span(first, last, room_id))
    return found["c"], found["l"]


def is_facility_staff(user, facility_id: int) -> bool:
    """True for an admin, or for facility staff assigned to FACILITY_ID (staff are scoped per facility)."""
    if has_role(user, Role.ADMIN) and user.role == Role.ADMIN:
        return True
    if not has_role(user, Role.FACILITY_STAFF):
        return False
    return db.session.scalar(sa.select(FacilityStaff.id).where(
        FacilityStaff.user_id == user.id, FacilityStaff.facility_id == facility_id)) is not None


def rooms_with_equipment(kind, room_ids: list[int]) -> set[int]:
    """Which of ROOM_IDS can use active 付帯設備 of KIND (their own, or the facility's for any room); one query."""
    if not room_ids:
        return set()
    return set(db.session.scalars(
        sa.select(Room.id).join(Equipment, sa.and_(
            Equipment.facility_id == Room.facility_id,
            sa.or_(Equipment.room_id.is_(None), Equipment.room_id == Room.id)))
        .where(Room.id.in_(room_ids), Equipment.kind == kind, Equipment.active.is_(True)).distinct()))


