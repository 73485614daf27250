"""The 空き状況 of rooms as bookings hold them: the claims of active bookings, a facility's grid and the
free-room search, each in a fixed number of queries. The pure grid is app/facilities/availability.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.bookings.models import ACTIVE_STATES, Booking, BookingClaim, BookingItem, BookingState
from app.core.db import rows_by_id
from app.extensions import db
from app.facilities.availability import Grid, SlotDef, Span, Status, cells, compute_grid, leaves, units_for
from app.facilities.models import Closure, Facility, Room, TimeSlot
from app.facilities.queries import (
    facility_slots,
    facility_spans,
    holidays_between,
    lottery_blocks,
    room_node,
    rooms_with_equipment,
    slot_def,
)
from app.lottery.models import LotteryPeriod

# The search's 時間区分 choices: the minute each part of the day starts (the free-room search and the home page).
SEARCH_STARTS = {540: _l("午前"), 780: _l("午後"), 1080: _l("夜間")}


def claims_between(room_ids: list[int], start: date, end: date) -> dict[tuple[int, date, int], bool]:
    """(leaf room, day, cell) -> pending? for active bookings of ROOM_IDS in [start, end), one query."""
    if not room_ids:
        return {}
    # Only a request awaiting staff approval shows as 申込中 (△); a 仮予約 holds its slot like a confirmed one.
    # The flag is computed in SQL: thousands of rows per month grid, no enum conversion per row.
    pending = sa.case((Booking.state == BookingState.REQUESTED.value, 1), else_=0)
    if end - start == timedelta(days=1):
        # One day (the search, the booking form): the day is known, so it is not read back and converted for
        # each of the hundreds of rows (a date is text in SQLite, parsed per row).
        rows = db.session.execute(
            sa.select(BookingClaim.room_id, BookingClaim.cell, pending)
            .join(Booking, Booking.id == BookingClaim.booking_id)
            # Booking.day too (a claim's day is its booking's): PostgreSQL then reads the day's bookings by index
            # instead of hashing every booking ever made (21 ms -> 1 ms on the Indico-shaped bench data).
            .where(BookingClaim.room_id.in_(room_ids), BookingClaim.day == start, Booking.day == start))
        return {(room_id, start, cell): bool(flag) for room_id, cell, flag in rows}
    rows = db.session.execute(
        sa.select(BookingClaim.room_id, BookingClaim.day, BookingClaim.cell, pending)
        .join(Booking, Booking.id == BookingClaim.booking_id)
        .where(BookingClaim.room_id.in_(room_ids), BookingClaim.day >= start, BookingClaim.day < end,
               Booking.day >= start, Booking.day < end)
    )
    return {(room_id, day, cell): bool(flag) for room_id, day, cell, flag in rows}


def claims_of_rooms(rooms: list[Room], start: date, end: date) -> dict[tuple[int, date, int], bool]:
    """The same mapping as claims_between for a facility's ROOMS, computed from the booked ranges instead.

    A booking has one or two ranges but claims 6-8 cells per range and leaf room, so over weeks or months
    reading the ranges (index on bookings(room_id, day)) and expanding them to cells here moves several times
    fewer rows; for a single day claims_between is as fast. ROOMS must be every room of the facility (a booked
    whole hall marks its halves).
    """
    if not rooms:
        return {}
    leaf_of = leaves([room_node(r) for r in rooms])
    pending = sa.case((Booking.state == BookingState.REQUESTED.value, 1), else_=0)
    rows = db.session.execute(
        sa.select(Booking.room_id, Booking.day, BookingItem.start_minute, BookingItem.end_minute, pending)
        .join(BookingItem, BookingItem.booking_id == Booking.id)
        .where(Booking.room_id.in_(list(leaf_of)), Booking.day >= start, Booking.day < end,
               Booking.state.in_([s.value for s in ACTIVE_STATES]))
    )
    found: dict[tuple[int, date, int], bool] = {}
    for room_id, day, first, last, flag in rows:
        span = cells(first, last)
        for leaf in leaf_of.get(room_id, ()):
            for cell in span:
                found[(leaf, day, cell)] = bool(flag)
    return found


@dataclass
class FacilityGrid:
    """A facility's grid with its rooms, for the template."""

    facility: Facility
    rooms: list[Room]
    grid: Grid
    holidays: frozenset[date]
    claims: dict[tuple[int, date, int], bool]
    leaf_of: dict[int, frozenset[int]] | None = None


def facility_grid(facility: Facility, start: date, end: date, *, now: datetime | None = None) -> FacilityGrid:
    """The 空き状況 of FACILITY for [start, end): rooms, slots, spans and claims = 4 queries whatever the data."""
    # Every room, active or not, for the claims (a booking of a room since retired still holds its halves).
    every_room = list(db.session.scalars(
        sa.select(Room).where(Room.facility_id == facility.id).order_by(Room.sort_order, Room.id)))
    rooms = [r for r in every_room if r.active]
    slots = facility_slots(facility.id)
    closures, lotteries = facility_spans(facility.id, start, end, now=now)
    claims = claims_of_rooms(every_room, start, end)
    holidays = holidays_between(start, end)
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    grid = compute_grid(
        rooms=[room_node(r) for r in rooms], days=days, slots=slots, closures=closures, lotteries=lotteries,
        claims=claims, holidays=holidays, closed_on_holidays=facility.closed_on_holidays,
    )
    return FacilityGrid(facility, rooms, grid, holidays, claims)


@dataclass
class UnitState:
    """A bookable unit of a room on a day and whether all its cells are free."""

    key: str
    start: int
    end: int
    free: bool


def room_units(data: FacilityGrid, room: Room, day: date) -> dict[int, list[UnitState]]:
    """Slot id -> the room's units in that slot on DAY with their freedom (from the grid's claims)."""
    if data.leaf_of is None:  # computed once per grid, not once per day
        data.leaf_of = leaves([room_node(r) for r in data.rooms])
    leaf_ids = data.leaf_of[room.id]
    result: dict[int, list[UnitState]] = {}
    for unit in units_for(room_node(room), data.grid.slots.get(day, [])):
        free = not any((leaf, day, c) in data.claims for leaf in leaf_ids for c in cells(unit.start, unit.end))
        result.setdefault(unit.slot.id, []).append(UnitState(unit.key, unit.start, unit.end, free))
    return result


@dataclass
class FreeRoom:
    """A room with the slots (or hours) free on the searched day."""

    facility: Facility
    room: Room
    free: list[UnitState]


def find_free_rooms(day: date, *, district=None, kind=None, min_capacity: int = 0,
                    start_minute: int | None = None, equipment=None) -> list[FreeRoom]:
    """Every room of every facility with something free on DAY (optionally a slot starting at START_MINUTE, or
    with 付帯設備 of kind EQUIPMENT), in a fixed number of queries whatever the number of facilities or bookings.
    With MIN_CAPACITY, the smallest rooms that hold it come first."""
    end = day + timedelta(days=1)
    facility_stmt = sa.select(Facility).where(Facility.active.is_(True)).order_by(Facility.district, Facility.name_ja)
    if district:
        facility_stmt = facility_stmt.where(Facility.district == district)
    facilities = rows_by_id(db.session.scalars(facility_stmt))
    if not facilities:
        return []
    rooms = list(db.session.scalars(sa.select(Room).where(Room.facility_id.in_(list(facilities)),
                                                          Room.active.is_(True)).order_by(Room.sort_order, Room.id)))
    slots: dict[int, list[SlotDef]] = {}
    for slot in db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id.in_(list(facilities)))):
        slots.setdefault(slot.facility_id, []).append(slot_def(slot))
    spans: dict[tuple[str, int], list[Span]] = {}
    closures = sa.select(sa.literal("c").label("what"), Closure.facility_id, Closure.room_id, Closure.start_date,
                         Closure.end_date).where(Closure.start_date < end, Closure.end_date > day)
    lotteries = sa.select(sa.literal("l").label("what"), LotteryPeriod.facility_id, LotteryPeriod.room_id,
                          LotteryPeriod.start_date, LotteryPeriod.end_date).where(
        LotteryPeriod.start_date < end, LotteryPeriod.end_date > day, lottery_blocks())
    for what, facility_id, room_id, first, last in db.session.execute(sa.union_all(closures, lotteries)):
        spans.setdefault((what, facility_id), []).append(Span(first, last, room_id))
    claims = claims_between([r.id for r in rooms], day, end)
    holidays = holidays_between(day, end)
    by_facility: dict[int, list[Room]] = {}
    for room in rooms:
        by_facility.setdefault(room.facility_id, []).append(room)
    equipped = rooms_with_equipment(equipment, [r.id for r in rooms]) if equipment else None
    found = []
    for facility_id, facility in facilities.items():
        facility_rooms_ = by_facility.get(facility_id, [])
        if not facility_rooms_:
            continue
        grid = compute_grid(
            rooms=[room_node(r) for r in facility_rooms_], days=[day], slots=slots.get(facility_id, []),
            closures=spans.get(("c", facility_id), []), lotteries=spans.get(("l", facility_id), []),
            claims=claims, holidays=holidays, closed_on_holidays=facility.closed_on_holidays,
        )
        data = FacilityGrid(facility, facility_rooms_, grid, holidays, claims)
        for room in facility_rooms_:
            if room.capacity < min_capacity or (kind and room.kind != kind) or (
                    equipped is not None and room.id not in equipped):
                continue
            open_slots = {c.slot.id for c in grid.row(room.id, day) if c.status in (Status.FREE, Status.FEW)
                          and (start_minute is None or c.slot.start == start_minute)}
            free = [u for slot_id, units in room_units(data, room, day).items() if slot_id in open_slots
                    for u in units if u.free]
            if free:
                found.append(FreeRoom(facility, room, free))
    if min_capacity:
        # For a headcount, the room that fits it best comes first: 10 people want a meeting room, not the
        # 300-seat hall (sorted is stable: within one capacity, the district and facility order stays).
        found.sort(key=lambda f: f.room.capacity)
    return found
