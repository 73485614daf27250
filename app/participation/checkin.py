"""Check-in at the door: who may run it, idempotent check-ins by code, QR or by hand, undo, walk-ins, the door list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.filters import datetime_long
from app.core.time import tokyo_day, tokyo_to_utc, utcnow
from app.events.models import (
    CheckinCode,
    EventOccurrence,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.events.tickets import QR_PREFIX, format_code, normalize_code
from app.extensions import db
from app.organizations import services as organization_services
from app.participation.errors import CheckinClosed, UnknownCode
from app.participation.models import (
    Checkin,
    CheckinMethod,
    WalkinCount,
)

# ---------------------------------------------------------------- permissions


def can_check_in(user, occurrence: EventOccurrence) -> bool:
    """The event organization's officers and editors, and ward staff, check people in and file reports."""
    return organization_services.can_edit_events(user, occurrence.series.organization)


def require_organizer(user, occurrence: EventOccurrence) -> None:
    """Raise NotAllowed unless USER may run the door and the report of OCCURRENCE."""
    if not can_check_in(user, occurrence):
        raise NotAllowed(_l("このイベントの受付をする権限がありません。"))


# ---------------------------------------------------------------- when


@dataclass(frozen=True)
class CheckinWindow:
    """When the door of an occurrence is open: [opens_at, closes_at), UTC."""

    opens_at: datetime
    closes_at: datetime

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def is_early(self, now: datetime) -> bool:
        return now < self.opens_at

    @property
    def last_minute(self) -> datetime:
        """The last minute check-in is open, as people are told it (23:59 rather than the next day's 0:00)."""
        return self.closes_at - timedelta(minutes=1)


def checkin_window(occurrence: EventOccurrence) -> CheckinWindow:
    """The occurrence's day in Tokyo time: from CHECKIN_OPENS_MINUTES_BEFORE minutes before the start (None: from
    the start of that day; never before it) through the end of that day (or the end of the occurrence, if later)."""
    day = tokyo_day(occurrence.starts_at)
    day_starts = tokyo_to_utc(day, time(0))
    day_ends = tokyo_to_utc(day + timedelta(days=1), time(0))
    minutes = current_app.config.get("CHECKIN_OPENS_MINUTES_BEFORE")
    opens_at = day_starts if minutes is None else max(day_starts, occurrence.starts_at - timedelta(minutes=minutes))
    return CheckinWindow(opens_at=opens_at, closes_at=max(day_ends, occurrence.ends_at))


def require_checkin_open(occurrence: EventOccurrence, now: datetime | None = None) -> None:
    """Raise CheckinClosed unless NOW (default: the present) is inside the occurrence's check-in window."""
    now = now or utcnow()
    window = checkin_window(occurrence)
    if window.is_early(now):
        raise CheckinClosed(_l("受付はまだできません。%(opens)s から受付できます。",
                               opens=datetime_long(window.opens_at)))
    if not window.is_open(now):
        raise CheckinClosed(_l("この開催回の受付は終わりました(%(closes)s まで)。",
                               closes=datetime_long(window.last_minute)))


# ---------------------------------------------------------------- check-in


def _parse_scanned(occurrence: EventOccurrence, text: str) -> str:
    raw = (text or "").strip()
    if raw.upper().startswith(QR_PREFIX + ":"):
        parts = raw.split(":")
        if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()):  # "²".isdigit(), yet int() fails
            raise UnknownCode(_l("読み取ったQRコードはこのサービスのものではありません。"))
        if int(parts[1]) != occurrence.id:
            raise UnknownCode(_l("別の開催回の受付番号です。日時を確かめてください。"))
        raw = parts[2]
    return normalize_code(raw)


def check_in(*, registration: Registration, by: User, method: CheckinMethod,
             now: datetime | None = None) -> tuple[Checkin, bool]:
    """Record REGISTRATION's arrival; sent twice, it returns the first check-in and False (nothing doubled)."""
    occurrence = registration.occurrence
    require_organizer(by, occurrence)
    if occurrence.status == OccurrenceStatus.CANCELLED:
        raise Conflict(_l("この開催回は中止になっています。"))
    require_checkin_open(occurrence, now)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise Conflict(_l("この申し込みは参加確定になっていません(%(status)s)。",
                          status=registration.status.label))
    existing = db.session.scalar(sa.select(Checkin).where(Checkin.registration_id == registration.id))
    if existing is not None:
        return existing, False
    row = Checkin(occurrence_id=occurrence.id, registration_id=registration.id, method=method,
                  checked_in_at=now or utcnow(), checked_in_by_id=by.id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # A parallel request (a double tap, two phones at the door) recorded it first.
        return db.session.scalar(sa.select(Checkin).where(Checkin.registration_id == registration.id)), False
    return row, True


def check_in_by_code(*, occurrence: EventOccurrence, text: str, by: User, method: CheckinMethod = CheckinMethod.CODE,
                     now: datetime | None = None) -> tuple[Checkin, bool]:
    """Check in the registration whose code (typed, or the QR payload) is TEXT at OCCURRENCE."""
    require_organizer(by, occurrence)
    require_checkin_open(occurrence, now)
    code = _parse_scanned(occurrence, text)
    if not code:
        raise UnknownCode(_l("受付番号を入力してください。"))
    registration = db.session.scalar(
        sa.select(Registration).join(CheckinCode, CheckinCode.registration_id == Registration.id)
        .where(CheckinCode.occurrence_id == occurrence.id, CheckinCode.code == code)
    )
    if registration is None:
        raise UnknownCode(_l("受付番号「%(code)s」は見つかりません。入力を確かめてください。", code=format_code(code)))
    return check_in(registration=registration, by=by, method=method, now=now)


def undo_check_in(*, registration: Registration, by: User) -> bool:
    """Remove a check-in made by mistake; True when there was one (sent twice, the second does nothing)."""
    require_organizer(by, registration.occurrence)
    table = Checkin.__table__
    return db.session.execute(sa.delete(table).where(table.c.registration_id == registration.id)).rowcount > 0


def adjust_walkins(*, occurrence: EventOccurrence, delta: int, by: User, now: datetime | None = None) -> int:
    """Add DELTA (+1 or -1) to the walk-in count in one UPDATE (parallel taps all count); never below zero."""
    require_organizer(by, occurrence)
    require_checkin_open(occurrence, now)
    if delta not in (1, -1):
        raise DomainError(_l("当日参加の人数は1人ずつ増減してください。"))
    if db.session.get(WalkinCount, occurrence.id) is None:
        try:
            with db.session.begin_nested():
                db.session.add(WalkinCount(occurrence_id=occurrence.id, count=0, updated_by_id=by.id))
        except IntegrityError:
            pass  # created by a parallel request
    table = WalkinCount.__table__
    db.session.execute(
        sa.update(table).where(table.c.occurrence_id == occurrence.id, table.c.count + delta >= 0)
        .values(count=table.c.count + delta, updated_at=utcnow(), updated_by_id=by.id)
    )
    db.session.expire_all()
    return walkins(occurrence.id)


def walkins(occurrence_id: int) -> int:
    """The walk-in count of an occurrence."""
    return db.session.scalar(sa.select(WalkinCount.count).where(WalkinCount.occurrence_id == occurrence_id)) or 0


@dataclass(frozen=True)
class DoorCounts:
    """What the check-in page shows."""

    checked_in: int
    registered: int
    walkins: int

    @property
    def present(self) -> int:
        return self.checked_in + self.walkins


def door_counts(occurrence_id: int) -> DoorCounts:
    """Checked-in, confirmed registrations and walk-ins of an occurrence."""
    checked_in = db.session.scalar(sa.select(sa.func.count()).select_from(Checkin)
                                   .where(Checkin.occurrence_id == occurrence_id))
    registered = db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
        Registration.occurrence_id == occurrence_id, Registration.status == RegistrationStatus.CONFIRMED))
    return DoorCounts(checked_in=checked_in or 0, registered=registered or 0, walkins=walkins(occurrence_id))


def door_list(occurrence_id: int) -> list[tuple[Registration, Checkin | None]]:
    """Confirmed registrations with their check-in (for manual check-in), in registration order."""
    rows = db.session.execute(
        sa.select(Registration, Checkin).outerjoin(Checkin, Checkin.registration_id == Registration.id)
        .where(Registration.occurrence_id == occurrence_id, Registration.status == RegistrationStatus.CONFIRMED)
        .order_by(Registration.queued_at, Registration.id)
    ).all()
    return [(registration, checkin) for registration, checkin in rows]
