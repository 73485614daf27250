"""Event series and their occurrences: who may edit and see them, validation and saving, the review workflow
(submit, approve, return), and changing or cancelling one occurrence or the following ones. Services never
commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import record_audit
from app.core.db import rows_by_id
from app.core.districts import District
from app.core.errors import Conflict, NotAllowed
from app.core.mail import queue_mail
from app.core.permissions import Role, has_role
from app.core.readings import READING_MAX_LENGTH, clean_reading
from app.core.time import today_tokyo, tokyo_day, tokyo_to_utc, utcnow
from app.events import recurrence, venue
from app.events.errors import InvalidEvent
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
    WardRelation,
    search_key,
)
from app.events.registrations import (
    active_counts,
    confirmed_counts,
    event_url,
    fill_from_waitlist,
    lock_occurrences,
    mail_registrant,
)
from app.extensions import db
from app.organizations import services as organization_services
from app.organizations.models import Organization

FIRST_EVENT_DAY = date(2000, 1, 1)


TEXT_LIMITS = {"title": 200, "summary": 500, "description": 20000}


LANG_SUFFIXES = ("ja", "en", "easy")


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


def can_edit(user, series: EventSeries) -> bool:
    """The group's officers and editors (and ward staff) edit its events."""
    return organization_services.can_edit_events(user, series.organization)


def is_visible(user, series: EventSeries) -> bool:
    """Released events are public (cancelled ones too); others only to their editors and reviewing staff."""
    if series.is_public(utcnow()):
        return True
    return bool(user and user.is_authenticated and (can_edit(user, series) or has_role(user, Role.WARD_STAFF)))


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
        lock_occurrences(o.id for o in series.occurrences)  # no registration between the counts and the change
        counts = confirmed_counts([o.id for o in series.occurrences])
        for occurrence in series.occurrences:
            existing[tokyo_day(occurrence.starts_at)] = occurrence
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
            fill_from_waitlist(occurrence)
    record_audit("event.created" if creating else "event.updated", actor_id=actor.id, target_type="event_series",
                 target_id=series.id)
    return series


def _recheck_venue(series: EventSeries) -> None:
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


def set_ward_relation(series: EventSeries, relation: str | None, *, staff: User) -> bool:
    """Ward staff mark how the ward stands to an event (区と連携・協働, 区が支援, or neither: RELATION None or "");
    only ward staff, never the organizer. Counted by P09-05-1 (the indicator's rules). Audited with before and
    after; False when nothing changed."""
    if not has_role(staff, Role.WARD_STAFF):
        raise NotAllowed(_l("区との関係は区の職員だけが設定できます。"))
    try:
        new = WardRelation(relation) if relation else None
    except ValueError:
        raise InvalidEvent(_l("区との関係は一覧から選んでください。"), "ward_relation") from None
    if series.published_at is None:
        raise Conflict(_l("公開したイベントにだけ設定できます。"))
    before = series.ward_relation
    if before == new:
        return False
    series.ward_relation = new
    record_audit("event.ward_relation", actor_id=staff.id, target_type="event_series", target_id=series.id,
                 details={"before": before.value if before else None, "after": new.value if new else None})
    return True


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
    people = rows_by_id(organization_services.officers(series.organization))
    if series.created_by_id is not None and series.created_by_id not in people:
        author = db.session.get(User, series.created_by_id)
        if author is not None:
            people[author.id] = author
    subject = _l("イベントが公開されました") if approved else _l("イベントが区の職員から戻されました")
    for person in people.values():
        queue_mail(to=person.email, subject=subject, template="events/reviewed", language=person.preferred_language,
                   user=person, series=series, approved=approved, url=event_url(series))


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
            mail_registrant(registration, subject=_l("イベント中止のお知らせ"), template="events/cancelled",
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
    lock_occurrences(o.id for o in targets)  # no registration between the count and the new capacity
    counts = confirmed_counts([o.id for o in targets])
    for target in targets:
        if capacity is not None and counts.get(target.id, 0) > capacity:
            raise InvalidEvent(_l("定員を申込数(%(count)d人)より少なくできません。", count=counts[target.id]),
                               "capacity")
    taken = {tokyo_day(o.starts_at) for o in series.occurrences if o.id != occurrence.id}
    if day is not None and not following and day in taken:
        raise InvalidEvent(_l("この日にはすでに回があります。"), "day")
    if day is not None and not FIRST_EVENT_DAY <= day <= FIRST_EVENT_DAY.replace(year=today_tokyo().year + 10):
        raise InvalidEvent(_l("開催日は2000年から10年先までの日付にしてください。"), "day")
    for target in targets:
        target_day = day if (day is not None and not following) else tokyo_day(target.starts_at)
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
                mail_registrant(registration, subject=_l("日時が変わりました"), template="events/moved", ics=True)
        fill_from_waitlist(target)
    if venue_booking_id is not _UNCHANGED:
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
        mail_registrant(registration, subject=_l("イベント中止のお知らせ"), template="events/cancelled", reason=reason)
        told += 1
    record_audit("occurrence.cancelled", actor_id=actor.id, target_type="event_occurrence",
                 target_id=occurrence.id, details={"told": told, "reason": reason})
    return told
