"""Keeps the utilization rollup current: rebuilt by `flask utilization rebuild`, maintained in every transaction.

The rollup (app.utilization.models) holds, for the whole months it covers, what the SQL of
app.utilization.compute computes from templates, closures and bookings, summed per leaf room x month x
weekday x 時間区分 (units) and per booked room x month x weekday (booking figures). Reading a month from it is a
GROUP BY over a few hundred rows instead of a calendar x rooms x bookings join.

How it stays correct, whatever path writes (booking creation, weekly series, cancellation by a page or a
one-click link, approval and rejection, 仮予約 expiry, check-in and no-show, lottery allocation, closures,
templates, rooms) - no service has to remember to call anything:

- An `after_flush` listener on every SQLAlchemy Session notes each Booking, BookingItem, Closure, TimeSlot,
  Room and Facility row a flush inserted, changed or deleted (where it was and where it is). Before the
  transaction commits (`before_commit`), and before a reader in the same transaction reads the rollup,
  settle() recomputes the rollup rows those changes can alter from the database - in the same transaction,
  so a rollback takes them back too: for a booking, its room and the rooms below it x its month x its weekday
  (a few dozen rows, the common case); for closures, templates, rooms and facilities, the facility's months.
  It recomputes rather than adds deltas: the same SQL as the rebuild (built once, values bound), restricted to
  those rows, so the two cannot drift apart. On PostgreSQL an advisory lock per facility serialises the
  writers of the same rows (SQLite writers are serialised already).
- Except in a web request, whose user waits for the commit: there a changed booking's room x month x weekday is
  only marked stale (one upsert into utilization_rollup_stale, in the same transaction), and settle_stale
  recomputes the marked keys once the response has been sent (WSGI close; the job `utilization.settle-stale`
  catches any a crash left). Readers compute a month holding a stale key live, so no figure is ever stale.
- A bulk INSERT / UPDATE / DELETE on those tables through the session (which the ORM cannot see row by row)
  drops the coverage: reads fall back to the live SQL until the next rebuild. Never wrong, only slower.
- Months outside the coverage are always computed live, so the rollup is an optimisation, never a source.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from sqlalchemy.orm import Session

from app.bookings.models import Booking, BookingItem
from app.core.db import listen_once, write_intent
from app.core.time import fiscal_year, today_tokyo, utcnow
from app.extensions import db
from app.facilities.models import Closure, Facility, Room, TimeSlot
from app.utilization.models import (
    UtilizationBookingRollup,
    UtilizationRollupCoverage,
    UtilizationRollupStale,
    UtilizationUnitRollup,
)
from app.utilization.months import add_months, month_ceiling, month_floor, month_key
from app.utilization.sql import STAT_FIELDS, ancestors, live_booking_stats, live_utilization

COVERAGE_ID = 1
ALL = "all"
# Changes to these columns alter bookable units (rooms, templates, facilities) or counted bookings.
ROOM_COLUMNS = ("active", "parent_id", "hourly", "facility_id")
FACILITY_COLUMNS = ("active", "closed_on_holidays")
WATCHED_TABLES = frozenset(m.__tablename__ for m in (Booking, BookingItem, Closure, TimeSlot, Room, Facility))


class _Unknown(Exception):
    """A deleted row whose values were never loaded: which months it touched cannot be known."""


def _old_value_loaded(_target, value, _old, _initiator):
    return value


# The columns that say which rows a change touches: setting one on an expired object (after a commit) loads its
# old value first, so that the flush knows where the row was as well as where it goes (a booking moved to
# another day or room, a closure moved). Without it the old month was never recomputed.
_LOCATING_ATTRIBUTES = (Booking.facility_id, Booking.room_id, Booking.day, BookingItem.booking_id, Closure.facility_id,
                        Closure.room_id, Closure.start_date, Closure.end_date, TimeSlot.facility_id, Room.facility_id)


CACHE_KEY = "utilization_rollup_coverage"


def coverage(session: Session) -> tuple[date, date] | None:
    """The whole months [first_day, end_day) the rollup covers, or None when it was never built (or dropped).

    Read once per transaction (a page asks several times; the cache goes with the commit or rollback)."""
    if CACHE_KEY in session.info:
        return session.info[CACHE_KEY]
    table = UtilizationRollupCoverage.__table__
    row = session.execute(
        sa.select(table.c.first_day, table.c.end_day).where(table.c.id == COVERAGE_ID)
    ).first()
    session.info[CACHE_KEY] = (row.first_day, row.end_day) if row else None
    return session.info[CACHE_KEY]


def _forget_coverage(session: Session, *_args) -> None:
    session.info.pop(CACHE_KEY, None)  # a savepoint rolled back may have held a rebuild


def _fiscal_year_of_month(month: int) -> int:
    return month // 100 - (1 if month % 100 < 4 else 0)


def recompute(session: Session, *, first: date, end: date, facility_ids: Iterable[int] | None = None,
              room_ids: Iterable[int] | None = None, weekday: int | None = None) -> int:
    """Replace the rollup rows of the whole months [first, end) (of FACILITY_IDS, None = all) with what the live
    SQL computes now. ROOM_IDS and WEEKDAY narrow it to the rows of those rooms on that weekday (the upkeep of a
    booking): ROOM_IDS must hold every room below each of them (a parent's units are its leaves'). Idempotent.
    Returns the number of unit rows written. Every statement is built once (cached) and takes bound values."""


    if end <= first:
        return 0
    ids = None if facility_ids is None else sorted(set(facility_ids))
    rooms = None if room_ids is None else sorted(set(room_ids))
    params = {"first_month": month_key(first), "end_month": month_key(end)}
    if ids is not None:
        params["facility_ids"] = ids
    if rooms is not None:
        params["room_ids"] = rooms
    if weekday is not None:
        params["weekday"] = weekday
    shape = (ids is not None, rooms is not None, weekday is not None)
    for table in (UtilizationUnitRollup.__table__, UtilizationBookingRollup.__table__):
        session.execute(_delete_statement(table.name, *shape), params)
    unit_rows = [
        {"room_id": key["room"], "month": key["month"], "weekday": key["weekday"], "slot_code": key["slot"],
         "facility_id": key["facility"], "fiscal_year": _fiscal_year_of_month(key["month"]),
         "bookable": int(bookable), "booked": int(booked or 0), "used": int(used or 0)}
        for key, bookable, booked, used in live_utilization(
            session, start=first, end=end, facility_ids=ids, room_ids=rooms, weekday=weekday, keys=UNIT_KEYS)
    ]
    stat_rows = [
        {"room_id": key["room"], "month": key["month"], "weekday": key["weekday"], "facility_id": key["facility"],
         "fiscal_year": _fiscal_year_of_month(key["month"]),
         **{name: int(value or 0) for name, value in zip(STAT_FIELDS, values, strict=True)}}
        # By room alone when rooms are given: the rows are the rooms' whatever facility their bookings name.
        for key, *values in live_booking_stats(session, start=first, end=end, room_ids=rooms, weekday=weekday,
                                                facility_ids=ids if rooms is None else None, keys=STAT_KEYS)
    ]
    if unit_rows:
        session.execute(_insert_statement(UtilizationUnitRollup.__tablename__), unit_rows)
    if stat_rows:
        session.execute(_insert_statement(UtilizationBookingRollup.__tablename__), stat_rows)
    return len(unit_rows)


UNIT_KEYS = ("facility", "room", "month", "weekday", "slot")
STAT_KEYS = ("facility", "room", "month", "weekday")
_TABLES = {model.__tablename__: model.__table__ for model in (UtilizationUnitRollup, UtilizationBookingRollup)}


@functools.lru_cache(maxsize=32)
def _delete_statement(table_name: str, by_facility: bool, by_room: bool, by_weekday: bool):
    """DELETE of a rollup table's rows in [first_month, end_month), narrowed as asked (bound parameters)."""
    table = _TABLES[table_name]
    stmt = sa.delete(table).where(table.c.month >= sa.bindparam("first_month"),
                                  table.c.month < sa.bindparam("end_month"))
    if by_facility:
        stmt = stmt.where(table.c.facility_id.in_(sa.bindparam("facility_ids", expanding=True)))
    if by_room:
        stmt = stmt.where(table.c.room_id.in_(sa.bindparam("room_ids", expanding=True)))
    if by_weekday:
        stmt = stmt.where(table.c.weekday == sa.bindparam("weekday"))
    return stmt


@functools.lru_cache(maxsize=4)
def _insert_statement(table_name: str):
    return sa.insert(_TABLES[table_name])


def default_range(session: Session, *, today: date | None = None) -> tuple[date, date]:
    """From the fiscal year of the first booking (or the previous one) to the end of next fiscal year."""
    today = today or today_tokyo()
    this_year = fiscal_year(today)
    first_day = session.execute(sa.select(sa.func.min(Booking.__table__.c.day))).scalar()
    first_year = min(fiscal_year(first_day), this_year - 1) if first_day else this_year - 1
    return date(first_year, 4, 1), date(this_year + 2, 4, 1)


def rebuild(session: Session, *, first: date | None = None, end: date | None = None,
            now: datetime | None = None) -> tuple[date, date, int]:
    """Recompute the whole rollup for the months [first, end) (default_range when not given) and make that the
    coverage. Idempotent: run it after a bulk import, from a job, or whenever in doubt. Returns the range and
    the number of unit rows."""
    default_first, default_end = default_range(session)
    first = month_floor(first or default_first)
    end = month_ceiling(end or default_end)
    if end <= first:
        raise ValueError("the rollup range is empty")
    session.flush()
    _lock(session)
    session.info.pop(PENDING_KEY, None)  # everything is recomputed below
    session.info.pop(KEYS_KEY, None)
    units, stats = UtilizationUnitRollup.__table__, UtilizationBookingRollup.__table__
    session.execute(sa.delete(units))
    session.execute(sa.delete(stats))
    session.execute(sa.delete(UtilizationRollupStale.__table__))  # everything is recomputed below
    written = 0
    cursor = first
    while cursor < end:  # a fiscal year or less per statement keeps each one modest
        step = min(add_months(cursor, 12), end)
        written += recompute(session, first=cursor, end=step)
        cursor = step
    _set_coverage(session, first, end, now=now)
    return first, end, written


def extend(session: Session, *, today: date | None = None, now: datetime | None = None) -> int:
    """Grow the coverage to default_range (new months only; a rollup never built is built). For the daily job."""
    covered = coverage(session)
    if covered is None:
        return rebuild(session, now=now)[2]
    settle(session)
    _lock(session)
    wanted_first, wanted_end = default_range(session, today=today)
    written = 0
    if wanted_first < covered[0]:
        written += recompute(session, first=wanted_first, end=covered[0])
    if wanted_end > covered[1]:
        written += recompute(session, first=covered[1], end=wanted_end)
    _set_coverage(session, min(wanted_first, covered[0]), max(wanted_end, covered[1]), now=now)
    return written


def _set_coverage(session: Session, first: date, end: date, *, now: datetime | None) -> None:
    table = UtilizationRollupCoverage.__table__
    session.execute(sa.delete(table))
    session.execute(sa.insert(table).values(id=COVERAGE_ID, first_day=first, end_day=end,
                                            rebuilt_at=now or utcnow()))
    session.info[CACHE_KEY] = (first, end)


def drop_coverage(session: Session) -> None:
    """Forget the coverage: every read computes live until the next rebuild."""
    session.execute(sa.delete(UtilizationRollupCoverage.__table__))
    session.info[CACHE_KEY] = None


# --- maintenance on flush ---------------------------------------------------------------------------------

def _values(obj, name: str) -> set:
    """The attribute's current value and, when it changed in this flush, its previous ones (never loads)."""
    state = sa.inspect(obj)
    history = state.attrs[name].history
    values = {state.dict.get(name), *history.added, *history.deleted, *history.unchanged}
    values.discard(None)
    if not values and name in state.mapper.columns and not state.mapper.columns[name].nullable:
        raise _Unknown(name)
    return values


def _changed(obj, names: Iterable[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _touched(session: Session) -> tuple[dict, set, set[int]]:
    """What this flush changed: facility id -> set of days (or ALL) where templates, closures, rooms or the
    facility changed (recomputed by facility-month: rare); (facility id, room id, day) of each changed booking
    (recomputed by room x month x weekday: every booking commit); booking ids of changed items."""
    touched: dict[int, set | str] = {}
    keys: set[tuple[int, int, date]] = set()
    item_bookings: set[int] = set()

    def add(facility_id, days):
        if facility_id is None or touched.get(facility_id) == ALL:
            return
        if days == ALL:
            touched[facility_id] = ALL
        else:
            touched.setdefault(facility_id, set()).update(days)

    # session.new/.dirty/.deleted build a new set at each access: read them once, not once per object (a flush
    # of 10,000 objects - a lottery draw's entries and result mails - spent 27 s here).
    new, dirty, deleted = session.new, session.dirty, session.deleted
    for obj in (*new, *dirty, *deleted):
        is_dirty = obj in dirty and obj not in new and obj not in deleted
        if isinstance(obj, Booking):
            if is_dirty and not session.is_modified(obj, include_collections=False):
                continue
            days, rooms = _values(obj, "day"), _values(obj, "room_id")  # old and new: a move touches both
            keys.update((facility_id, room_id, day) for facility_id in _values(obj, "facility_id")
                        for room_id in rooms for day in days)
        elif isinstance(obj, BookingItem):
            if is_dirty and not session.is_modified(obj, include_collections=False):
                continue
            booking_ids = _values(obj, "booking_id")
            booking = obj.__dict__.get("booking")  # a new booking's items: no query to learn where it is
            key = tuple(booking.__dict__.get(name) for name in ("id", "facility_id", "room_id", "day")) \
                if booking is not None else (None,)
            if None not in key and booking_ids == {key[0]}:
                keys.add(key[1:])
            else:
                item_bookings |= booking_ids
        elif isinstance(obj, Closure):
            if is_dirty and not session.is_modified(obj, include_collections=False):
                continue
            starts, ends = _values(obj, "start_date"), _values(obj, "end_date")
            if starts and ends:
                for facility_id in _values(obj, "facility_id"):
                    add(facility_id, {(min(starts), max(ends))})
        elif isinstance(obj, TimeSlot):
            if is_dirty and not session.is_modified(obj, include_collections=False):
                continue
            for facility_id in _values(obj, "facility_id"):
                add(facility_id, ALL)
        elif isinstance(obj, Room):
            if is_dirty and not _changed(obj, ROOM_COLUMNS):
                continue
            for facility_id in _values(obj, "facility_id"):
                add(facility_id, ALL)
        elif isinstance(obj, Facility):
            if is_dirty and not _changed(obj, FACILITY_COLUMNS):
                continue
            add(obj.id, ALL)
    return touched, keys, item_bookings


def _months(days: set) -> tuple[date, date]:
    """The whole months spanning DAYS (dates, or (start, end) date ranges with END exclusive)."""
    firsts, lasts = [], []
    for value in days:
        if isinstance(value, tuple):
            firsts.append(value[0])
            lasts.append(value[1])
        else:
            firsts.append(value)
            lasts.append(value)
    return month_floor(min(firsts)), add_months(month_floor(max(lasts)), 1)


PENDING_KEY = "utilization_rollup_pending"  # facility id -> days or ALL: recomputed by facility-month
KEYS_KEY = "utilization_rollup_keys"  # (facility id, room id, day) of changed bookings: by room x month x weekday
LOCK_CLASS = 6006  # PostgreSQL advisory locks (LOCK_CLASS, 0) = the whole rollup, (LOCK_CLASS, facility id)
_GLOBAL_LOCK = sa.text("SELECT pg_advisory_xact_lock(:c, 0)")
# One round trip: the shared global lock, then the facility's (a select list is evaluated left to right).
_FACILITY_LOCK = sa.text("SELECT pg_advisory_xact_lock_shared(:c, 0), pg_advisory_xact_lock(:c, :f)")


def _lock(session: Session, facility_id: int | None = None) -> None:
    """Serialise rollup writers on PostgreSQL (SQLite's BEGIN IMMEDIATE already does): a facility's recompute
    holds its facility's lock and shares the global one; a rebuild holds the global one alone. Taken at commit
    time, so a writer waits only for the other writers' last statements. In READ COMMITTED, the statements after
    the lock see what the previous holder committed (its bookings and its rollup rows)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if facility_id is None:
        session.execute(_GLOBAL_LOCK, {"c": LOCK_CLASS})
    else:
        session.execute(_FACILITY_LOCK, {"c": LOCK_CLASS, "f": facility_id})


@functools.lru_cache(maxsize=1)
def _bookings_statement():
    table = Booking.__table__
    return sa.select(table.c.facility_id, table.c.room_id, table.c.day).where(
        table.c.id.in_(sa.bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=1)
def _rooms_below_statement():
    """(room id, its facility, room id asked for) of every room at or below the rooms asked for ("ids")."""


    anc = ancestors()
    return sa.select(anc.c.room_id, Room.facility_id, anc.c.anc_id).join(Room, Room.id == anc.c.room_id).where(
        anc.c.anc_id.in_(sa.bindparam("ids", expanding=True)))


def _after_flush(session: Session, _flush_context) -> None:
    """Note the facilities, rooms and days this flush changed; settle() recomputes them before the commit."""
    try:
        touched, keys, item_bookings = _touched(session)
    except _Unknown:
        if coverage(session) is not None:
            drop_coverage(session)
        return
    if (not touched and not keys and not item_bookings) or coverage(session) is None:
        return
    if item_bookings:
        keys.update(session.execute(_bookings_statement(), {"ids": sorted(item_bookings)}).tuples())
    pending = session.info.setdefault(PENDING_KEY, {})
    for facility_id, days in touched.items():
        if days == ALL or pending.get(facility_id) == ALL:
            pending[facility_id] = ALL
        else:
            pending.setdefault(facility_id, set()).update(days)
    session.info.setdefault(KEYS_KEY, set()).update(keys)


def settle(session: Session, *, defer: bool = False) -> None:
    """Recompute the rollup of what this transaction's flushes changed. Runs before every commit, and before
    the rollup is read (a transaction reads its own writes).

    A changed booking recomputes only the rows it can change: its room and every room below it (a hall's
    units are its halves') x its month x its weekday, from the same SQL as the rebuild restricted to those
    days and rooms (a few dozen units). Changes to closures, templates, rooms or a facility recompute the
    facility's months (rare, staff actions).

    DEFER (a request's commit, see _before_commit): the changed bookings' keys are only marked stale, one upsert
    in this transaction, and settle_stale recomputes them after the response has gone out; readers compute a
    stale month live meanwhile. Facility-month changes are recomputed here all the same."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # changes not flushed yet are noted by the flush
    pending = session.info.pop(PENDING_KEY, None) or {}
    keys = session.info.pop(KEYS_KEY, None) or set()
    if not pending and not keys:
        return
    covered = coverage(session)
    if covered is None:
        return
    wide: dict[int, tuple[date, date]] = {}  # facility id -> whole months recomputed
    for facility_id, days in pending.items():
        if days == ALL:
            first, end = covered
        elif days:
            first, end = _months(days)
            first, end = max(first, covered[0]), min(end, covered[1])
        else:
            continue
        if first < end:
            wide[facility_id] = (first, end)
    asked: dict[tuple[date, int], set[int]] = {}  # (month, weekday) -> rooms whose bookings changed
    stale = []
    for facility_id, room_id, day in keys:
        if not covered[0] <= day < covered[1]:
            continue
        month = month_floor(day)
        if defer and not (facility_id in wide and wide[facility_id][0] <= month < wide[facility_id][1]):
            stale.append({"facility_id": facility_id, "room_id": room_id, "month": month_key(month),
                          "weekday": day.weekday()})
        else:
            asked.setdefault((month, day.weekday()), set()).add(room_id)
    if stale:
        _mark_stale(session, stale)
    narrow = _narrow(session, asked, wide)
    for facility_id in sorted(set(wide) | {f for *_, rooms in narrow for _r, f in rooms}):
        _lock(session, facility_id)  # in one order, before any write: no deadlock between writers
    for facility_id, (first, end) in sorted(wide.items()):
        recompute(session, first=first, end=end, facility_ids=[facility_id])
    _recompute_narrow(session, narrow)


def _narrow(session: Session, asked: dict[tuple[date, int], set[int]], wide: dict[int, tuple[date, date]]):
    """[(month, weekday, {(room id, facility id)})]: the rooms asked for and every room below them, for each
    (month, weekday) of ASKED, less the facility months WIDE recomputes whole."""
    below: dict[int, list[tuple[int, int]]] = {}  # room asked for -> (room at or below it, that room's facility)
    if asked:
        for room_id, facility_id, asked_id in session.execute(
            _rooms_below_statement(), {"ids": sorted(set().union(*asked.values()))}
        ):
            below.setdefault(asked_id, []).append((room_id, facility_id))
    narrow = []
    for (month, weekday), asked_rooms in sorted(asked.items()):
        rooms = {(room_id, facility_id) for asked_id in asked_rooms for room_id, facility_id in below.get(asked_id, ())
                 if not (facility_id in wide and wide[facility_id][0] <= month < wide[facility_id][1])}
        if rooms:
            narrow.append((month, weekday, rooms))
    return narrow


def _recompute_narrow(session: Session, narrow: list[tuple[date, int, set[tuple[int, int]]]]) -> None:
    """Recompute each (month, weekday, {(room id, facility id)}) of NARROW; the facilities' locks are held."""
    if not narrow:
        return
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:  # see _GENERIC_PLANS
        previous = session.execute(_GENERIC_PLANS).first()[0]
    for month, weekday, rooms in narrow:
        recompute(session, first=month, end=add_months(month, 1), weekday=weekday,
                  facility_ids={f for _r, f in rooms}, room_ids={r for r, _f in rooms})
    if postgresql:
        session.execute(_PLAN_MODE, {"mode": previous})


# PostgreSQL planned the upkeep's two statements (calendar, templates, closures, bookings: a dozen CTEs) at each
# execution, 2-7 ms each for a few dozen rows. psycopg prepares a statement run 5 times on a connection; with
# generic plans the prepared ones are planned once (booking upkeep 8-13 ms -> 4 ms). For the upkeep only.
_GENERIC_PLANS = sa.text("SELECT current_setting('plan_cache_mode'), "
                         "set_config('plan_cache_mode', 'force_generic_plan', true)")  # the previous mode, then set
_PLAN_MODE = sa.text("SELECT set_config('plan_cache_mode', :mode, true)")


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the rollup is settled once, when the whole transaction commits (locks held briefly)
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit would flush after this hook: its changes must be noted first
    settle(session, defer=_deferring())


# --- keys left stale by requests ---------------------------------------------------------------------------

STALE_FLAG = "utilization_rollup_stale"  # in flask.g: this request marked keys stale (settle after the response)


def _deferring() -> bool:
    """A request defers its bookings' upkeep to after its response (UTILIZATION_ROLLUP_DEFER, default on);
    commands and jobs settle before their commit as before."""
    return has_request_context() and current_app.config["UTILIZATION_ROLLUP_DEFER"]


# INSERT a stale key, or bump its `touches` (which takes the row's lock) when it is already there. The same SQL
# on SQLite and PostgreSQL; as text it is compiled once (the dialects' on_conflict constructs have no cache key).
_STALE_UPSERT = sa.text(
    "INSERT INTO utilization_rollup_stale (room_id, month, weekday, facility_id, touches) "
    "VALUES (:room_id, :month, :weekday, :facility_id, 1) "
    "ON CONFLICT (room_id, month, weekday) DO UPDATE SET touches = utilization_rollup_stale.touches + 1"
)


def _mark_stale(session: Session, rows: list[dict]) -> None:
    rows = sorted({tuple(sorted(row.items())): row for row in rows}.values(),
                  key=lambda r: (r["room_id"], r["month"], r["weekday"]))  # one order: no deadlock between writers
    session.execute(_STALE_UPSERT, rows)
    if has_request_context():
        g.setdefault(STALE_FLAG, True)


def stale_months(session: Session, first: date, end: date) -> set[int]:
    """The months (year * 100 + month) in [first, end) with a key still waiting for settle_stale."""
    table = UtilizationRollupStale.__table__
    return set(session.execute(sa.select(table.c.month).distinct().where(
        table.c.month >= month_key(first), table.c.month < month_key(end))).scalars())


def settle_stale(session: Session) -> int:
    """Recompute the rollup rows of every stale key and delete the keys; the caller commits. Returns the number
    of keys settled. Safe in several processes at once: on PostgreSQL the facilities' advisory locks are taken
    first (one order), then the keys are deleted and returned - a key another settler took is gone by then, and
    a key a booking is marking again waits for that booking's commit, so the recompute below sees it."""
    table = UtilizationRollupStale.__table__
    facility_ids = sorted(session.execute(sa.select(table.c.facility_id).distinct()).scalars())
    if not facility_ids:
        return 0
    covered = coverage(session)
    for facility_id in facility_ids:
        _lock(session, facility_id)
    taken = session.execute(sa.delete(table).where(table.c.facility_id.in_(facility_ids))
                            .returning(table.c.room_id, table.c.month, table.c.weekday)).all()
    if covered is None:
        return len(taken)  # nothing to keep current: every read is live
    asked: dict[tuple[date, int], set[int]] = {}
    for room_id, month, weekday in taken:
        first = date(month // 100, month % 100, 1)
        if covered[0] <= first < covered[1]:
            asked.setdefault((first, weekday), set()).add(room_id)
    narrow = _narrow(session, asked, {})
    for facility_id in sorted({f for *_, rooms in narrow for _r, f in rooms} - set(facility_ids)):
        _lock(session, facility_id)  # a room below one asked for, moved to another facility (rare)
    _recompute_narrow(session, narrow)
    return len(taken)


def settle_stale_now(app) -> None:
    """Settle the stale keys in a transaction of their own (after a response has gone out, or from the job).
    Never raises: a failure leaves the keys for the next settler, and readers stay exact meanwhile."""
    with app.app_context():
        intent = write_intent.set(True)  # it writes: on SQLite its transaction must begin IMMEDIATE
        try:
            settle_stale(db.session)
            db.session.commit()
        except Exception:  # noqa: BLE001 - the booking is committed; the keys wait for the next settler
            db.session.rollback()
            app.logger.exception("settling the utilization rollup after the response failed")
        finally:
            write_intent.reset(intent)


def init_app(app) -> None:
    """Register the listeners that keep the rollup current (once per process), and after a response whose request
    marked keys stale, settle them once the response is sent (WSGI close)."""
    for attribute in _LOCATING_ATTRIBUTES:
        listen_once(attribute, "set", _old_value_loaded, active_history=True)
    listen_once(Session, "after_soft_rollback", _forget_coverage)
    listen_once(Session, "after_flush", _after_flush)
    listen_once(Session, "before_commit", _before_commit)
    listen_once(Session, "after_transaction_end", _after_transaction_end)
    listen_once(Session, "do_orm_execute", _on_execute)

    @app.after_request
    def _settle_after_response(response):
        if g.pop(STALE_FLAG, False):
            response.call_on_close(functools.partial(settle_stale_now, app))
        return response


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction is over (committed, rolled back or closed)
        session.info.pop(PENDING_KEY, None)
        session.info.pop(KEYS_KEY, None)
        session.info.pop(CACHE_KEY, None)


def _on_execute(state) -> None:
    """A bulk write to a table the rollup depends on: drop the coverage (reads go live until a rebuild)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in WATCHED_TABLES:
        return
    if coverage(state.session) is not None:
        drop_coverage(state.session)
