"""Check-in and participation reports: codes, idempotent check-ins, walk-ins, report revisions and review,
overdue reminders, and the participant sums of the plan's indicators per fiscal year."""

from __future__ import annotations

import io
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.audit import record_audit
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.time import utcnow
from app.events.models import (
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.events.participation_models import (
    AGE_FIELDS,
    BREAKDOWN_FIELDS,
    OTHER_FIELDS,
    RESIDENCE_FIELDS,
    Checkin,
    CheckinCode,
    CheckinMethod,
    CountingMethod,
    ParticipationReport,
    ReportReminder,
    ReportStatus,
    WalkinCount,
)
from app.extensions import db
from app.organizations import services as organization_services

# Letters and digits that cannot be mistaken for one another when read aloud or typed on a phone.
CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"
CODE_LENGTH = 6
QR_PREFIX = "TSUDOI-CHECKIN"


class UnknownCode(DomainError):
    status_code = 422
    code = "unknown_code"


class InvalidReport(DomainError):
    """A report that breaks a rule; FIELD names the form field to show it on (None: the whole form)."""

    status_code = 422
    code = "invalid_report"

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- permissions


def can_check_in(user, occurrence: EventOccurrence) -> bool:
    """The event organization's officers and editors, and ward staff, check people in and file reports."""
    return organization_services.can_edit_events(user, occurrence.series.organization)


def require_organizer(user, occurrence: EventOccurrence) -> None:
    """Raise NotAllowed unless USER may run the door and the report of OCCURRENCE."""
    if not can_check_in(user, occurrence):
        raise NotAllowed(_l("このイベントの受付をする権限がありません。"))


# ---------------------------------------------------------------- codes


def normalize_code(text: str) -> str:
    """A typed or scanned code in canonical form: full-width folded, upper-cased, separators dropped."""
    text = unicodedata.normalize("NFKC", text or "").strip().upper()
    return "".join(ch for ch in text if ch.isalnum())


def format_code(code: str) -> str:
    """The code as shown to people: ABC-DEF."""
    return f"{code[:3]}-{code[3:]}" if len(code) == CODE_LENGTH else code


def qr_payload(occurrence_id: int, code: str) -> str:
    """What the QR code holds: the occurrence and the code (no personal data)."""
    return f"{QR_PREFIX}:{occurrence_id}:{code}"


def code_of(registration_id: int) -> str | None:
    """The registration's code, if it has one yet."""
    return db.session.scalar(sa.select(CheckinCode.code).where(CheckinCode.registration_id == registration_id))


def ensure_code(registration: Registration) -> str:
    """The registration's code, created on first use (unique within the occurrence; retried on a collision)."""
    for _attempt in range(10):
        existing = code_of(registration.id)
        if existing:
            return existing
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with db.session.begin_nested():
                db.session.add(CheckinCode(registration_id=registration.id,
                                           occurrence_id=registration.occurrence_id, code=code))
        except IntegrityError:
            continue  # another registration of this occurrence has that code, or a parallel request won
        return code
    raise Conflict(_l("受付番号を作れませんでした。もう一度お試しください。"))


def qr_png(registration: Registration) -> bytes:
    """The registration's QR code (occurrence and code, no personal data) as a PNG for e-mails."""
    import segno

    code = ensure_code(registration)
    buffer = io.BytesIO()
    segno.make(qr_payload(registration.occurrence_id, code), error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def qr_attachment(registration: Registration):
    """The QR code as an inline image part of the confirmation e-mail (the text link stays in the body)."""
    from app.core.mail import Attachment

    return Attachment(filename=f"checkin-{format_code(ensure_code(registration))}.png", mimetype="image/png",
                      content=qr_png(registration), content_id=f"checkin-qr-{registration.id}@tsudoi")


def ticket_token(registration_id: int) -> str:
    """A signed token naming a registration, for the ticket link in e-mails (guests have no account)."""
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="participation-ticket").dumps(
        {"r": registration_id})


def registration_for_ticket(token: str) -> Registration | None:
    """The confirmed registration a ticket token names, or None (bad signature, cancelled, waitlisted)."""
    from itsdangerous import BadSignature, URLSafeSerializer

    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="participation-ticket").loads(token)
    except BadSignature:
        return None
    registration_id = data.get("r") if isinstance(data, dict) else None
    registration = db.session.get(Registration, registration_id) if isinstance(registration_id, int) else None
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return None
    return registration


def ticket_url(registration: Registration) -> str:
    """The absolute ticket link for e-mails ('' unless the registration is confirmed)."""
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return ""
    return f"{current_app.config['BASE_URL']}/participation/tickets/{ticket_token(registration.id)}"


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


def adjust_walkins(*, occurrence: EventOccurrence, delta: int, by: User) -> int:
    """Add DELTA (+1 or -1) to the walk-in count in one UPDATE (parallel taps all count); never below zero."""
    require_organizer(by, occurrence)
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
    from app.core.permissions import Role, has_role

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


def _ended_clause(now: datetime):
    return sa.and_(EventOccurrence.ends_at <= now, EventOccurrence.status == OccurrenceStatus.SCHEDULED,
                   EventSeries.status == EventStatus.PUBLISHED)


def occurrences_without_approved_report(*, now: datetime | None = None, limit: int = 500
                                        ) -> list[tuple[EventOccurrence, ParticipationReport | None]]:
    """Ended occurrences whose report is missing, waiting or returned, oldest first, with the latest revision."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(_ended_clause(now))
        .where(sa.or_(ParticipationReport.id.is_(None), ParticipationReport.status != ReportStatus.APPROVED))
        .order_by(EventOccurrence.ends_at, EventOccurrence.id).limit(limit)
    ).all()
    return [(occurrence, report) for occurrence, report in rows]


def _reminder_settings() -> tuple[timedelta, timedelta, int]:
    config = current_app.config
    return (timedelta(days=int(config.get("PARTICIPATION_REPORT_DUE_DAYS", 7))),
            timedelta(days=int(config.get("PARTICIPATION_REMINDER_INTERVAL_DAYS", 7))),
            int(config.get("PARTICIPATION_REMINDER_MAX", 3)))


def send_overdue_reminders(*, now: datetime | None = None) -> int:
    """E-mail the officers of every occurrence whose report is overdue: one reminder per occurrence and due key.

    The due key is the number of whole reminder intervals since the report fell due, so running the job again
    (the same day, or after a crash) sends nothing twice; after PARTICIPATION_REMINDER_MAX reminders it stops.
    Reports waiting for review are not overdue; returned ones are.
    """
    from app.core.mail import queue_mail

    now = now or utcnow()
    due_after, interval, most = _reminder_settings()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(_ended_clause(now - due_after), EventOccurrence.ends_at > now - due_after - interval * most)
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
        series = occurrence.series
        for officer in organization_services.officers(series.organization):
            queue_mail(to=officer.email, subject=_l("参加報告をお願いします"), template="participation/report_overdue",
                       language=officer.preferred_language, user=officer, series=series, occurrence=occurrence,
                       returned=report is not None, comment=report.review_comment if report else None,
                       url=f"{current_app.config['BASE_URL']}/participation/occurrences/{occurrence.id}/report")
        sent += 1
    return sent


# ---------------------------------------------------------------- indicators


# The mapping of events to the plan's indicators is the indicators domain's: staff-editable rules per indicator
# (app.indicators.sources). These two read it for the events staff page.


@dataclass(frozen=True)
class ParticipantSum:
    """A computed participant sum for one indicator and fiscal year, with its reporting completeness."""

    indicator_code: str
    fiscal_year: int
    participants: int
    ended_occurrences: int
    approved_reports: int

    @property
    def completeness(self) -> float | None:
        """Share of ended mapped occurrences with an approved report (None when none ended)."""
        return self.approved_reports / self.ended_occurrences if self.ended_occurrences else None


def _participant_indicators():
    from sqlalchemy.orm import selectinload

    from app.indicators.models import Indicator, SourceKind

    return db.session.scalars(sa.select(Indicator).where(Indicator.source_kind == SourceKind.PARTICIPANT_SUM)
                              .options(selectinload(Indicator.rules)).order_by(Indicator.code)).all()


def participant_sums(fiscal_year: int, *, now: datetime | None = None) -> dict[str, ParticipantSum]:
    """Per participant-sum indicator: approved participants of its mapped occurrences starting in FISCAL_YEAR.

    Computed by app.indicators.sources.compute_year (the indicators' mapping rules): an occurrence counts in
    the fiscal year it starts (Asia/Tokyo), only its latest revision counts, and only when approved.
    """
    from app.indicators.sources import compute_year

    indicators = _participant_indicators()
    values = compute_year(fiscal_year, indicators, now=now or utcnow())
    result = {}
    for indicator in indicators:
        value = values.get(indicator.id)
        result[indicator.code] = ParticipantSum(
            indicator.code, fiscal_year, int(value.value or 0) if value else 0,
            value.ended or 0 if value else 0, value.reported or 0 if value else 0)
    return result


def mapped_occurrences(fiscal_year: int, *, now: datetime | None = None, limit: int = 1000
                       ) -> list[tuple[EventOccurrence, ParticipationReport | None, list[str]]]:
    """Provenance of participant_sums: the ended mapped occurrences of FISCAL_YEAR, their latest report and the
    codes of the indicators they count in."""
    from app.indicators.sources import preview_rules, rule_matches_series, saved_rules

    indicators = _participant_indicators()
    rules = {indicator.code: saved_rules(indicator) for indicator in indicators}
    every = [rule for group in rules.values() for rule in group]
    if not indicators:
        return []
    _value, rows = preview_rules(indicators[0], every, fiscal_year, now=now, limit=limit)
    return [(occurrence, report, [code for code, group in rules.items()
                                  if any(rule_matches_series(rule, occurrence.series) for rule in group)])
            for occurrence, report in rows]


def organization_occurrences(organization_id: int, *, now: datetime | None = None, limit: int = 200
                             ) -> list[tuple[EventOccurrence, ParticipationReport | None]]:
    """A group's ended occurrences, newest first, with their latest report (the organizer's to-do list)."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(EventOccurrence, ParticipationReport)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id,
                                                ParticipationReport.is_latest.is_(True)))
        .where(EventSeries.organization_id == organization_id, _ended_clause(now))
        .order_by(EventOccurrence.starts_at.desc(), EventOccurrence.id.desc()).limit(limit)
    ).all()
    return [(occurrence, report) for occurrence, report in rows]
