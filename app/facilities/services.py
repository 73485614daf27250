"""Facility writes by staff: closures (休館日, 臨時休館, 行政使用), the name's reading."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.bookings.models import ACTIVE_STATES, Booking
from app.core import locks
from app.core.audit import record_audit
from app.core.db import rows_by_id
from app.core.readings import READING_MAX_LENGTH, clean_reading
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.availability import related
from app.facilities.errors import ClosureError, FacilityError
from app.facilities.models import Closure, ClosureKind, Facility, Room
from app.facilities.queries import facility_rooms, room_node

MAX_CLOSURE_DAYS_AHEAD = 3650


def name_reading(value: str | None) -> str | None:
    """The name's reading as stored (app.core.readings.clean_reading), or FacilityError with a message for the field."""
    try:
        return clean_reading(value)
    except ValueError:
        message = _l("名称の読みは、カタカナ・長音(ー)・中点(・)・スペースで、%(max)d文字以内で入力してください。",
                     max=READING_MAX_LENGTH)
        raise FacilityError(message) from None


def set_name_reading(facility: Facility, *, value: str | None, actor) -> bool:
    """Store the facility name's reading (None: generated for the open data); audited. False when unchanged."""
    reading = name_reading(value)
    if reading == facility.name_kana:
        return False
    record_audit("facility.name_kana", actor_id=actor.id, target_type="facility", target_id=facility.id,
                 details={"from": facility.name_kana, "to": reading})
    facility.name_kana = reading
    return True


def add_closure(*, facility: Facility, room_id: int | None, kind: ClosureKind, first_day: date, last_day: date,
                reason: str, actor) -> Closure:
    """Close a facility (or one room) from FIRST_DAY to LAST_DAY inclusive. Refused while active bookings
    fall in the period (staff settle them with the users first), so nobody is silently left without a room."""
    if last_day < first_day:
        raise ClosureError(_l("終了日は開始日と同じか、それより後の日にしてください。"))
    if (last_day - first_day).days > 366:
        raise ClosureError(_l("休館の期間は1年以内にしてください。"))
    if last_day > today_tokyo() + timedelta(days=MAX_CLOSURE_DAYS_AHEAD):  # also keeps end_date inside the calendar
        raise ClosureError(_l("休館は10年先までの日で登録してください。"))
    # Exclusive: no booking of the facility checks its closures between this count and the commit (bookings take
    # it shared, bookings.services._lock_rules).
    locks.advisory_lock("facility-calendar", facility.id)
    stmt = sa.select(sa.func.count(Booking.id)).where(
        Booking.facility_id == facility.id, Booking.state.in_(list(ACTIVE_STATES)),
        Booking.day >= first_day, Booking.day <= last_day)
    if room_id is not None:
        rooms = facility_rooms(facility.id)
        if room_id not in {r.id for r in rooms}:
            raise ClosureError(_l("その部屋はこの施設にありません。"))
        affected = related([room_node(r) for r in rooms])[room_id]
        stmt = stmt.where(Booking.room_id.in_(sorted(affected)))
    count = db.session.scalar(stmt)
    if count:
        raise ClosureError(_l("この期間に有効な予約が{n}件あります。先に利用者と調整してください。").format(n=count))
    closure = Closure(facility_id=facility.id, room_id=room_id, kind=kind, start_date=first_day,
                      end_date=last_day + timedelta(days=1), reason_ja=reason)
    db.session.add(closure)
    db.session.flush()
    record_audit("closure.create", actor_id=actor.id, target_type="closure", target_id=closure.id,
                 details={"facility_id": facility.id, "room_id": room_id, "kind": kind.value,
                          "first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
    return closure


def remove_closure(closure: Closure, *, actor) -> None:
    """Reopen: delete a closure."""
    record_audit("closure.delete", actor_id=actor.id, target_type="closure", target_id=closure.id,
                 details={"facility_id": closure.facility_id, "start": closure.start_date.isoformat()})
    db.session.delete(closure)


def upcoming_closures(facility_id: int, today: date) -> list[Closure]:
    """Closures of a facility that have not ended, in date order."""
    return list(db.session.scalars(sa.select(Closure).where(Closure.facility_id == facility_id,
                                                            Closure.end_date > today).order_by(Closure.start_date)))


def room_names(facility_id: int) -> dict[int, Room]:
    return rows_by_id(facility_rooms(facility_id))
