"""Check-in codes, check-ins, walk-in counts, participation reports (with revisions) and report reminders."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.extensions import db


def _enum(cls):
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class CheckinMethod(enum.StrEnum):
    """How a person was checked in."""

    CODE = "code"  # typed short code
    QR = "qr"  # camera scan of the QR code
    MANUAL = "manual"  # picked from the list of registrants

    @property
    def label(self):
        return CHECKIN_METHOD_LABELS[self]


CHECKIN_METHOD_LABELS = {
    CheckinMethod.CODE: _l("受付番号"),
    CheckinMethod.QR: _l("QRコード"),
    CheckinMethod.MANUAL: _l("名簿から"),
}


class CountingMethod(enum.StrEnum):
    """How a report's total was counted."""

    CHECKIN = "checkin"
    HEAD_COUNT = "head_count"
    PAPER_TALLY = "paper_tally"
    ESTIMATE = "estimate"

    @property
    def label(self):
        return COUNTING_METHOD_LABELS[self]


COUNTING_METHOD_LABELS = {
    CountingMethod.CHECKIN: _l("受付(チェックイン)の記録"),
    CountingMethod.HEAD_COUNT: _l("当日に人数を数えた"),
    CountingMethod.PAPER_TALLY: _l("紙の名簿・集計表"),
    CountingMethod.ESTIMATE: _l("概算(推計)"),
}


class ReportStatus(enum.StrEnum):
    """Review state of one report revision; only the latest revision of an occurrence matters."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"

    @property
    def label(self):
        return REPORT_STATUS_LABELS[self]


REPORT_STATUS_LABELS = {
    ReportStatus.SUBMITTED: _l("承認待ち"),
    ReportStatus.APPROVED: _l("承認済み"),
    ReportStatus.RETURNED: _l("差し戻し"),
}

# Breakdown columns of a report, in form order, grouped: the members of a group together may not exceed the total.
AGE_FIELDS = ("age_children", "age_youth", "age_parents", "age_working", "age_seniors")
RESIDENCE_FIELDS = ("residents", "commuters", "outside_ward")
OTHER_FIELDS = ("foreign_language", "easy_japanese", "first_time", "volunteers")
BREAKDOWN_FIELDS = AGE_FIELDS + RESIDENCE_FIELDS + OTHER_FIELDS


class Checkin(db.Model):
    """A registrant's arrival: one row per registration (the unique constraint makes a repeat harmless)."""

    __tablename__ = "checkins"
    __table_args__ = (sa.UniqueConstraint("registration_id", name="uq_checkins_registration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("event_registrations.id", ondelete="CASCADE"))
    method: Mapped[CheckinMethod] = mapped_column(_enum(CheckinMethod))
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_in_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    registration = relationship("Registration")


class WalkinCount(db.Model):
    """People who came without registering, counted at the door (+1 / -1, never below zero)."""

    __tablename__ = "walkin_counts"
    __table_args__ = (sa.CheckConstraint("count >= 0", name="walkins_not_negative"),)

    occurrence_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class ParticipationReport(db.Model):
    """One revision of an occurrence's participation report; an amendment adds a revision, the latest counts."""

    __tablename__ = "participation_reports"
    __table_args__ = (
        sa.UniqueConstraint("occurrence_id", "revision", name="uq_participation_reports_occurrence_revision"),
        sa.CheckConstraint("total >= 0", name="total_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    is_latest: Mapped[bool] = mapped_column(default=True, index=True)
    total: Mapped[int]
    counting_method: Mapped[CountingMethod] = mapped_column(_enum(CountingMethod))
    age_children: Mapped[int | None]  # 子ども
    age_youth: Mapped[int | None]  # 若者
    age_parents: Mapped[int | None]  # 子育て世代
    age_working: Mapped[int | None]  # 現役世代
    age_seniors: Mapped[int | None]  # 高齢者
    residents: Mapped[int | None]  # 区民
    commuters: Mapped[int | None]  # 在勤・在学
    outside_ward: Mapped[int | None]  # 区外
    foreign_language: Mapped[int | None]  # 外国語で参加した人
    easy_japanese: Mapped[int | None]  # やさしい日本語で参加した人
    first_time: Mapped[int | None]
    volunteers: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), index=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    review_comment: Mapped[str | None] = mapped_column(sa.Text)

    occurrence = relationship("EventOccurrence")
    submitted_by = relationship("User", foreign_keys=[submitted_by_id])


class ReportReminder(db.Model):
    """An overdue-report reminder already sent: one per occurrence and due key, so the job can run again safely."""

    __tablename__ = "report_reminders"
    __table_args__ = (sa.UniqueConstraint("occurrence_id", "due_key", name="uq_report_reminders_occurrence_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"))
    due_key: Mapped[str] = mapped_column(sa.String(40))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
