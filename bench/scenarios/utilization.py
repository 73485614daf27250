"""Utilization dashboards: 60 rooms (12 facilities x 5) with SIZE fiscal years of bookings (default 5)."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

import sqlalchemy as sa

from bench.scenarios import Route, chunks, insert_users

DEFAULT_SIZE = 5  # fiscal years, ending with the current one
WARD_STAFF = "bench-ward@example.jp"
FACILITIES = 12
ROOMS_PER_FACILITY = 5
OCCUPANCY = 0.65
SLOTS = (("morning", "午前", time(9), time(12)), ("afternoon", "午後", time(13), time(17)),
         ("evening", "夜間", time(18), time(21, 30)))


def _years(size: int) -> tuple[date, date, int]:
    from app.core.time import fiscal_year, today_tokyo

    last = fiscal_year(today_tokyo())
    return date(last - size + 1, 4, 1), date(last + 1, 4, 1), last


def generate(app, size: int, *, facilities: int = FACILITIES, rollup: bool = True) -> None:
    """Facilities, rooms, 3 時間区分 each, 年末年始 closures and ~65 % of the slots booked (core inserts), then the
    utilization rollup built as `flask utilization rebuild` does (the bulk inserts bypass its upkeep)."""
    from app.bookings.models import Booking, BookingItem, BookingState
    from app.core.districts import District
    from app.extensions import db
    from app.facilities.models import Closure, Facility, FacilityKind, Room, RoomKind, TimeSlot, UserCategory

    insert_users([(WARD_STAFF, "ward_staff")])
    rng = random.Random(6)
    start, end, _last = _years(size)
    districts = list(District)
    facility_rows = [{
        "id": f + 1, "kind": (FacilityKind.TRADITIONAL_CULTURE if f == facilities - 1
                              else FacilityKind.COMMUNITY_CENTER),
        "district": districts[f % len(districts)], "name_ja": f"ベンチ区民センター{f + 1}", "address_ja": "港区",
    } for f in range(facilities)]
    db.session.execute(sa.insert(Facility), facility_rows)
    rooms = [{"id": f * ROOMS_PER_FACILITY + r + 1, "facility_id": f + 1, "kind": RoomKind.MEETING,
              "name_ja": f"会議室{r + 1}", "capacity": 20, "sort_order": r}
             for f in range(facilities) for r in range(ROOMS_PER_FACILITY)]
    db.session.execute(sa.insert(Room), rooms)
    db.session.execute(sa.insert(TimeSlot), [
        {"facility_id": f + 1, "code": code, "label_ja": label, "start_time": s, "end_time": e}
        for f in range(facilities) for code, label, s, e in SLOTS])
    closures = []
    for year in range(start.year, end.year):
        for f in range(facilities):
            closures.append({"facility_id": f + 1, "kind": "regular", "start_date": date(year, 12, 29),
                             "end_date": date(year + 1, 1, 4), "reason_ja": "年末年始"})
    db.session.execute(sa.insert(Closure), closures)
    days = (end - start).days
    booking_id = 0
    bookings, items = [], []
    categories = list(UserCategory)
    for room in rooms:
        for d in range(days):
            day = start + timedelta(days=d)
            for code, label, s, e in SLOTS:
                if rng.random() >= OCCUPANCY:
                    continue
                booking_id += 1
                cancelled = rng.random() < 0.05
                bookings.append({
                    "id": booking_id, "facility_id": room["facility_id"], "room_id": room["id"], "day": day,
                    "state": BookingState.CANCELLED if cancelled else BookingState.CONFIRMED,
                    "category": rng.choice(categories), "purpose": rng.choice(("会議", "練習", "講座", "交流会")),
                    "attendees": 10, "fee_gross_yen": 2000, "fee_reduction_yen": 0, "fee_net_yen": 2000,
                    "late_cancellation": cancelled and rng.random() < 0.3,
                })
                items.append({"booking_id": booking_id, "slot_code": code, "label_ja": label,
                              "start_minute": s.hour * 60 + s.minute, "end_minute": e.hour * 60 + e.minute})
    for batch in chunks(bookings, 10000):
        db.session.execute(sa.insert(Booking), batch)
    for batch in chunks(items, 10000):
        db.session.execute(sa.insert(BookingItem), batch)
    if rollup:
        from app.utilization import rollup as utilization_rollup

        utilization_rollup.rebuild(db.session)
    _ = app


def routes(app) -> list[Route]:
    """The overview and one facility page, signed in as ward staff."""
    return [
        Route("/staff/utilization", login=WARD_STAFF, label="utilization overview"),
        Route("/staff/utilization/facilities/1", login=WARD_STAFF, label="utilization facility"),
    ]
