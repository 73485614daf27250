"""In-process cache of computed indicator year values, served while their sources have not changed.

A value computed for (indicator, fiscal year) is stored under a key that carries what it was computed from:
- signature(): one cheap aggregate statement over every source table (counts, highest ids, latest updated_at
  of event occurrences and series, participation reports (and how many wait for review), event partners,
  organizations and NPO grants,
  indicators and mapping rules, bookings, booking items, closures, 時間区分, rooms, facilities and the
  utilization rollup's coverage). Any insert, delete, approval, amendment, status change, rule change or booking
  moving in or out of the booked states moves it, whichever process made the change;
- a generation number of this process, raised after every commit that wrote to one of those tables (noted by
  SQLAlchemy session events), so a change the aggregates cannot see (a 時間区分 edited in place) is seen at
  once by the process that made it;
- a time window: values depend on the clock too (an occurrence counts once it has ended; bookings and the
  registry count up to today), so an entry is served only from the instant it was computed until the next
  occurrence ends or the next midnight in Tokyo, whichever comes first.
A TTL (CACHE_TTL_S) bounds what only another process's in-place edit of an unstamped row could hide.
Frozen years are read from their snapshots and manual values from their rows: neither goes through here.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bookings.models import Booking, BookingItem
from app.core.db import listen_once
from app.core.time import to_tokyo, tokyo_to_utc, utcnow
from app.events.cache import LRU
from app.events.models import EventOccurrence, EventPartner, EventSeries
from app.facilities.models import Closure, Facility, Room, TimeSlot
from app.indicators.models import Indicator, MappingRule
from app.organizations.models import NpoGrantUse, Organization
from app.participation.models import ParticipationReport, ReportStatus
from app.utilization.compute import BOOKED_STATES
from app.utilization.models import UtilizationRollupCoverage

CACHE_TTL_S = 300
# About 40 indicators x a dozen years x a few signatures.
values = LRU(max_entries=4000, ttl_s=CACHE_TTL_S)

WATCHED_TABLES = frozenset({
    "event_occurrences", "event_series", "event_partners", "participation_reports", "organizations",
    "organization_npo_grants", "indicators", "indicator_rules", "bookings", "booking_items", "closures",
    "time_slots", "rooms", "facilities", "utilization_rollup_coverage", "utilization_unit_rollups",
    "utilization_booking_rollups",
})
_WROTE_KEY = "indicator_sources_written"
_generation = 0
_generation_lock = threading.Lock()


def generation() -> int:
    """This process's count of committed transactions that wrote to a source table."""
    return _generation


def _bump() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


def _note_flush(session: Session, _context) -> None:
    if session.info.get(_WROTE_KEY):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED_TABLES:
            session.info[_WROTE_KEY] = True
            return


def _note_bulk(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED_TABLES:
            state.session.info[_WROTE_KEY] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE_KEY, False):
        _bump()


def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE_KEY, None)


def init_app(_app) -> None:
    """Count committed writes to the source tables (the listeners live on every Session; registered once)."""
    listen_once(Session, "after_flush", _note_flush)
    listen_once(Session, "do_orm_execute", _note_bulk)
    listen_once(Session, "after_commit", _after_commit)
    listen_once(Session, "after_rollback", _after_rollback)


_signature_sql: dict[str, str] = {}  # per dialect: the statement compiled once (it has no parameters)


def signature(session) -> tuple:
    """Counts, highest ids and latest changes of every source table, in ONE statement (index reads and counts;
    a few milliseconds on the demo data). Compiled once per dialect, run as plain SQL (values are compared,
    never read, so the driver's raw types do)."""
    connection = session.connection()
    dialect = connection.dialect
    sql = _signature_sql.get(dialect.name)
    if sql is None:
        sql = _signature_sql[dialect.name] = str(_signature_statement().compile(
            dialect=dialect, compile_kwargs={"literal_binds": True}))
    return tuple(connection.exec_driver_sql(sql).one())


def _signature_statement():
    count, top = sa.func.count, sa.func.max

    def count_if(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    # One aggregate per table, so each table is read once. The two big tables are read through indexes only:
    # occurrences by their highest id and latest updated_at (a series edit that removes dates also updates the
    # dates it keeps; deleting a series changes the series count); reports by their highest id (every
    # amendment is a new row) and the number still waiting (a review moves a report out of `submitted`, the
    # only state a review starts from; reports go only with their occurrence).
    per_table = [
        (top(EventOccurrence.id), top(EventOccurrence.updated_at)),
        (count(EventSeries.id), top(EventSeries.updated_at)),
        (top(ParticipationReport.id),),
        (count(ParticipationReport.id), ParticipationReport.status == ReportStatus.SUBMITTED),
        (count(EventPartner.series_id), sa.func.sum(EventPartner.organization_id + EventPartner.series_id * 7919)),
        (count(Organization.id), top(Organization.updated_at)),
        (count(NpoGrantUse.id), top(NpoGrantUse.id), count_if(NpoGrantUse.uses_grant.is_(True))),
        (count(Indicator.id), top(Indicator.updated_at), top(Indicator.rules_edited_at)),
        (count(MappingRule.id), top(MappingRule.id)),
        (count(Booking.id), top(Booking.id), count_if(Booking.state.in_(list(BOOKED_STATES)))),
        (count(BookingItem.id), top(BookingItem.id)),
        (count(Closure.id), top(Closure.id)),
        (count(TimeSlot.id), top(TimeSlot.id)),
        (count(Room.id), top(Room.id), count_if(Room.active.is_(True))),
        (count(Facility.id), count_if(Facility.active.is_(True))),
        (top(UtilizationRollupCoverage.rebuilt_at), top(UtilizationRollupCoverage.first_day),
         top(UtilizationRollupCoverage.end_day)),
    ]
    subqueries = []
    for i, cols in enumerate(per_table):
        # A comparison in the tuple is its WHERE (an index range), the rest are the aggregates.
        where = [c for c in cols if isinstance(c, sa.BinaryExpression)]
        values = [c for c in cols if not isinstance(c, sa.BinaryExpression)]
        stmt = sa.select(*[c.label(f"v{i}_{j}") for j, c in enumerate(values)]).where(*where)
        subqueries.append(stmt.subquery(f"s{i}"))
    joined = subqueries[0]
    for subquery in subqueries[1:]:
        joined = joined.join(subquery, sa.true())
    return sa.select(*[column for subquery in subqueries for column in subquery.c]).select_from(joined)


def valid_until(session, now: datetime) -> datetime:
    """When values computed at NOW may change without any row changing: the next end of an occurrence, or the
    next midnight in Tokyo (year-to-date bookings, the registry's current year), whichever comes first."""
    midnight = tokyo_to_utc(to_tokyo(now).date() + timedelta(days=1), time())
    # Occurrences last less than a week; those starting after midnight end after it (index range on starts_at).
    next_end = session.connection().execute(
        sa.select(sa.func.min(EventOccurrence.ends_at)).where(
            EventOccurrence.starts_at > now - timedelta(days=7), EventOccurrence.starts_at < midnight,
            EventOccurrence.ends_at > now)
    ).scalar()
    if next_end is not None and next_end.tzinfo is None:
        next_end = next_end.replace(tzinfo=now.tzinfo)
    return min(midnight, next_end) if next_end is not None else midnight


def computed_values(session, year: int, indicators, *, now: datetime | None, stamp: tuple, compute) -> dict:
    """Computed values of INDICATORS for YEAR (indicator id -> YearValue): cached ones when they still hold,
    the others computed together by COMPUTE(missing indicators) and stored. STAMP: (generation, signature)
    read before any value of the request, once."""
    now = now or utcnow()
    result, missing = {}, []
    for indicator in indicators:
        item = values.get((indicator.id, year, stamp))
        if item is not None and item[0] <= now < item[1]:
            result[indicator.id] = copy.copy(item[2])
        else:
            missing.append(indicator)
    if missing:
        until = valid_until(session, now)
        for indicator_id, value in compute(missing).items():
            values.put((indicator_id, year, stamp), (now, until, value))
            result[indicator_id] = copy.copy(value)
    return result


def stamp(session) -> tuple:
    """(generation, signature): the generation is read first, so a commit landing in between only costs a miss."""
    return generation(), signature(session)
