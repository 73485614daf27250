"""Reminders: registrants the day before their event, bookings the day before use and before a payment deadline,
each once (a UNIQUE row per kind and target), each with a signed single-use cancel link.

The link's token names the reminder row; a GET shows what cancelling means, the POST cancels through the
domain's own service (the event waitlist is promoted; a booking follows the normal cancellation rules, late
cancellation included) and marks the reminder used, so the link works once. It stops working when the event
or the booking starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.accounts.models import User
from app.alerts.errors import InvalidAlertLink
from app.alerts.models import ReminderKind, SentReminder
from app.bookings import services as booking_services
from app.bookings.models import Booking, BookingState
from app.core.mail import queue_mail
from app.core.time import to_tokyo, tokyo_to_utc, utcnow
from app.events import registrations as registration_services
from app.events.models import (
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.extensions import db


class LinkUsed(InvalidAlertLink):
    """The cancel link was used already (single use): a conflict with what happened, not a bad link."""

    status_code = 409
    code = "link_used"


# ---------------------------------------------------------------- when


def _remind_at(day) -> datetime:
    """The instant of the day-before reminder for something on DAY (Tokyo): the previous day at the set hour."""
    return tokyo_to_utc(day - timedelta(days=1), time(current_app.config["ALERTS_REMINDER_HOUR"], 0))


def booking_starts_at(booking) -> datetime:
    """When BOOKING's first range starts (aware UTC)."""
    first = min((i.start_minute for i in booking.items), default=0)
    return tokyo_to_utc(booking.day, time(first // 60, first % 60))


def _claim(kind: ReminderKind, *, registration_id: int | None = None, booking_id: int | None = None,
           now: datetime) -> SentReminder | None:
    """Record that this reminder is sent, or None when another run already did (its UNIQUE row decides)."""
    reminder = SentReminder(kind=kind, registration_id=registration_id, booking_id=booking_id, sent_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(reminder)
            db.session.flush()
    except IntegrityError:
        return None
    return reminder


def _not_sent(kind: ReminderKind, target: str, id_column):
    """No reminder of KIND was sent yet for the row whose id is ID_COLUMN (TARGET: 'registration' or 'booking')."""
    return ~sa.exists().where(SentReminder.kind == kind, getattr(SentReminder, f"{target}_id") == id_column)


# ---------------------------------------------------------------- tokens


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tsudoi-alerts-reminder-cancel")


def cancel_token(reminder: SentReminder) -> str:
    """The signed token of a reminder's one-click cancel link."""
    return _serializer().dumps({"m": reminder.id, "k": reminder.kind.value})


def cancel_url(reminder: SentReminder) -> str:
    return current_app.config["BASE_URL"] + url_for("alerts.cancel", token=cancel_token(reminder))


# ---------------------------------------------------------------- sending


def send_event_reminders(*, now: datetime | None = None) -> int:
    """Remind confirmed registrants of events starting tomorrow (Tokyo), from the set hour of the day before.

    Catches up after an outage (anything not yet started and not yet reminded); people who registered or were
    promoted after the reminder time are not reminded (their confirmation mail is fresh). Returns mails queued.
    """
    now = now or utcnow()
    rows = list(db.session.scalars(
        sa.select(Registration)
        .join(EventOccurrence, EventOccurrence.id == Registration.occurrence_id)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .options(joinedload(Registration.occurrence).joinedload(EventOccurrence.series), joinedload(Registration.user))
        .where(Registration.status == RegistrationStatus.CONFIRMED,
               EventOccurrence.status == OccurrenceStatus.SCHEDULED, EventSeries.status == EventStatus.PUBLISHED,
               EventOccurrence.starts_at > now, EventOccurrence.starts_at <= now + timedelta(days=2),
               _not_sent(ReminderKind.EVENT_DAY_BEFORE, "registration", Registration.id))
        .order_by(EventOccurrence.starts_at, Registration.id)))
    sent = 0
    for registration in rows:
        occurrence = registration.occurrence
        remind_at = _remind_at(to_tokyo(occurrence.starts_at).date())
        if now < remind_at or registration.queued_at >= remind_at or \
                (registration.promoted_at is not None and registration.promoted_at >= remind_at):
            continue
        if registration.user_id is not None and not registration.user.is_active:
            continue
        reminder = _claim(ReminderKind.EVENT_DAY_BEFORE, registration_id=registration.id, now=now)
        if reminder is None:
            continue
        series = occurrence.series
        queue_mail(to=registration.email, subject=_l("明日のイベントのお知らせ"), template="alerts/event_reminder",
                   language=registration.language, name=registration.name, registration=registration,
                   occurrence=occurrence, series=series, cancel_url=cancel_url(reminder),
                   url=current_app.config["BASE_URL"] + url_for("events.show", series_id=series.id))
        sent += 1
    return sent


def send_booking_reminders(*, now: datetime | None = None) -> int:
    """Remind bookers the day before use, and before the payment deadline of a 仮予約; returns mails queued."""
    now = now or utcnow()
    today = to_tokyo(now).date()
    sent = 0
    base = (sa.select(Booking).options(selectinload(Booking.items), joinedload(Booking.room))
            .where(Booking.user_id.is_not(None)))
    before_use = db.session.scalars(
        base.where(Booking.state.in_([BookingState.CONFIRMED, BookingState.TENTATIVE]),
                   Booking.day >= today, Booking.day <= today + timedelta(days=2),
                   _not_sent(ReminderKind.BOOKING_BEFORE_USE, "booking", Booking.id))
        .order_by(Booking.day, Booking.id)).unique()
    for booking in list(before_use):
        remind_at = _remind_at(booking.day)
        if now < remind_at or now >= booking_starts_at(booking) or booking.created_at >= remind_at:
            continue
        sent += _send_booking(booking, ReminderKind.BOOKING_BEFORE_USE, now=now)
    hours = timedelta(hours=current_app.config["ALERTS_PAYMENT_REMINDER_HOURS"])
    payment_due = db.session.scalars(
        base.where(Booking.state == BookingState.TENTATIVE, Booking.hold_until.is_not(None),
                   Booking.hold_until > now, Booking.hold_until <= now + hours,
                   _not_sent(ReminderKind.BOOKING_PAYMENT_DUE, "booking", Booking.id))
        .order_by(Booking.hold_until, Booking.id)).unique()
    for booking in list(payment_due):
        if booking.created_at >= booking.hold_until - hours:
            continue  # booked inside the reminder window: the confirmation mail already named the deadline
        sent += _send_booking(booking, ReminderKind.BOOKING_PAYMENT_DUE, now=now)
    return sent


def _send_booking(booking, kind: ReminderKind, *, now: datetime) -> int:
    user = db.session.get(User, booking.user_id)
    if user is None or not user.is_active:
        return 0
    reminder = _claim(kind, booking_id=booking.id, now=now)
    if reminder is None:
        return 0
    base_url = current_app.config["BASE_URL"]
    payment = kind == ReminderKind.BOOKING_PAYMENT_DUE
    queue_mail(to=user.email, subject=_l("お支払い期限が近づいています") if payment else _l("明日は施設のご利用日です"),
               template="alerts/booking_reminder", language=user.preferred_language, user=user, booking=booking,
               payment=payment, cancel_url=cancel_url(reminder),
               url=base_url + url_for("bookings.show", booking_id=booking.id))
    return 1


# ---------------------------------------------------------------- the one-click cancel link


@dataclass
class CancelTarget:
    """What a cancel link points at: its reminder, and the registration or the booking (with its preview)."""

    reminder: SentReminder
    registration: object | None = None
    booking: object | None = None
    preview: object | None = None


def load_cancel_link(token: str, *, now: datetime | None = None) -> CancelTarget:
    """The reminder and target of a cancel token; InvalidAlertLink with a clear message when it cannot be used."""
    now = now or utcnow()
    try:
        data = _serializer().loads(token)
        reminder_id, kind = int(data["m"]), ReminderKind(data["k"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidAlertLink(_l("このリンクは使えません。正しくないか、壊れています。")) from None
    reminder = db.session.get(SentReminder, reminder_id, populate_existing=True)
    if reminder is None or reminder.kind != kind:
        raise InvalidAlertLink(_l("このリンクは使えません。取り消す予定が見つかりません。"))
    if reminder.used_at is not None:
        raise LinkUsed(_l("このリンクはすでに使われました。1回だけ使えます。"))
    if reminder.registration_id is not None:
        registration = db.session.get(Registration, reminder.registration_id)
        if registration is None or registration.status == RegistrationStatus.CANCELLED \
                or registration.queued_at > reminder.sent_at:
            raise InvalidAlertLink(_l("この申し込みはすでに取り消されています。"))
        if registration.occurrence.starts_at <= now:
            raise InvalidAlertLink(_l("このリンクの期限は切れました。イベントが始まった後は取り消せません。"))
        return CancelTarget(reminder, registration=registration)
    booking = db.session.get(Booking, reminder.booking_id)
    if booking is None or booking.state not in (BookingState.CONFIRMED, BookingState.TENTATIVE,
                                                BookingState.REQUESTED):
        raise InvalidAlertLink(_l("この予約はすでに取り消されているか、終了しています。"))
    if booking_starts_at(booking) <= now:
        raise InvalidAlertLink(_l("このリンクの期限は切れました。利用の開始時刻を過ぎた予約は取り消せません。"))
    return CancelTarget(reminder, booking=booking, preview=booking_services.cancellation_preview(booking, now=now))


def cancel_by_link(token: str, *, now: datetime | None = None) -> CancelTarget:
    """Cancel what a reminder's link points at, once: the reminder is marked used in the same transaction."""
    now = now or utcnow()
    target = load_cancel_link(token, now=now)
    table = SentReminder.__table__
    won = db.session.execute(sa.update(table).where(table.c.id == target.reminder.id, table.c.used_at.is_(None))
                             .values(used_at=now)).rowcount
    if won != 1:  # a second click racing the first
        raise LinkUsed(_l("このリンクはすでに使われました。1回だけ使えます。"))
    if target.registration is not None:
        registration_services.cancel_registration(registration_id=target.registration.id, user=None, by_guest_link=True)
    else:
        owner = db.session.get(User, target.booking.user_id) if target.booking.user_id else None
        if owner is None:
            raise InvalidAlertLink(_l("この予約はこのリンクでは取り消せません。"))
        target.preview = booking_services.cancel_booking(target.booking, actor=owner, now=now)
    return target
