"""Registrations: counts, the registration window, registering (members and guests, with the seat lock),
guest links, cancelling, the waitlist, messages to registrants and their e-mails, private calendar feed tokens.
Services never commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dtime

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import record_audit
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.mail import Attachment, has_control_characters, queue_mail
from app.core.time import tokyo_day, tokyo_to_utc, utcnow
from app.events import ical, tickets
from app.events.errors import AlreadyRegistered, InvalidEvent, InvalidGuestLink, RegistrationClosed
from app.events.models import (
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.extensions import db

GUEST_CONFIRM_MAX_AGE_S = 48 * 3600


def ics_attachment(occurrence: EventOccurrence, language: str | None) -> list[Attachment]:
    """The occurrence as an .ics file, so the person can add it to their calendar from the e-mail."""
    body = ical.build_calendar([occurrence], name=occurrence.series.title_ja,
                               base_url=current_app.config["BASE_URL"], language=language or "ja")
    return [Attachment(filename="event.ics", mimetype="text/calendar", content=body.decode("utf-8"))]


def event_url(series: EventSeries) -> str:
    return current_app.config["BASE_URL"] + url_for("events.show", series_id=series.id)


def confirmed_counts(occurrence_ids: list[int]) -> dict[int, int]:
    """Confirmed registrations per occurrence."""
    return _counts(occurrence_ids, (RegistrationStatus.CONFIRMED,))


def active_counts(occurrence_ids: list[int]) -> dict[int, int]:
    """Confirmed and waitlisted registrations per occurrence."""
    return _counts(occurrence_ids, (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED))


def _counts(occurrence_ids, statuses) -> dict[int, int]:
    if not occurrence_ids:
        return {}
    rows = db.session.execute(
        sa.select(Registration.occurrence_id, sa.func.count())
        .where(Registration.occurrence_id.in_(occurrence_ids), Registration.status.in_(statuses))
        .group_by(Registration.occurrence_id)
    )
    return dict(rows.all())


def registration_window(occurrence: EventOccurrence) -> tuple[datetime | None, datetime]:
    """When registration opens (None: already) and closes (the deadline, or the start)."""
    series = occurrence.series
    closes = occurrence.starts_at
    if series.registration_deadline_days:
        closes = min(closes, tokyo_to_utc(tokyo_day(occurrence.starts_at)
                                          - timedelta(days=series.registration_deadline_days), dtime(23, 59, 59)))
    return series.registration_opens_at, closes


def check_open(occurrence: EventOccurrence, *, now: datetime | None = None) -> None:
    """Raise RegistrationClosed unless people may register for OCCURRENCE now."""
    now = now or utcnow()
    series = occurrence.series
    if series.status != EventStatus.PUBLISHED or not series.is_public(now) \
            or occurrence.status != OccurrenceStatus.SCHEDULED:
        raise RegistrationClosed(_l("この回は申し込みを受け付けていません。"))
    if not series.registration_required:
        raise RegistrationClosed(_l("このイベントは申し込み不要です。直接会場へお越しください。"))
    opens, closes = registration_window(occurrence)
    if opens is not None and now < opens:
        raise RegistrationClosed(_l("申し込みの受付はまだ始まっていません。"))
    if now >= closes:
        raise RegistrationClosed(_l("申し込みの受付は終わりました。"))


def _lock_occurrence(occurrence_id: int) -> EventOccurrence:
    # The occurrence row is the lock for its seats: FOR UPDATE on PostgreSQL; on SQLite the request's write
    # transaction already began with BEGIN IMMEDIATE (app.core.db), which serialises writers the same way.
    occurrence = db.session.scalar(
        sa.select(EventOccurrence).where(EventOccurrence.id == occurrence_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if occurrence is None:
        raise DomainError(_l("この回が見つかりません。"))
    return occurrence


def lock_occurrences(occurrence_ids) -> None:
    """Hold the seat locks (_lock_occurrence) of several occurrences, in id order so that two writers holding
    several never wait on each other: an organizer changing capacities or dates counts the registrations under
    them, so no registration lands between the count and the change. SQLite: BEGIN IMMEDIATE already did."""
    ids = sorted(set(occurrence_ids))
    if ids:
        db.session.execute(sa.select(EventOccurrence.id).where(EventOccurrence.id.in_(ids))
                           .order_by(EventOccurrence.id).with_for_update())


def _hold_seats(occurrence_id: int) -> tuple[EventOccurrence, int]:
    """Lock the occurrence (the lock for its seats) and count its confirmed registrations under that lock."""
    occurrence = _lock_occurrence(occurrence_id)
    return occurrence, confirmed_counts([occurrence_id]).get(occurrence_id, 0)


def register(*, occurrence_id: int, user: User, now: datetime | None = None) -> Registration:
    """Register USER for an occurrence: confirmed while seats remain, else waitlisted. One place per person.

    Capacity holds under concurrency: the occurrence row is locked and seats are counted inside the lock.
    """
    return _place(occurrence_id, user_id=user.id, now=now)


def register_guest(*, occurrence_id: int, email: str, name: str, language: str | None,
                   now: datetime | None = None) -> Registration:
    """Register a guest whose e-mail address was just confirmed (same rules and lock as accounts)."""
    return _place(occurrence_id, guest_email=email.strip().lower(), guest_name=name.strip()[:80],
                  guest_language=language, now=now)


def _place(occurrence_id: int, *, user_id: int | None = None, guest_email: str | None = None,
           guest_name: str | None = None, guest_language: str | None = None,
           now: datetime | None = None) -> Registration:
    occurrence, confirmed = _hold_seats(occurrence_id)
    check_open(occurrence, now=now)
    who = Registration.user_id == user_id if user_id is not None else Registration.guest_email == guest_email
    registration = db.session.scalar(
        sa.select(Registration).where(Registration.occurrence_id == occurrence_id, who)
    )
    if registration is not None and registration.status != RegistrationStatus.CANCELLED:
        raise AlreadyRegistered(_l("この回にはすでに申し込んでいます。"))
    full = occurrence.capacity is not None and confirmed >= occurrence.capacity
    status = RegistrationStatus.WAITLISTED if full else RegistrationStatus.CONFIRMED
    stamp = utcnow()
    if registration is None:
        registration = Registration(occurrence_id=occurrence_id, user_id=user_id, guest_email=guest_email,
                                    guest_name=guest_name, guest_language=guest_language, status=status,
                                    queued_at=stamp)
        db.session.add(registration)
    else:
        registration.status, registration.queued_at, registration.cancelled_at = status, stamp, None
    registration.occurrence = occurrence
    db.session.flush()
    if user_id is not None:
        registration.user = db.session.get(User, user_id)
    if status == RegistrationStatus.CONFIRMED:
        tickets.ensure_code(registration)  # the ticket exists before anyone opens it: its page only reads
    mail_registrant(registration, subject=_l("お申し込みを受け付けました") if status == RegistrationStatus.CONFIRMED
                     else _l("キャンセル待ちで受け付けました"), template="events/registered",
                     ics=status == RegistrationStatus.CONFIRMED, qr=True)
    return registration


def guest_cancel_token(registration: Registration) -> str:
    """A signed token that lets a guest cancel their registration from the e-mail."""
    return _serializer("guest-cancel").dumps({"r": registration.id, "e": registration.guest_email})


def guest_confirm_token(*, occurrence_id: int, email: str, name: str, language: str | None) -> str:
    """A signed token proving the guest reads EMAIL; the place is taken only when they confirm."""
    return _serializer("guest-confirm").dumps({"o": occurrence_id, "e": email.strip().lower(),
                                                "n": name.strip()[:80], "l": language})


def load_guest_token(purpose: str, token: str, *, max_age: int | None = None) -> dict:
    """The data of a guest token, or InvalidGuestLink."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        raise InvalidGuestLink(_l("このリンクは使えません。期限が切れているか、正しくありません。")) from None


def _serializer(purpose: str):
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"tsudoi-events-{purpose}")


def request_guest_registration(*, occurrence_id: int, email: str, name: str, language: str | None) -> None:
    """E-mail a confirmation link to a guest; nothing is reserved until they open it and confirm."""
    occurrence = db.session.get(EventOccurrence, occurrence_id)
    if occurrence is None:
        raise DomainError(_l("この回が見つかりません。"))
    check_open(occurrence)
    token = guest_confirm_token(occurrence_id=occurrence_id, email=email, name=name, language=language)
    queue_mail(to=email.strip().lower(), subject=_l("お申し込みの確認"), template="events/guest_confirm",
               language=language, name=name, series=occurrence.series, occurrence=occurrence,
               hours=GUEST_CONFIRM_MAX_AGE_S // 3600,
               url=current_app.config["BASE_URL"] + url_for("events.guest_confirm", token=token))


def mail_registrant(registration: Registration, *, subject, template: str, ics: bool = False, qr: bool = False,
                     **context) -> None:
    occurrence = registration.occurrence
    attachments = ics_attachment(occurrence, registration.language) if ics else []
    if qr and registration.status == RegistrationStatus.CONFIRMED:
        attachments = [*attachments, tickets.qr_attachment(registration)]  # the check-in QR, inline
    cancel_url = None
    if registration.is_guest:
        cancel_url = current_app.config["BASE_URL"] + url_for("events.guest_cancel",
                                                              token=guest_cancel_token(registration))
    queue_mail(to=registration.email, subject=subject, template=template, language=registration.language,
               name=registration.name, registration=registration, occurrence=occurrence, series=occurrence.series,
               url=event_url(occurrence.series), cancel_url=cancel_url,
               attachments=attachments, **context)


def cancel_registration(*, registration_id: int, user: User | None, by_organizer: bool = False,
                        by_guest_link: bool = False) -> Registration | None:
    """Cancel a registration; a freed seat goes to the first in line, who is e-mailed. Returns the promoted one.

    The person themselves (signed in, or a guest through their signed link) or the organizer may cancel.
    """
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise DomainError(_l("申し込みが見つかりません。"))
    allowed = by_organizer or by_guest_link or (user is not None and registration.user_id == user.id)
    if not allowed:
        raise NotAllowed(_l("ご自身の申し込みだけ取り消せます。"))
    occurrence = _lock_occurrence(registration.occurrence_id)
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED:
        raise Conflict(_l("この申し込みはすでに取り消されています。"))
    if not by_organizer and occurrence.starts_at <= utcnow():
        raise RegistrationClosed(_l("開始後は取り消せません。"))
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    db.session.flush()
    promoted = fill_from_waitlist(occurrence)
    record_audit("registration.cancelled", actor_id=user.id if user else None, target_type="registration",
                 target_id=registration.id)
    return promoted[0] if promoted else None


def fill_from_waitlist(occurrence: EventOccurrence) -> list[Registration]:
    """Promote waitlisted people in order while seats are free, e-mailing each. Caller holds the lock."""
    if occurrence.status != OccurrenceStatus.SCHEDULED or occurrence.starts_at <= utcnow():
        return []
    confirmed = confirmed_counts([occurrence.id]).get(occurrence.id, 0)
    free = None if occurrence.capacity is None else occurrence.capacity - confirmed
    query = (sa.select(Registration).where(Registration.occurrence_id == occurrence.id,
                                           Registration.status == RegistrationStatus.WAITLISTED)
             .order_by(Registration.queued_at, Registration.id))
    if free is not None:
        if free <= 0:
            return []
        query = query.limit(free)
    promoted = list(db.session.scalars(query))
    for registration in promoted:
        registration.status = RegistrationStatus.CONFIRMED
        registration.promoted_at = utcnow()
        tickets.ensure_code(registration)
        mail_registrant(registration, subject=_l("キャンセル待ちから参加が決まりました"), template="events/promoted",
                         ics=True, qr=True)
    return promoted


def promote_by_hand(*, registration_id: int, actor: User) -> Registration:
    """The organizer confirms a waitlisted person now, even beyond capacity (their decision, audited)."""
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise DomainError(_l("申し込みが見つかりません。"))
    _lock_occurrence(registration.occurrence_id)
    db.session.refresh(registration)
    if registration.status != RegistrationStatus.WAITLISTED:
        raise Conflict(_l("キャンセル待ちの申し込みではありません。"))
    registration.status = RegistrationStatus.CONFIRMED
    registration.promoted_at = utcnow()
    tickets.ensure_code(registration)
    mail_registrant(registration, subject=_l("キャンセル待ちから参加が決まりました"), template="events/promoted",
                     ics=True, qr=True)
    record_audit("registration.promoted", actor_id=actor.id, target_type="registration", target_id=registration.id)
    return registration


def message_registrants(occurrence: EventOccurrence, *, actor: User, subject: str, body: str,
                        include_waitlisted: bool) -> int:
    """The organizer e-mails the people registered for an occurrence; returns how many were written to."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or not body:
        raise InvalidEvent(_l("件名と本文を入力してください。"), "subject" if not subject else "body")
    if has_control_characters(subject):  # the form refuses it too; a header with CR/LF would never be sent
        raise InvalidEvent(_l("改行などの特別な文字は使えません。1行で入力してください。"), "subject")
    statuses = [RegistrationStatus.CONFIRMED] + ([RegistrationStatus.WAITLISTED] if include_waitlisted else [])
    recipients = [r for r in registrations_of(occurrence.id) if r.status in statuses]
    for registration in recipients:
        queue_mail(to=registration.email, subject=subject[:200], template="events/message",
                   language=registration.language, name=registration.name, series=occurrence.series,
                   occurrence=occurrence, body=body, organizer=occurrence.series.organization,
                   url=event_url(occurrence.series))
    record_audit("registrants.messaged", actor_id=actor.id, target_type="event_occurrence", target_id=occurrence.id,
                 details={"recipients": len(recipients)})
    return len(recipients)


def waitlist_positions(occurrence_ids) -> dict[int, int]:
    """{registration id: its place in its occurrence's waitlist, 1 being the next to get a seat} for the waitlisted
    registrations of OCCURRENCE_IDS, in one query; the order is fill_from_waitlist's (queued_at, id)."""
    occurrence_ids = list(occurrence_ids)
    if not occurrence_ids:
        return {}
    position = sa.func.row_number().over(partition_by=Registration.occurrence_id,
                                         order_by=(Registration.queued_at, Registration.id))
    return dict(db.session.execute(
        sa.select(Registration.id, position).where(Registration.occurrence_id.in_(occurrence_ids),
                                                   Registration.status == RegistrationStatus.WAITLISTED)).all())


def registrations_of(occurrence_id: int) -> list[Registration]:
    """Everyone registered for an occurrence (for its organizer): confirmed, then waitlisted in order."""
    from sqlalchemy.orm import joinedload

    order = sa.case((Registration.status == RegistrationStatus.CONFIRMED, 0),
                    (Registration.status == RegistrationStatus.WAITLISTED, 1), else_=2)
    return list(db.session.scalars(
        sa.select(Registration).options(joinedload(Registration.user))
        .where(Registration.occurrence_id == occurrence_id)
        .order_by(order, Registration.queued_at, Registration.id)
    ))


def my_feed_token(user: User) -> str:
    """The secret of USER's private calendar URL; changing the password makes a new one (the old stops working)."""
    from itsdangerous import URLSafeSerializer

    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tsudoi-events-my-feed")
    return serializer.dumps([user.id, int(user.password_changed_at.timestamp())])


def user_for_feed_token(token: str) -> User | None:
    """The owner of a private calendar URL, or None when the token is wrong or outdated."""
    from itsdangerous import BadSignature, URLSafeSerializer

    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tsudoi-events-my-feed")
    try:
        user_id, stamp = serializer.loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or int(user.password_changed_at.timestamp()) != stamp:
        return None
    return user


def my_registrations(user: User) -> list[Registration]:
    """USER's active registrations from today on, soonest first."""
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        sa.select(Registration).join(EventOccurrence, EventOccurrence.id == Registration.occurrence_id)
        .options(joinedload(Registration.occurrence).joinedload(EventOccurrence.series))
        .where(Registration.user_id == user.id, Registration.status != RegistrationStatus.CANCELLED,
               EventOccurrence.ends_at > utcnow())
        .order_by(EventOccurrence.starts_at)
    ))
