"""Property tests: the 空き状況 grid against a brute-force oracle (month ends, closures, holidays, parent/child
rooms, hourly rooms), plus a few worked examples."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.facilities.availability import (
    CELL_MINUTES,
    HOLIDAY_WEEKDAY,
    RoomNode,
    SlotDef,
    Span,
    Status,
    cells,
    compute_grid,
    leaves,
    slots_for_day,
    units_for,
)

# --- the oracle: minute by minute, walking parent pointers, no shared helpers --------------------------------


def _is_under(rooms, top, room_id):
    parent = {r.id: r.parent_id for r in rooms}
    current, steps = room_id, 0
    while current is not None and steps <= len(rooms):
        if current == top:
            return True
        current, steps = parent.get(current), steps + 1
    return False


def _oracle_slots(slots, day, holidays):
    def rank(s):
        if s.on_date is not None:
            return 0 if s.on_date == day else None
        if s.weekday == HOLIDAY_WEEKDAY:
            return 1 if day in holidays else None
        if s.weekday is not None:
            return 2 if s.weekday == day.weekday() else None
        return 3

    ranked = [(rank(s), s) for s in slots]
    ranks = [r for r, _ in ranked if r is not None]
    if not ranks:
        return []
    best = min(ranks)
    return sorted((s for r, s in ranked if r == best), key=lambda s: (s.start, s.id))


def _oracle(rooms, days, slots, closures, lotteries, claims, holidays, closed_on_holidays):
    ids = [r.id for r in rooms]
    has_children = {r.parent_id for r in rooms if r.parent_id is not None}
    out = {}
    for day in days:
        for room in rooms:
            leaf_ids = [x for x in ids if x not in has_children and _is_under(rooms, room.id, x)]
            related = [x for x in ids if _is_under(rooms, room.id, x) or _is_under(rooms, x, room.id)]

            def covered(spans, related=related, day=day):
                return any(s.start <= day < s.end and (s.room_id is None or s.room_id in related) for s in spans)

            row = []
            for slot in _oracle_slots(slots, day, holidays):
                if (closed_on_holidays and day in holidays) or covered(closures):
                    row.append((slot.id, Status.CLOSED, 0))
                    continue
                if covered(lotteries):
                    row.append((slot.id, Status.LOTTERY, 0))
                    continue

                def taken_minutes(start, end, leaf_ids=leaf_ids, day=day):
                    return [claims[(leaf, day, m // CELL_MINUTES)] for leaf in leaf_ids for m in range(start, end)
                            if (leaf, day, m // CELL_MINUTES) in claims]

                if room.hourly:
                    hours = [(h, h + 60) for h in range(slot.start, slot.end) if h + 60 <= slot.end
                             and (h - slot.start) % 60 == 0]
                else:
                    hours = [(slot.start, slot.end)]
                free = sum(1 for a, b in hours if not taken_minutes(a, b))
                pending = taken_minutes(slot.start, slot.end)
                if not pending:
                    status = Status.FREE
                elif free or all(pending):
                    status = Status.FEW
                else:
                    status = Status.TAKEN
                row.append((slot.id, status, free))
            out[(room.id, day)] = row
    return out


# --- strategies --------------------------------------------------------------------------------------------


@st.composite
def room_trees(draw):
    n = draw(st.integers(1, 5))
    rooms = []
    for i in range(1, n + 1):
        parent = draw(st.one_of(st.none(), st.integers(1, i - 1))) if i > 1 else None
        rooms.append(RoomNode(i, parent, draw(st.booleans())))
    return rooms


@st.composite
def month_end_days(draw):
    year = draw(st.integers(2024, 2028))
    month = draw(st.integers(1, 12))
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    start = first_next - timedelta(days=draw(st.integers(1, 4)))
    return [start + timedelta(days=i) for i in range(draw(st.integers(1, 8)))]


@st.composite
def slot_defs(draw, days):
    result = []
    for i in range(1, draw(st.integers(0, 6)) + 1):
        start = draw(st.integers(12, 40)) * CELL_MINUTES
        length = draw(st.integers(1, 8)) * CELL_MINUTES
        kind = draw(st.sampled_from(["default", "weekday", "holiday", "date"]))
        result.append(SlotDef(
            id=i, code=f"c{i}", label=f"枠{i}", start=start, end=start + length,
            weekday={"weekday": draw(st.integers(0, 6)), "holiday": HOLIDAY_WEEKDAY}.get(kind),
            on_date=draw(st.sampled_from(days)) if kind == "date" else None,
        ))
    return result


@st.composite
def scenarios(draw):
    rooms = draw(room_trees())
    days = draw(month_end_days())
    slots = draw(slot_defs(days))
    ids = [r.id for r in rooms]

    def spans():
        return st.lists(st.builds(
            lambda a, n, room: Span(days[0] + timedelta(days=a), days[0] + timedelta(days=a + n), room),
            st.integers(-2, 8), st.integers(1, 3), st.one_of(st.none(), st.sampled_from(ids))), max_size=3)

    claims = draw(st.dictionaries(
        st.tuples(st.sampled_from(ids), st.sampled_from(days), st.integers(12, 48)), st.booleans(), max_size=30))
    return dict(
        rooms=rooms, days=days, slots=slots, closures=draw(spans()), lotteries=draw(spans()), claims=claims,
        holidays=frozenset(draw(st.sets(st.sampled_from(days)))), closed_on_holidays=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_grid_matches_brute_force_oracle(scenario):
    grid = compute_grid(**scenario)
    expected = _oracle(**scenario)
    actual = {key: [(c.slot.id, c.status, c.free_units if c.status not in (Status.CLOSED, Status.LOTTERY) else 0)
                    for c in row] for key, row in grid.cells.items()}
    assert actual == expected


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_slots_for_day_matches_oracle(scenario):
    for day in scenario["days"]:
        assert slots_for_day(scenario["slots"], day, scenario["holidays"]) == _oracle_slots(
            scenario["slots"], day, scenario["holidays"])


@given(st.integers(0, 47), st.integers(1, 48))
def test_cells_cover_exactly_the_minutes(a, n):
    start, end = a * CELL_MINUTES, (a + n) * CELL_MINUTES
    assert set(cells(start, end)) == {m // CELL_MINUTES for m in range(start, end)}


def test_whole_hall_occupies_both_halves_and_a_half_blocks_the_hall():
    rooms = [RoomNode(1), RoomNode(2, 1), RoomNode(3, 1)]
    assert leaves(rooms) == {1: frozenset({2, 3}), 2: frozenset({2}), 3: frozenset({3})}
    day = date(2026, 12, 1)
    morning = SlotDef(1, "morning", "午前", 540, 720)
    grid = compute_grid(rooms=rooms, days=[day], slots=[morning], closures=[], lotteries=[],
                        claims={(2, day, 18): False}, holidays=frozenset())
    assert [c.status for c in grid.row(1, day)] == [Status.TAKEN]
    assert [c.status for c in grid.row(2, day)] == [Status.TAKEN]
    assert [c.status for c in grid.row(3, day)] == [Status.FREE]


def test_hourly_room_partly_booked_is_few_and_units_are_hours():
    room = RoomNode(1, hourly=True)
    day = date(2026, 12, 1)
    slot = SlotDef(1, "morning", "午前", 540, 720)
    assert [u.key for u in units_for(room, [slot])] == ["s1h540", "s1h600", "s1h660"]
    grid = compute_grid(rooms=[room], days=[day], slots=[slot], closures=[], lotteries=[],
                        claims={(1, day, 18): False, (1, day, 19): False}, holidays=frozenset())
    cell = grid.row(1, day)[0]
    assert (cell.status, cell.free_units) == (Status.FEW, 2)


def test_holiday_template_and_date_override():
    default = SlotDef(1, "morning", "午前", 540, 720)
    holiday = SlotDef(2, "day", "終日", 600, 960, weekday=HOLIDAY_WEEKDAY)
    override = SlotDef(3, "special", "特別", 780, 1020, on_date=date(2026, 11, 23))
    culture_day = date(2026, 11, 3)  # 文化の日
    assert slots_for_day([default, holiday, override], culture_day, {culture_day}) == [holiday]
    assert slots_for_day([default, holiday, override], date(2026, 11, 23), {date(2026, 11, 23)}) == [override]
    assert slots_for_day([default, holiday, override], date(2026, 11, 4), set()) == [default]
