"""Tables of the alerts domain: slot watches, freed slots waiting to be announced, reminders already sent."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.extensions import db
from app.facilities.models import Facility, Room, TimeSlot, _enum


class FreedCause(enum.StrEnum):
    """Why a slot became free again."""

    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a 仮予約 not paid in time
    REJECTED = "rejected"
    LOTTERY = "lottery"  # a lottery win not confirmed in time, or a leftover slot opened first-come

    @property
    def label(self):
        return FREED_CAUSE_LABELS[self]


FREED_CAUSE_LABELS = {
    FreedCause.CANCELLED: _l("取消し"),
    FreedCause.EXPIRED: _l("仮予約の期限切れ"),
    FreedCause.REJECTED: _l("不承認"),
    FreedCause.LOTTERY: _l("抽選の後"),
}


class ReminderKind(enum.StrEnum):
    """Which reminder was sent."""

    EVENT_DAY_BEFORE = "event_day_before"
    BOOKING_BEFORE_USE = "booking_before_use"
    BOOKING_PAYMENT_DUE = "booking_payment_due"


class SlotWatch(db.Model):
    """A user's wish to hear when something frees up: a facility (any room) or one room, on a day, optionally
    in one 時間区分. SCOPE ('r12/s3', 'r12/*', '*/s3', '*/*') makes a duplicate subscription impossible."""

    __tablename__ = "slot_watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("time_slots.id", ondelete="CASCADE"), index=True)
    day: Mapped[date]
    scope: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_notified_at: Mapped[datetime | None]

    facility: Mapped[Facility] = relationship()
    room: Mapped[Room | None] = relationship()
    slot: Mapped[TimeSlot | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("user_id", "facility_id", "day", "scope"),
        sa.Index("ix_slot_watches_facility_id_day", "facility_id", "day"),
    )


class FreedSlot(db.Model):
    """A range of a room that became free again (public: no booking or person is named). NOTIFIED_AT is set by
    the job that e-mails the watchers, exactly once per row."""

    __tablename__ = "freed_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(index=True)
    start_minute: Mapped[int]
    end_minute: Mapped[int]
    label_ja: Mapped[str] = mapped_column(sa.String(60))
    cause: Mapped[FreedCause] = mapped_column(_enum(FreedCause))
    freed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    notified_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (
        sa.Index("ix_freed_slots_facility_id_day", "facility_id", "day"),
        sa.CheckConstraint("end_minute > start_minute", name="range_positive"),
    )


class SentReminder(db.Model):
    """A reminder already sent for a registration or a booking: the UNIQUE (kind, target) pair makes every
    reminder go out once, however many runners race. USED_AT is set when its one-click cancel link is used."""

    __tablename__ = "sent_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReminderKind] = mapped_column(_enum(ReminderKind))
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("event_registrations.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("kind", "registration_id"),
        sa.UniqueConstraint("kind", "booking_id"),
        sa.CheckConstraint("(registration_id IS NULL) <> (booking_id IS NULL)", name="one_target"),
    )
