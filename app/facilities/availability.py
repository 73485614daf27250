"""Availability arithmetic, pure: which 時間区分 apply on a day, bookable units, cells, and the 空き状況 grid.

Time is Tokyo wall-clock minutes after midnight. A day is cut into CELL_MINUTES cells; a booking claims the
cells of its ranges on every leaf room below the booked room (see app.bookings.models.BookingClaim). No
function here touches the database: callers pass plain values, tests compare against a brute-force oracle.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

CELL_MINUTES = 30
HOLIDAY_WEEKDAY = 7
HOUR = 60


class Status(enum.StrEnum):
    """A grid cell: ○ free, △ few / under application, × taken, 休 closed, 抽 lottery."""

    FREE = "free"
    FEW = "few"
    TAKEN = "taken"
    CLOSED = "closed"
    LOTTERY = "lottery"


SYMBOLS = {Status.FREE: "○", Status.FEW: "△", Status.TAKEN: "×", Status.CLOSED: "休", Status.LOTTERY: "抽"}


@dataclass(frozen=True)
class SlotDef:
    """A 時間区分 row: default (weekday None, on_date None), per weekday (0-6, 7 = holiday) or for one date."""

    id: int
    code: str
    label: str
    start: int
    end: int
    weekday: int | None = None
    on_date: date | None = None


@dataclass(frozen=True)
class RoomNode:
    """A room in the parent/child tree of one facility."""

    id: int
    parent_id: int | None = None
    hourly: bool = False


@dataclass(frozen=True)
class Span:
    """A closure or lottery period: the whole facility (room_id None) or one room, days [start, end)."""

    start: date
    end: date
    room_id: int | None = None


@dataclass(frozen=True)
class Unit:
    """A bookable unit of a room on a day: a whole slot, or one hour inside a slot for hourly rooms."""

    slot: SlotDef
    start: int
    end: int
    hourly: bool = False

    @property
    def key(self) -> str:
        """The form value naming this unit: 's<slot id>' or 's<slot id>h<start minute>'."""
        return f"s{self.slot.id}h{self.start}" if self.hourly else f"s{self.slot.id}"


def slots_for_day(slots: Iterable[SlotDef], day: date, holidays: frozenset[date] | set[date]) -> list[SlotDef]:
    """The 時間区分 that apply on DAY: date override, else holiday rows, else weekday rows, else defaults."""
    slots = list(slots)
    for chooser in (
        lambda s: s.on_date == day,
        lambda s: day in holidays and s.on_date is None and s.weekday == HOLIDAY_WEEKDAY,
        lambda s: s.on_date is None and s.weekday == day.weekday(),
        lambda s: s.on_date is None and s.weekday is None,
    ):
        chosen = [s for s in slots if chooser(s)]
        if chosen:
            return sorted(chosen, key=lambda s: (s.start, s.id))
    return []


def units_for(room: RoomNode, day_slots: Iterable[SlotDef]) -> list[Unit]:
    """Bookable units of ROOM given the day's slots: whole slots, or whole hours inside them if hourly."""
    units: list[Unit] = []
    for slot in day_slots:
        if room.hourly:
            start = slot.start
            while start + HOUR <= slot.end:
                units.append(Unit(slot, start, start + HOUR, hourly=True))
                start += HOUR
        else:
            units.append(Unit(slot, slot.start, slot.end))
    return units


def cells(start: int, end: int) -> range:
    """The cells covered by the half-open minute range [start, end)."""
    return range(start // CELL_MINUTES, -(-end // CELL_MINUTES))


def children_map(rooms: Iterable[RoomNode]) -> dict[int, list[int]]:
    """Room id -> ids of its direct children."""
    rooms = list(rooms)
    result: dict[int, list[int]] = {r.id: [] for r in rooms}
    for room in rooms:
        if room.parent_id is not None and room.parent_id in result:
            result[room.parent_id].append(room.id)
    return result


def leaves(rooms: Iterable[RoomNode]) -> dict[int, frozenset[int]]:
    """Room id -> the leaf rooms it occupies (itself when it has no children)."""
    kids = children_map(rooms)

    def walk(room_id: int, seen: frozenset[int]) -> frozenset[int]:
        if room_id in seen:  # a cycle is bad data; never loop forever
            return frozenset()
        if not kids[room_id]:
            return frozenset({room_id})
        return frozenset().union(*(walk(c, seen | {room_id}) for c in kids[room_id]))

    return {room_id: walk(room_id, frozenset()) for room_id in kids}


def related(rooms: Iterable[RoomNode]) -> dict[int, frozenset[int]]:
    """Room id -> itself, its ancestors and its descendants: a closure of any of them closes the room."""
    rooms = list(rooms)
    parent = {r.id: r.parent_id for r in rooms}
    kids = children_map(rooms)
    result = {}
    for room in rooms:
        found = {room.id}
        current = parent.get(room.id)
        while current is not None and current not in found:
            found.add(current)
            current = parent.get(current)
        stack = list(kids[room.id])
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(kids[child])
        result[room.id] = frozenset(found)
    return result


def span_covers(spans: Iterable[Span], day: date, room_ids: frozenset[int]) -> bool:
    """True when a span covers DAY for the whole facility or for one of ROOM_IDS."""
    return any(s.start <= day < s.end and (s.room_id is None or s.room_id in room_ids) for s in spans)


@dataclass
class Cell:
    """One grid cell: a room's slot on a day, with the hourly units still free (for hourly rooms)."""

    slot: SlotDef
    status: Status
    free_units: int = 0


@dataclass
class Grid:
    """The 空き状況 of rooms x days x slots. `slots[day]` are the day's columns (empty: nothing to let)."""

    days: list[date]
    slots: dict[date, list[SlotDef]]
    cells: dict[tuple[int, date], list[Cell]]

    def row(self, room_id: int, day: date) -> list[Cell]:
        return self.cells.get((room_id, day), [])


def compute_grid(
    *,
    rooms: list[RoomNode],
    days: list[date],
    slots: list[SlotDef],
    closures: list[Span],
    lotteries: list[Span],
    claims: Mapping[tuple[int, date, int], bool],
    holidays: frozenset[date] | set[date],
    closed_on_holidays: bool = False,
) -> Grid:
    """The grid. CLAIMS maps (leaf room, day, cell) to True when its booking is still pending (申込中)."""
    leaf_of = leaves(rooms)
    related_of = related(rooms)
    day_slots = {day: slots_for_day(slots, day, holidays) for day in days}
    result: dict[tuple[int, date], list[Cell]] = {}
    for day in days:
        facility_closed = closed_on_holidays and day in holidays
        for room in rooms:
            row = []
            closed = facility_closed or span_covers(closures, day, related_of[room.id])
            lottery = span_covers(lotteries, day, related_of[room.id])
            units = units_for(room, day_slots[day])
            for slot in day_slots[day]:
                if closed:
                    row.append(Cell(slot, Status.CLOSED))
                    continue
                if lottery:
                    row.append(Cell(slot, Status.LOTTERY))
                    continue
                slot_units = [u for u in units if u.slot == slot]
                claimed = [
                    claims[(leaf, day, c)]
                    for leaf in leaf_of[room.id]
                    for c in cells(slot.start, slot.end)
                    if (leaf, day, c) in claims
                ]
                free = sum(
                    1
                    for u in slot_units
                    if not any((leaf, day, c) in claims for leaf in leaf_of[room.id] for c in cells(u.start, u.end))
                )
                if not claimed:
                    status = Status.FREE
                elif free or all(claimed):
                    status = Status.FEW
                else:
                    status = Status.TAKEN
                row.append(Cell(slot, status, free))
            result[(room.id, day)] = row
    return Grid(days=list(days), slots=day_slots, cells=result)
