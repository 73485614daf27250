"""Room booking reads: 60 rooms (12 facilities x 5, one split hall each) with SIZE years of bookings at ~70 %
fill, claims included; the month grid of one facility, a week grid and the one-day all-rooms search."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

import sqlalchemy as sa

from bench.scenarios import Route, chunks

DEFAULT_SIZE = 5  # years of bookings: SIZE - 1 years back from today, one year ahead
FACILITIES = 12
ROOMS_PER_FACILITY = 5  # room 1 is a hall whose halves are rooms 2 and 3
FILL = 0.70
WEEKLY_SHARE = 0.0  # share of bookings repeated weekly (the Indico-shaped scenario sets it)
SLOTS = (("morning", "午前", time(9), time(12)), ("afternoon", "午後", time(13), time(17)),
         ("evening", "夜間", time(18), time(21, 30)))


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def generate_rooms(size: int, *, facilities: int, rooms_per_facility: int, fill: float, weekly_share: float,
                   years_back: int | None = None) -> None:
    """Facilities, rooms, 時間区分, 年末年始 closures, bookings with items and claims (core inserts)."""
    from app.bookings.models import Booking, BookingClaim, BookingItem, BookingSeries, BookingState
    from app.core.districts import District
    from app.core.time import today_tokyo
    from app.extensions import db
    from app.facilities.availability import cells
    from app.facilities.models import Closure, Facility, FacilityKind, FeeRate, Room, RoomKind, TimeSlot, UserCategory

    rng = random.Random(4)
    today = today_tokyo()
    back = size - 1 if years_back is None else years_back
    start = date(today.year - back, today.month, 1)
    end = start.replace(year=start.year + size)
    districts = [d for d in District if d != District.WARD_WIDE]
    db.session.execute(sa.insert(Facility), [{
        "id": f + 1, "kind": FacilityKind.COMMUNITY_CENTER, "district": districts[f % len(districts)],
        "name_ja": f"ベンチ区民センター{f + 1}", "address_ja": "港区芝公園1-5-25", "window_days_resident": 400,
    } for f in range(facilities)])
    rooms = []
    for f in range(facilities):
        for r in range(rooms_per_facility):
            room_id = f * rooms_per_facility + r + 1
            split = rooms_per_facility >= 3
            parent = f * rooms_per_facility + 1 if split and r in (1, 2) else None
            rooms.append({"id": room_id, "facility_id": f + 1, "parent_id": parent,
                          "kind": RoomKind.HALL if split and r < 3 else RoomKind.MEETING,
                          "name_ja": ("ホール" if r == 0 else f"ホール{'AB'[r - 1]}") if split and r < 3
                          else f"会議室{r}", "capacity": 40, "sort_order": r})
    db.session.execute(sa.insert(Room), rooms)
    db.session.execute(sa.insert(TimeSlot), [
        {"facility_id": f + 1, "code": code, "label_ja": label, "start_time": s, "end_time": e}
        for f in range(facilities) for code, label, s, e in SLOTS])
    db.session.execute(sa.insert(FeeRate), [
        {"room_id": room["id"], "slot_code": code, "category": category, "amount_yen": 1000}
        for room in rooms for code, *_ in SLOTS for category in UserCategory])
    db.session.execute(sa.insert(Closure), [
        {"facility_id": f + 1, "kind": "regular", "start_date": date(year, 12, 29), "end_date": date(year + 1, 1, 4),
         "reason_ja": "年末年始"}
        for year in range(start.year - 1, end.year + 1) for f in range(facilities)])

    # Leaves: the hall claims its halves; whole-hall and half bookings never overlap (checked with a set).
    leaves = {room["id"]: [room["id"]] for room in rooms}
    for room in rooms:
        if room["parent_id"]:
            leaves[room["parent_id"]] = [x for x in leaves[room["parent_id"]] if x != room["parent_id"]] + [room["id"]]
    claimed: set[tuple[int, date, int]] = set()
    bookings, items, claims, series = [], [], [], []
    booking_id = 0
    days = (end - start).days

    def book(room_id: int, facility_id: int, day: date, slot, series_id: int | None = None) -> None:
        nonlocal booking_id
        code, label, s, e = slot
        wanted = [(leaf, day, c) for leaf in leaves[room_id] for c in cells(_minutes(s), _minutes(e))]
        if any(w in claimed for w in wanted):
            return
        booking_id += 1
        claimed.update(wanted)
        bookings.append({"id": booking_id, "facility_id": facility_id, "room_id": room_id, "day": day,
                         "state": BookingState.CONFIRMED, "category": UserCategory.RESIDENT, "purpose": "会議",
                         "attendees": 10, "fee_gross_yen": 1000, "fee_reduction_yen": 0, "fee_net_yen": 1000,
                         "series_id": series_id})
        items.append({"booking_id": booking_id, "slot_code": code, "label_ja": label, "start_minute": _minutes(s),
                      "end_minute": _minutes(e), "fee_yen": 1000})
        claims.extend({"booking_id": booking_id, "room_id": leaf, "day": d, "cell": c} for leaf, d, c in wanted)

    # Series first (weekly, 8 dates, the free ones as "book the free dates only" would): started on a
    # WEEKLY_SHARE x FILL / 8 share of the cells, so that about WEEKLY_SHARE of all bookings belong to a series.
    for room in rooms:
        for d in range(days):
            day = start + timedelta(days=d)
            for slot in SLOTS:
                if weekly_share and rng.random() < weekly_share * fill / 8:
                    series.append({"id": len(series) + 1, "facility_id": room["facility_id"], "room_id": room["id"],
                                   "first_day": day, "interval_weeks": 1, "count": 8, "unit_keys": [slot[0]],
                                   "purpose": "定例会", "attendees": 10, "category": UserCategory.RESIDENT,
                                   "skip_conflicts": True})
                    for week in range(0, 8):
                        if d + 7 * week < days:
                            book(room["id"], room["facility_id"], day + timedelta(days=7 * week), slot,
                                 series[-1]["id"])
    # Then single bookings at FILL on what is left.
    for room in rooms:
        for d in range(days):
            day = start + timedelta(days=d)
            for slot in SLOTS:
                if rng.random() < fill:
                    book(room["id"], room["facility_id"], day, slot)
    for table, rows in ((BookingSeries, series), (Booking, bookings), (BookingItem, items), (BookingClaim, claims)):
        for batch in chunks(rows, 20000):
            db.session.execute(sa.insert(table), batch)
    if db.session.get_bind().dialect.name == "postgresql":
        # Rows were inserted with explicit ids: move the sequences past them for the app's own inserts.
        for table in ("facilities", "rooms", "bookings", "booking_series"):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))  # noqa: S608 - fixed names
    # The utilization rollup, as production's daily job builds it (`utilization.extend-rollup`): from then on
    # every booking commit also keeps it current, and the measured booking creation includes that upkeep.
    from app.utilization import rollup

    rollup.rebuild(db.session)
    # Planner statistics, as a database that has lived a while has them (autovacuum); allowed in a transaction.
    db.session.execute(sa.text("ANALYZE"))


def generate(app, size: int) -> None:
    """60 rooms x SIZE years at ~70 % fill."""
    generate_rooms(size, facilities=FACILITIES, rooms_per_facility=ROOMS_PER_FACILITY, fill=FILL,
                   weekly_share=WEEKLY_SHARE)


def routes(app) -> list[Route]:
    """Grid month/week of facility 1 for next month, the facility list, the one-day search over every room."""
    from app.core.time import today_tokyo

    next_month = (today_tokyo().replace(day=1) + timedelta(days=32)).replace(day=1)
    day = today_tokyo() + timedelta(days=10)
    return [
        Route(f"/facilities/1/availability?view=month&start={next_month.isoformat()}", label="month grid (1 facility)"),
        Route(f"/facilities/1/availability?start={next_month.isoformat()}", label="week grid (1 facility)"),
        Route(f"/facilities/search?day={day.isoformat()}", label="one-day search (all rooms)"),
        Route(f"/api/v1/rooms/1/availability?from={next_month}&to={next_month + timedelta(days=31)}",
              label="API room availability (31 days)"),
    ]
