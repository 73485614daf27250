"""Rules for events: saving a series and its occurrences, the publishing workflow, cancellation,
registrations with capacity held under concurrency, and the waitlist. Never commits."""

from __future__ import annotations

import os
import time as time_module
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import record_audit
from app.core.db import write_intent
from app.core.districts import District
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.mail import Attachment, queue_mail
from app.core.permissions import Role, has_role
from app.core.readings import READING_MAX_LENGTH, clean_reading
from app.core.time import today_tokyo, tokyo_to_utc, utcnow
from app.events import recurrence
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventAudience,
    EventCategory,
    EventOccurrence,
    EventPartner,
    EventSeries,
    EventStatus,
    Frequency,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
    search_key,
)
from app.extensions import db
from app.organizations import services as organization_services
from app.organizations.models import Organization

FIRST_EVENT_DAY = date(2000, 1, 1)
TEXT_LIMITS = {"title": 200, "summary": 500, "description": 20000}
LANG_SUFFIXES = ("ja", "en", "easy")


class InvalidEvent(DomainError):
    """Bad event input; FIELD names the form field the message belongs to."""

    status_code = 422

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


class RegistrationClosed(Conflict):
    pass


class AlreadyRegistered(Conflict):
    pass


class InvalidGuestLink(DomainError):
    pass


GUEST_CONFIRM_MAX_AGE_S = 48 * 3600


@dataclass
class SeriesInput:
    """What an organizer enters for a series, already parsed by the form."""

    texts: dict  # "title_ja" ... "description_easy"
    category: str
    audiences: list
    district: str
    venue_name: str | None
    venue_address: str | None
    online_url: str | None
    fee_yen: int
    fee_note: str | None
    registration_required: bool
    capacity: int | None
    registration_opens_at: datetime | None
    registration_deadline_days: int | None
    accessibility: dict  # wheelchair_accessible, sign_language, captions, childcare, no_smoking
    foreign_languages: list
    contact: dict  # contact_name, contact_email, contact_phone
    partner_ids: list
    frequency: str
    first_date: date
    until_date: date | None
    nth: int | None
    dates: list
    start_time: dtime
    end_time: dtime
    title_kana: str | None = None  # the title's reading (katakana); None: generated for the open data


def capacity_guard_enabled() -> bool:
    """Whether registrations lock the occurrence row. Only a control run of the concurrency test turns it off."""
    value = current_app.config.get("EVENTS_CAPACITY_GUARD")
    if value is None:
        value = os.environ.get("TSUDOI_EVENTS_CAPACITY_GUARD", "1").strip().lower() not in {"0", "false", "off"}
    return bool(value)


# ---------------------------------------------------------------- permissions


def can_edit(user, series: EventSeries) -> bool:
    """The group's officers and editors (and ward staff) edit its events."""
    return organization_services.can_edit_events(user, series.organization)


def is_visible(user, series: EventSeries) -> bool:
    """Released events are public (cancelled ones too); others only to their editors and reviewing staff."""
    if series.is_public(utcnow()):
        return True
    return bool(user and user.is_authenticated and (can_edit(user, series) or has_role(user, Role.WARD_STAFF)))


# ---------------------------------------------------------------- saving a series


def reading(value: str | None) -> str | None:
    """The title's reading as stored (app.core.readings.clean_reading), or InvalidEvent with a message for the field."""
    try:
        return clean_reading(value)
    except ValueError:
        message = _l("タイトルの読みは、カタカナ・長音(ー)・中点(・)・スペースで、%(max)d文字以内で入力してください。",
                     max=READING_MAX_LENGTH)
        raise InvalidEvent(message, "title_kana") from None


def _validate(data: SeriesInput) -> tuple[list[date], EventCategory, District, list[Audience], list[str]]:
    if not (data.texts.get("title_ja") or "").strip():
        raise InvalidEvent(_l("日本語のタイトルを入力してください。"), "title_ja")
    for key, value in data.texts.items():
        limit = TEXT_LIMITS[key.rsplit("_", 1)[0]]
        if value and len(value) > limit:
            raise InvalidEvent(_l("%(max)d文字以内で入力してください。", max=limit), key)
    reading(data.title_kana)
    try:
        category = EventCategory(data.category)
    except ValueError:
        raise InvalidEvent(_l("分類を一覧から選んでください。"), "category") from None
    try:
        district = District(data.district)
    except ValueError:
        raise InvalidEvent(_l("地区を一覧から選んでください。"), "district") from None
    try:
        audiences = sorted({Audience(a) for a in data.audiences}, key=list(Audience).index)
    except ValueError:
        raise InvalidEvent(_l("対象を一覧から選んでください。"), "audiences") from None
    unknown = [code for code in data.foreign_languages if code not in FOREIGN_LANGUAGES]
    if unknown:
        raise InvalidEvent(_l("対応言語を一覧から選んでください。"), "foreign_languages")
    if data.end_time <= data.start_time:
        raise InvalidEvent(_l("終了時刻は開始時刻より後にしてください。"), "end_time")
    if data.fee_yen < 0:
        raise InvalidEvent(_l("参加費は0円以上にしてください。"), "fee_yen")
    if data.capacity is not None and data.capacity < 1:
        raise InvalidEvent(_l("定員は1人以上にしてください(制限しない場合は空欄)。"), "capacity")
    if data.registration_deadline_days is not None and not 0 <= data.registration_deadline_days <= 365:
        raise InvalidEvent(_l("締切は0日から365日前までで入力してください。"), "registration_deadline_days")
    given = [d for d in (data.first_date, data.until_date, *data.dates) if d is not None]
    if any(not FIRST_EVENT_DAY <= d <= FIRST_EVENT_DAY.replace(year=today_tokyo().year + 10) for d in given):
        # A year-1 or year-9999 day would overflow the UTC conversion (a 500) and is never meant.
        raise InvalidEvent(_l("開催日は2000年から10年先までの日付にしてください。"),
                           "dates" if data.frequency == Frequency.DATES.value else "first_date")
    try:
        frequency = Frequency(data.frequency)
        rule = _rule(data, frequency)
        days = recurrence.expand(rule)
    except ValueError as exc:
        code = getattr(exc, "code", "")
        messages = {
            "no_until": (_l("繰り返しの終わりの日を入力してください。"), "until_date"),
            "until_before_first": (_l("繰り返しの終わりの日は、最初の日より後にしてください。"), "until_date"),
            "too_many": (_l("回数が多すぎます(%(max)d回まで)。", max=recurrence.MAX_OCCURRENCES), "until_date"),
            "no_dates": (_l("開催する日が一日もありません。"), "dates"),
            "bad_nth": (_l("第何週かを選んでください。"), "nth"),
        }
        message, field = messages.get(code, (_l("繰り返しの指定が正しくありません。"), "frequency"))
        raise InvalidEvent(message, field) from None
    last_start = tokyo_to_utc(days[-1], data.start_time)
    if data.registration_opens_at is not None and data.registration_opens_at >= last_start:
        raise InvalidEvent(_l("申込の受付開始は、開催日時より前にしてください。"), "registration_opens_at")
    return days, category, district, audiences, [c for c in FOREIGN_LANGUAGES if c in data.foreign_languages]


def _rule(data: SeriesInput, frequency: Frequency) -> recurrence.Rule:
    kind = recurrence.Kind(frequency.value)
    if kind == recurrence.Kind.DATES:
        days = tuple(data.dates)
        return recurrence.Rule(kind=kind, first=min(days) if days else data.first_date, dates=days)
    return recurrence.Rule(
        kind=kind, first=data.first_date,
        until=data.until_date if kind != recurrence.Kind.ONCE else None,
        nth=data.nth if kind == recurrence.Kind.MONTHLY_NTH_WEEKDAY else None,
        weekday=data.first_date.weekday() if kind == recurrence.Kind.MONTHLY_NTH_WEEKDAY else None,
    )


def save_series(
    *, organization: Organization, actor: User, data: SeriesInput, series: EventSeries | None = None,
    check_venue: bool = True,
) -> EventSeries:
    """Create (as a draft) or update a series and bring its occurrences in line with its dates.

    Occurrences whose day stays keep their registrations; a removed day with registrations is refused, as is a
    capacity below an occurrence's confirmed registrations. Raises InvalidEvent before anything is written.
    A linked venue booking must still hold the new times and capacity (CHECK_VENUE=False when the caller sets
    the venue itself right after, as the event form does).
    """
    days, category, district, audiences, languages = _validate(data)
    partner_ids = sorted({int(i) for i in data.partner_ids} - {organization.id})
    if any(not 0 < i < 2**31 for i in partner_ids):  # beyond an id column's range: unknown, not a 500
        raise InvalidEvent(_l("共催団体が見つかりません。"), "partner_ids")
    if partner_ids:
        found = set(db.session.scalars(sa.select(Organization.id).where(Organization.id.in_(partner_ids))))
        if found != set(partner_ids):
            raise InvalidEvent(_l("共催団体が見つかりません。"), "partner_ids")
    creating = series is None
    existing: dict[date, EventOccurrence] = {}
    if not creating:
        if series.status == EventStatus.CANCELLED:
            raise Conflict(_l("中止したイベントは編集できません。"))
        counts = confirmed_counts([o.id for o in series.occurrences])
        for occurrence in series.occurrences:
            existing[_tokyo_day(occurrence.starts_at)] = occurrence
        active = active_counts([o.id for o in series.occurrences])
        for day, occurrence in existing.items():
            if day not in days and active.get(occurrence.id, 0):
                raise InvalidEvent(_l("%(day)s には申込があるため、日付から外せません。その回を中止してください。",
                                      day=day.isoformat()), "frequency")
            if data.capacity is not None and counts.get(occurrence.id, 0) > data.capacity:
                raise InvalidEvent(_l("定員を申込数(%(count)d人)より少なくできません。",
                                      count=counts[occurrence.id]), "capacity")
    else:
        series = EventSeries(organization_id=organization.id, created_by_id=actor.id, status=EventStatus.DRAFT)
        series.organization = organization
        db.session.add(series)

    for key in (f"{f}_{s}" for f in TEXT_LIMITS for s in LANG_SUFFIXES):
        setattr(series, key, (data.texts.get(key) or "").strip() or None)
    series.title_kana = reading(data.title_kana)
    series.search_text = search_key(" ".join(v for v in (getattr(series, k) for k in data.texts) if v))
    series.category, series.district = category, district
    series.venue_name, series.venue_address, series.online_url = data.venue_name, data.venue_address, data.online_url
    series.fee_yen, series.fee_note = data.fee_yen, data.fee_note
    series.registration_required = data.registration_required
    series.registration_opens_at = data.registration_opens_at
    series.registration_deadline_days = data.registration_deadline_days
    for key in ("wheelchair_accessible", "sign_language", "captions", "childcare", "no_smoking"):
        setattr(series, key, bool(data.accessibility.get(key)))
    series.foreign_languages = ",".join(languages)
    for key in ("contact_name", "contact_email", "contact_phone"):
        setattr(series, key, data.contact.get(key) or None)
    series.frequency = Frequency(data.frequency)
    series.recurrence = _rule(data, series.frequency).to_dict()
    series.start_time, series.end_time = data.start_time, data.end_time
    series.audience_rows = [EventAudience(audience=a) for a in audiences]
    series.partner_rows = [EventPartner(organization_id=i) for i in partner_ids]

    for day in days:
        starts_at, ends_at = tokyo_to_utc(day, data.start_time), tokyo_to_utc(day, data.end_time)
        occurrence = existing.pop(day, None)
        if occurrence is None:
            series.occurrences.append(EventOccurrence(starts_at=starts_at, ends_at=ends_at, capacity=data.capacity))
            continue
        occurrence.starts_at, occurrence.ends_at, occurrence.capacity = starts_at, ends_at, data.capacity
        occurrence.sequence += 1
    for occurrence in existing.values():
        series.occurrences.remove(occurrence)
    if not creating and series.status == EventStatus.PUBLISHED and not organization.is_verified \
            and not has_role(actor, Role.WARD_STAFF):
        series.status = EventStatus.SUBMITTED  # changes by unverified groups are reviewed again
    db.session.flush()
    if check_venue:
        _recheck_venue(series)
    if not creating:
        for occurrence in series.occurrences:
            _fill_from_waitlist(occurrence)
    record_audit("event.created" if creating else "event.updated", actor_id=actor.id, target_type="event_series",
                 target_id=series.id)
    return series


def _recheck_venue(series: EventSeries) -> None:
    from app.events import venue  # late: venue builds on this module

    venue.recheck(series)


def input_from_series(series: EventSeries) -> SeriesInput:
    """A saved series as input (so a partial change, such as an API PATCH, starts from what is stored)."""
    rule = recurrence.Rule.from_dict(series.recurrence)
    return SeriesInput(
        texts={f"{f}_{s}": getattr(series, f"{f}_{s}") for f in TEXT_LIMITS for s in LANG_SUFFIXES},
        title_kana=series.title_kana,
        category=series.category.value, audiences=[a.value for a in series.audiences],
        district=series.district.value, venue_name=series.venue_name, venue_address=series.venue_address,
        online_url=series.online_url, fee_yen=series.fee_yen, fee_note=series.fee_note,
        registration_required=series.registration_required,
        capacity=series.occurrences[0].capacity if series.occurrences else None,
        registration_opens_at=series.registration_opens_at,
        registration_deadline_days=series.registration_deadline_days,
        accessibility={k: getattr(series, k) for k in ("wheelchair_accessible", "sign_language", "captions",
                                                         "childcare", "no_smoking")},
        foreign_languages=series.foreign_language_codes,
        contact={k: getattr(series, k) for k in ("contact_name", "contact_email", "contact_phone")},
        partner_ids=[row.organization_id for row in series.partner_rows], frequency=series.frequency.value,
        first_date=rule.first, until_date=rule.until, nth=rule.nth, dates=list(rule.dates),
        start_time=series.start_time, end_time=series.end_time,
    )


def _tokyo_day(instant: datetime) -> date:
    from app.core.time import to_tokyo

    return to_tokyo(instant).date()


# ---------------------------------------------------------------- workflow


def submit(series: EventSeries, *, actor: User, publish_at: datetime | None = None) -> EventStatus:
    """Verified groups (and ward staff) publish directly; others wait in the staff review queue.

    PUBLISH_AT schedules the publication: the event stays hidden until then, even once approved.
    """
    if series.status not in (EventStatus.DRAFT, EventStatus.SUBMITTED):
        raise Conflict(_l("この状態のイベントは公開の申請ができません。"))
    if publish_at is not None:
        if publish_at <= utcnow():
            raise InvalidEvent(_l("公開する日時は、今より後にしてください(すぐ公開するときは空欄)。"), "publish_at")
        last = max((o.starts_at for o in series.occurrences), default=None)
        if last is not None and publish_at >= last:
            raise InvalidEvent(_l("公開する日時は、開催日時より前にしてください。"), "publish_at")
    series.publish_at = publish_at
    if series.organization.is_verified or has_role(actor, Role.WARD_STAFF):
        _publish(series)
    else:
        series.status = EventStatus.SUBMITTED
        series.submitted_at = utcnow()
    record_audit("event.submitted", actor_id=actor.id, target_type="event_series", target_id=series.id,
                 details={"status": series.status.value})
    return series.status


def _publish(series: EventSeries) -> None:
    series.status = EventStatus.PUBLISHED
    series.published_at = utcnow()
    series.review_comment = None


def approve(series: EventSeries, *, staff: User) -> None:
    """Staff publish a submitted event."""
    if series.status != EventStatus.SUBMITTED:
        raise Conflict(_l("承認待ちのイベントではありません。"))
    _publish(series)
    record_audit("event.approved", actor_id=staff.id, target_type="event_series", target_id=series.id)
    _mail_review_outcome(series, approved=True)


def return_to_draft(series: EventSeries, *, staff: User, comment: str) -> None:
    """Staff send a submitted event back to its group with a comment."""
    if series.status != EventStatus.SUBMITTED:
        raise Conflict(_l("承認待ちのイベントではありません。"))
    if not (comment or "").strip():
        raise InvalidEvent(_l("コメントを入力してください。"), "comment")
    series.status = EventStatus.DRAFT
    series.review_comment = comment.strip()
    record_audit("event.returned", actor_id=staff.id, target_type="event_series", target_id=series.id)
    _mail_review_outcome(series, approved=False)


def _mail_review_outcome(series: EventSeries, *, approved: bool) -> None:
    """Tell the group's officers and the event's author what staff decided (the comment says what to fix)."""
    people = {u.id: u for u in organization_services.officers(series.organization)}
    if series.created_by_id is not None and series.created_by_id not in people:
        author = db.session.get(User, series.created_by_id)
        if author is not None:
            people[author.id] = author
    subject = _l("イベントが公開されました") if approved else _l("イベントが区の職員から戻されました")
    for person in people.values():
        queue_mail(to=person.email, subject=subject, template="events/reviewed", language=person.preferred_language,
                   user=person, series=series, approved=approved, url=_event_url(series))


def cancel_series(series: EventSeries, *, actor: User, reason: str) -> int:
    """Cancel an event with a reason: every future occurrence is cancelled and its registrants are e-mailed.

    Returns the number of people told.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidEvent(_l("中止の理由を入力してください。"), "reason")
    if len(reason) > 2000:
        raise InvalidEvent(_l("%(max)d文字以内で入力してください。", max=2000), "reason")
    if series.status == EventStatus.CANCELLED:
        raise Conflict(_l("このイベントはすでに中止になっています。"))
    now = utcnow()
    series.status = EventStatus.CANCELLED
    series.cancelled_at = now
    series.cancel_reason = reason
    told = 0
    for occurrence in series.occurrences:
        if occurrence.starts_at <= now or occurrence.status == OccurrenceStatus.CANCELLED:
            continue
        occurrence.status = OccurrenceStatus.CANCELLED
        occurrence.sequence += 1
        registrations = db.session.scalars(
            sa.select(Registration).where(Registration.occurrence_id == occurrence.id,
                                          Registration.status != RegistrationStatus.CANCELLED)
        ).all()
        for registration in registrations:
            _mail_registrant(registration, subject=_l("イベント中止のお知らせ"), template="events/cancelled",
                             reason=reason)
            told += 1
    record_audit("event.cancelled", actor_id=actor.id, target_type="event_series", target_id=series.id,
                 details={"told": told})
    return told


_UNCHANGED = object()


def edit_occurrences(occurrence: EventOccurrence, *, actor: User, following: bool, day: date | None,
                     start_time: dtime, end_time: dtime, capacity: int | None,
                     venue_booking_id=_UNCHANGED) -> list[EventOccurrence]:
    """Change the time (and, for one occurrence, the day) and capacity of this occurrence, or of this one and the
    ones after it. Registrants of a moved occurrence are e-mailed; a raised capacity promotes from the waitlist.
    VENUE_BOOKING_ID (when given) links this one occurrence's own room booking, or None for the series' venue;
    every linked booking is checked against the new times once all of them are set.

    Editing the whole series later re-applies the series' own times to every occurrence.
    """
    series = occurrence.series
    if series.status == EventStatus.CANCELLED or occurrence.status == OccurrenceStatus.CANCELLED:
        raise Conflict(_l("中止した回は編集できません。"))
    now = utcnow()
    if occurrence.ends_at <= now:
        raise InvalidEvent(_l("終わった回は編集できません。"), "start_time")
    if end_time <= start_time:
        raise InvalidEvent(_l("終了時刻は開始時刻より後にしてください。"), "end_time")
    if capacity is not None and capacity < 1:
        raise InvalidEvent(_l("定員は1人以上にしてください(制限しない場合は空欄)。"), "capacity")
    targets = [o for o in series.occurrences if o.status == OccurrenceStatus.SCHEDULED
               and (o.id == occurrence.id or (following and o.starts_at > occurrence.starts_at))]
    counts = confirmed_counts([o.id for o in targets])
    for target in targets:
        if capacity is not None and counts.get(target.id, 0) > capacity:
            raise InvalidEvent(_l("定員を申込数(%(count)d人)より少なくできません。", count=counts[target.id]),
                               "capacity")
    taken = {_tokyo_day(o.starts_at) for o in series.occurrences if o.id != occurrence.id}
    if day is not None and not following and day in taken:
        raise InvalidEvent(_l("この日にはすでに回があります。"), "day")
    if day is not None and not FIRST_EVENT_DAY <= day <= FIRST_EVENT_DAY.replace(year=today_tokyo().year + 10):
        raise InvalidEvent(_l("開催日は2000年から10年先までの日付にしてください。"), "day")
    for target in targets:
        target_day = day if (day is not None and not following) else _tokyo_day(target.starts_at)
        starts_at, ends_at = tokyo_to_utc(target_day, start_time), tokyo_to_utc(target_day, end_time)
        if starts_at <= now:
            raise InvalidEvent(_l("過去の日時には変更できません。"), "day")
        moved = (starts_at, ends_at) != (target.starts_at, target.ends_at)
        target.starts_at, target.ends_at, target.capacity = starts_at, ends_at, capacity
        target.sequence += 1
        db.session.flush()
        if venue_booking_id is _UNCHANGED:
            _recheck_venue(series)
        if moved:
            for registration in db.session.scalars(sa.select(Registration).where(
                    Registration.occurrence_id == target.id, Registration.status != RegistrationStatus.CANCELLED)):
                _mail_registrant(registration, subject=_l("日時が変わりました"), template="events/moved", ics=True)
        _fill_from_waitlist(target)
    if venue_booking_id is not _UNCHANGED:
        from app.events import venue  # late: venue builds on this module

        venue.set_occurrence_booking(occurrence, venue_booking_id, actor=actor)
        _recheck_venue(series)
    record_audit("occurrence.edited", actor_id=actor.id, target_type="event_occurrence", target_id=occurrence.id,
                 details={"following": following, "count": len(targets)})
    return targets


def cancel_occurrence(occurrence: EventOccurrence, *, actor: User, reason: str) -> int:
    """Cancel one date of a series (rain, a closed hall) with a reason; its registrants are e-mailed.

    Returns the number of people told.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidEvent(_l("中止の理由を入力してください。"), "reason")
    if len(reason) > 2000:
        raise InvalidEvent(_l("%(max)d文字以内で入力してください。", max=2000), "reason")
    if occurrence.status == OccurrenceStatus.CANCELLED or occurrence.series.status == EventStatus.CANCELLED:
        raise Conflict(_l("この回はすでに中止になっています。"))
    if occurrence.ends_at <= utcnow():
        raise Conflict(_l("終わった回は中止にできません。"))
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.sequence += 1
    told = 0
    for registration in db.session.scalars(
        sa.select(Registration).where(Registration.occurrence_id == occurrence.id,
                                      Registration.status != RegistrationStatus.CANCELLED)
    ):
        _mail_registrant(registration, subject=_l("イベント中止のお知らせ"), template="events/cancelled", reason=reason)
        told += 1
    record_audit("occurrence.cancelled", actor_id=actor.id, target_type="event_occurrence",
                 target_id=occurrence.id, details={"told": told, "reason": reason})
    return told


def _ics_attachment(occurrence: EventOccurrence, language: str | None) -> list[Attachment]:
    """The occurrence as an .ics file, so the person can add it to their calendar from the e-mail."""
    from app.events import ical

    body = ical.build_calendar([occurrence], name=occurrence.series.title_ja,
                               base_url=current_app.config["BASE_URL"], language=language or "ja")
    return [Attachment(filename="event.ics", mimetype="text/calendar", content=body.decode("utf-8"))]


def _event_url(series: EventSeries) -> str:
    return current_app.config["BASE_URL"] + url_for("events.show", series_id=series.id)


# ---------------------------------------------------------------- registrations


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
        closes = min(closes, tokyo_to_utc(_tokyo_day(occurrence.starts_at)
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


def _count_unguarded(occurrence_id: int) -> int:
    """The naive check-then-write, for the control run only: count in a transaction of its own, then write in
    another. Nothing holds the seats in between, which is exactly the race the guard prevents."""
    db.session.rollback()  # nothing written yet; end the request's write transaction so the count is not locked
    token = write_intent.set(False)
    try:
        count = confirmed_counts([occurrence_id]).get(occurrence_id, 0)
        db.session.rollback()
    finally:
        write_intent.reset(token)
    time_module.sleep(float(os.environ.get("TSUDOI_EVENTS_UNGUARDED_DELAY_S", "0.05")))
    return count


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
    if capacity_guard_enabled():
        occurrence = _lock_occurrence(occurrence_id)
        confirmed = confirmed_counts([occurrence_id]).get(occurrence_id, 0)
    else:
        confirmed = _count_unguarded(occurrence_id)
        occurrence = db.session.get(EventOccurrence, occurrence_id)
        if occurrence is None:
            raise DomainError(_l("この回が見つかりません。"))
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
    _mail_registrant(registration, subject=_l("お申し込みを受け付けました") if status == RegistrationStatus.CONFIRMED
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


def _mail_registrant(registration: Registration, *, subject, template: str, ics: bool = False, qr: bool = False,
                     **context) -> None:
    occurrence = registration.occurrence
    attachments = _ics_attachment(occurrence, registration.language) if ics else []
    if qr and registration.status == RegistrationStatus.CONFIRMED:
        from app.events import tickets

        attachments = [*attachments, tickets.qr_attachment(registration)]  # the check-in QR, inline
    cancel_url = None
    if registration.is_guest:
        cancel_url = current_app.config["BASE_URL"] + url_for("events.guest_cancel",
                                                              token=guest_cancel_token(registration))
    queue_mail(to=registration.email, subject=subject, template=template, language=registration.language,
               name=registration.name, registration=registration, occurrence=occurrence, series=occurrence.series,
               url=_event_url(occurrence.series), cancel_url=cancel_url,
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
    occurrence = _lock_occurrence(registration.occurrence_id) if capacity_guard_enabled() else registration.occurrence
    db.session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED:
        raise Conflict(_l("この申し込みはすでに取り消されています。"))
    if not by_organizer and occurrence.starts_at <= utcnow():
        raise RegistrationClosed(_l("開始後は取り消せません。"))
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    db.session.flush()
    promoted = _fill_from_waitlist(occurrence)
    record_audit("registration.cancelled", actor_id=user.id if user else None, target_type="registration",
                 target_id=registration.id)
    return promoted[0] if promoted else None


def _fill_from_waitlist(occurrence: EventOccurrence) -> list[Registration]:
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
        _mail_registrant(registration, subject=_l("キャンセル待ちから参加が決まりました"), template="events/promoted",
                         ics=True, qr=True)
    return promoted


def promote_by_hand(*, registration_id: int, actor: User) -> Registration:
    """The organizer confirms a waitlisted person now, even beyond capacity (their decision, audited)."""
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise DomainError(_l("申し込みが見つかりません。"))
    if capacity_guard_enabled():
        _lock_occurrence(registration.occurrence_id)
    db.session.refresh(registration)
    if registration.status != RegistrationStatus.WAITLISTED:
        raise Conflict(_l("キャンセル待ちの申し込みではありません。"))
    registration.status = RegistrationStatus.CONFIRMED
    registration.promoted_at = utcnow()
    _mail_registrant(registration, subject=_l("キャンセル待ちから参加が決まりました"), template="events/promoted",
                     ics=True, qr=True)
    record_audit("registration.promoted", actor_id=actor.id, target_type="registration", target_id=registration.id)
    return registration


def message_registrants(occurrence: EventOccurrence, *, actor: User, subject: str, body: str,
                        include_waitlisted: bool) -> int:
    """The organizer e-mails the people registered for an occurrence; returns how many were written to."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or not body:
        raise InvalidEvent(_l("件名と本文を入力してください。"), "subject" if not subject else "body")
    statuses = [RegistrationStatus.CONFIRMED] + ([RegistrationStatus.WAITLISTED] if include_waitlisted else [])
    recipients = [r for r in registrations_of(occurrence.id) if r.status in statuses]
    for registration in recipients:
        queue_mail(to=registration.email, subject=subject[:200], template="events/message",
                   language=registration.language, name=registration.name, series=occurrence.series,
                   occurrence=occurrence, body=body, organizer=occurrence.series.organization,
                   url=_event_url(occurrence.series))
    record_audit("registrants.messaged", actor_id=actor.id, target_type="event_occurrence", target_id=occurrence.id,
                 details={"recipients": len(recipients)})
    return len(recipients)


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
