"""Participation reports: revisions, validation, submission and review by ward staff, the lists of occurrences
waiting for a report, and the overdue reminders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.audit import record_audit
from app.core.errors import Conflict, NotAllowed
from app.core.mail import queue_mail
from app.core.permissions import Role, has_role
from app.core.time import to_tokyo, utcnow
from app.events.models import (
    EventOccurrence,
    EventSeries,
    OccurrenceStatus,
    held_clause,
)
from app.extensions import db
from app.organizations import services as organization_services
from app.participation.checkin import door_counts, require_organizer
from app.participation.errors import AlreadyReminded, InvalidReport, NotOverdue
from app.participation.models import (
    AGE_FIELDS,
    BREAKDOWN_FIELDS,
    OTHER_FIELDS,
    RESIDENCE_FIELDS,
    CountingMethod,
    ParticipationReport,
    ReportReminder,
    ReportStatus,
)

# ---------------------------------------------------------------- reports


@dataclass
class ReportInput:
    """A report as the organizer enters it (breakdown values None when not given)."""

    total: int
    counting_method: CountingMethod
    breakdown: dict[str, int | None] = field(default_factory=dict)
    notes: str | None = None


BREAKDOWN_GROUP_MESSAGES = {
    AGE_FIELDS: _l("年代別の人数の合計(%(sum)s人)が参加者数(%(total)s人)を超えています。"),
    RESIDENCE_FIELDS: _l("区民・在勤在学・区外の人数の合計(%(sum)s人)が参加者数(%(total)s人)を超えています。"),
}


def has_ended(occurrence: EventOccurrence, now: datetime | None = None) -> bool:
    """Whether the occurrence is over (reports are filed after it ends)."""
    return occurrence.ends_at <= (now or utcnow())


MAX_PARTICIPANTS = 1_000_000  # above any event of the ward; beyond the count columns a number overflowed (a 500)


def validate_report(data: ReportInput) -> None:
    """Raise InvalidReport when counts are negative or implausibly large, or breakdowns add up to more than the
    total (so a breakdown is bounded by the total)."""
    if data.total is None or data.total < 0:
        raise InvalidReport(_l("参加者数は0以上の整数で入力してください。"), "total")
    if data.total > MAX_PARTICIPANTS:
        raise InvalidReport(_l("参加者数は100万人以下で入力してください。"), "total")
    for name in BREAKDOWN_FIELDS:
        value = data.breakdown.get(name)
        if value is not None and value < 0:
            raise InvalidReport(_l("人数は0以上の整数で入力してください。"), name)
    for group, message in BREAKDOWN_GROUP_MESSAGES.items():
        total = sum(data.breakdown.get(name) or 0 for name in group)
        if total > data.total:
            raise InvalidReport(_format(message, total, data.total), group[0])
    for name in OTHER_FIELDS:
        value = data.breakdown.get(name)
        if value is not None and value > data.total:
            raise InvalidReport(_l("内訳の人数(%(value)s人)が参加者数(%(total)s人)を超えています。",
                                   value=format(value, ","), total=format(data.total, ",")), name)


def _format(message, group_sum: int, total: int) -> str:
    # Lazy strings with placeholders: interpolate after translation, with thousands separators.
    return str(message) % {"sum": f"{group_sum:,}", "total": f"{total:,}"}


def latest_report(occurrence_id: int) -> ParticipationReport | None:
    """The report revision that counts for an occurrence (the latest), or None."""
    return db.session.scalar(sa.select(ParticipationReport).where(
        ParticipationReport.occurrence_id == occurrence_id, ParticipationReport.is_latest.is_(True)))


def report_history(occurrence_id: int) -> list[ParticipationReport]:
    """Every revision of an occurrence's report, newest first."""
    return list(db.session.scalars(sa.select(ParticipationReport)
                                   .where(ParticipationReport.occurrence_id == occurrence_id)
                                   .order_by(ParticipationReport.revision.desc())))


def prefill_total(occurrence_id: int) -> int:
    """The suggested total: check-ins plus walk-ins."""
    return door_counts(occurrence_id).present


def _auto_approves(occurrence: EventOccurrence) -> bool:
    return bool(current_app.config.get("PARTICIPATION_VERIFIED_REPORTS_COUNT_ON_SUBMISSION", False)) \
        and occurrence.series.organization.is_verified


def submit_report(*, occurrence: EventOccurrence, actor: User, data: ReportInput,
                  now: datetime | None = None) -> ParticipationReport:
    """File a report, or amend one (a new revision; earlier revisions stay as history)."""
    now = now or utcnow()
    require_organizer(actor, occurrence)
    if occurrence.status == OccurrenceStatus.CANCELLED:
        raise InvalidReport(_l("中止になった開催回には参加報告はいりません。"))
    if not has_ended(occurrence, now):
        raise InvalidReport(_l("参加報告は、イベントが終わってから送ってください。"))
    validate_report(data)
    # Lock the occurrence row: two amendments at once get consecutive revisions, never the same one.
    db.session.execute(sa.select(EventOccurrence.id).where(EventOccurrence.id == occurrence.id).with_for_update())
    previous = latest_report(occurrence.id)
    revision = (previous.revision + 1) if previous else 1
    if previous is not None:
        previous.is_latest = False
        db.session.flush()
    auto = _auto_approves(occurrence)
    report = ParticipationReport(
        occurrence_id=occurrence.id, revision=revision, is_latest=True, total=data.total,
        counting_method=data.counting_method, notes=(data.notes or None),
        status=ReportStatus.APPROVED if auto else ReportStatus.SUBMITTED,
        submitted_at=now, submitted_by_id=actor.id, reviewed_at=now if auto else None,
        **{name: data.breakdown.get(name) for name in BREAKDOWN_FIELDS},
    )
    db.session.add(report)
    db.session.flush()
    return report


def _reviewable(report: ParticipationReport, staff: User) -> None:
    if not has_role(staff, Role.WARD_STAFF):
        raise NotAllowed(_l("参加報告を承認できるのは区の職員です。"))
    if not report.is_latest:
        raise Conflict(_l("この報告には新しい版があります。最新の版を確認してください。"))
    if report.status != ReportStatus.SUBMITTED:
        raise Conflict(_l("この報告はすでに確認済みです。"))


def approve_report(*, report: ParticipationReport, staff: User, now: datetime | None = None) -> None:
    """Ward staff accept the latest revision: from now on it counts in the indicators."""
    _reviewable(report, staff)
    report.status = ReportStatus.APPROVED
    report.reviewed_at = now or utcnow()
    report.reviewed_by_id = staff.id
    record_audit("participation_report.approve", actor_id=staff.id, target_type="participation_report",
                 target_id=report.id, details={"occurrence_id": report.occurrence_id, "revision": report.revision,
                                               "total": report.total})


def return_report(*, report: ParticipationReport, staff: User, comment: str, now: datetime | None = None) -> None:
    """Ward staff send the latest revision back with a comment; the organizer amends it."""
    _reviewable(report, staff)
    if not (comment or "").strip():
        raise InvalidReport(_l("差し戻す理由を入力してください。"), "comment")
    report.status = ReportStatus.RETURNED
    report.reviewed_at = now or utcnow()
    report.reviewed_by_id = staff.id
    report.review_comment = comment.strip()
    record_audit("participation_report.return", actor_id=staff.id, target_type="participation_report",
                 target_id=report.id, details={"occurrence_id": report.occurrence_id, "revision": report.revision})


# ---------------------------------------------------------------- staff lists and reminders


def ended_clause(now: datetime):
    """Ended, held occurrences (app.events.models.held_clause: also those an event held before it was cancelled):
    the ones a report is due for (here, in the portal's counts, and in the indicators' completeness)."""
    return sa.and_(EventOccurrence.ends_at <= now, held_clause())


def occurrences_without_approved_report(*, now: datetime | None = None, limit: int = 500
                                        ) -> list[tuple[EventOccurrence, ParticipationReport | None]]:
    """Ended occurrences whose report is missing, waiting or returned, oldest first, with the latest revision."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(ended_clause(now))
        .where(sa.or_(ParticipationReport.id.is_(None), ParticipationReport.status != ReportStatus.APPROVED))
        .order_by(EventOccurrence.ends_at, EventOccurrence.id).limit(limit)
    ).all()
    return [(occurrence, report) for occurrence, report in rows]


def _reminder_settings() -> tuple[timedelta, timedelta, int]:
    config = current_app.config
    return (timedelta(days=int(config.get("PARTICIPATION_REPORT_DUE_DAYS", 7))),
            timedelta(days=int(config.get("PARTICIPATION_REMINDER_INTERVAL_DAYS", 7))),
            int(config.get("PARTICIPATION_REMINDER_MAX", 3)))


def _mail_officers(occurrence: EventOccurrence, report: ParticipationReport | None) -> int:
    series = occurrence.series
    officers = organization_services.officers(series.organization)
    for officer in officers:
        queue_mail(to=officer.email, subject=_l("参加報告をお願いします"), template="participation/report_overdue",
                   language=officer.preferred_language, user=officer, series=series, occurrence=occurrence,
                   returned=report is not None, comment=report.review_comment if report else None,
                   url=f"{current_app.config['BASE_URL']}/participation/occurrences/{occurrence.id}/report")
    return len(officers)


def remind_now(occurrence: EventOccurrence, *, staff, now: datetime | None = None) -> int:
    """Ward staff send the reminder for OCCURRENCE's report by hand (the row's button): once per Tokyo day, only
    while the report is missing or returned after the occurrence ended; audited. Returns the officers written to."""
    now = now or utcnow()
    report = db.session.scalar(sa.select(ParticipationReport).where(
        ParticipationReport.occurrence_id == occurrence.id, ParticipationReport.is_latest.is_(True)))
    if (occurrence.ends_at > now or not occurrence.is_held
            or (report is not None and report.status != ReportStatus.RETURNED)):
        raise NotOverdue(_l("この回の参加報告は、いま催促するものではありません。"))
    try:
        with db.session.begin_nested():
            db.session.add(ReportReminder(occurrence_id=occurrence.id,
                                          due_key=f"staff-{to_tokyo(now).date().isoformat()}", sent_at=now))
    except IntegrityError:
        raise AlreadyReminded(_l("今日はもう催促のメールを送りました。")) from None
    count = _mail_officers(occurrence, report)
    record_audit("report.reminded", actor_id=staff.id, target_type="event_occurrence", target_id=occurrence.id,
                 details={"officers": count})
    return count


def send_overdue_reminders(*, now: datetime | None = None) -> int:
    """E-mail the officers of every occurrence whose report is overdue: one reminder per occurrence and due key.

    The due key is the number of whole reminder intervals since the report fell due, so running the job again
    (the same day, or after a crash) sends nothing twice; after PARTICIPATION_REMINDER_MAX reminders it stops.
    Reports waiting for review are not overdue; returned ones are.
    """
    now = now or utcnow()
    due_after, interval, most = _reminder_settings()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(ended_clause(now - due_after), EventOccurrence.ends_at > now - due_after - interval * most)
        .where(sa.or_(ParticipationReport.id.is_(None), ParticipationReport.status == ReportStatus.RETURNED))
        .order_by(EventOccurrence.ends_at, EventOccurrence.id)
    ).all()
    sent = 0
    for occurrence, report in rows:
        number = int((now - occurrence.ends_at - due_after) / interval)
        if number >= most:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(ReportReminder(occurrence_id=occurrence.id, due_key=f"reminder-{number + 1}",
                                              sent_at=now))
        except IntegrityError:
            continue  # already reminded for this key
        _mail_officers(occurrence, report)
        sent += 1
    return sent


def organization_occurrences(organization_id: int, *, now: datetime | None = None, limit: int = 200
                             ) -> list[tuple[EventOccurrence, ParticipationReport | None]]:
    """A group's ended occurrences, newest first, with their latest report (the organizer's to-do list)."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(EventSeries.organization_id == organization_id, ended_clause(now))
        .order_by(EventOccurrence.starts_at.desc(), EventOccurrence.id.desc()).limit(limit)
    ).all()
    return [(occurrence, report) for occurrence, report in rows]
