"""Bookings, their booked time ranges, and the claimed cells that make double booking impossible."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.extensions import db
from app.facilities.models import Room, UserCategory, _enum


class BookingState(enum.StrEnum):
    """Life of a booking. requested/tentative/confirmed hold their cells; the others have released them."""

    REQUESTED = "requested"  # waits for staff approval
    TENTATIVE = "tentative"  # 仮予約: held until hold_until, then confirmed or expired
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def label(self):
        return BOOKING_STATE_LABELS[self]

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


ACTIVE_STATES = frozenset({BookingState.REQUESTED, BookingState.TENTATIVE, BookingState.CONFIRMED})
PENDING_STATES = frozenset({BookingState.REQUESTED, BookingState.TENTATIVE})

BOOKING_STATE_LABELS = {
    BookingState.REQUESTED: _l("承認待ち"),
    BookingState.TENTATIVE: _l("仮予約"),
    BookingState.CONFIRMED: _l("予約確定"),
    BookingState.CANCELLED: _l("取消済み"),
    BookingState.EXPIRED: _l("期限切れ"),
    BookingState.REJECTED: _l("不承認"),
}


# A late cancellation or a no-show (which may bar the booker), as each dialect renders
# sa.or_(Booking.late_cancellation.is_(True), Booking.no_show_at.is_not(None)).
PENALISED_WHERE = {
    "sqlite": "late_cancellation IS 1 OR no_show_at IS NOT NULL",
    "postgresql": "late_cancellation IS true OR no_show_at IS NOT NULL",
}


class Booking(db.Model):
    """One request by a user (optionally for an organization) for one room on one day, one or more ranges."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(index=True)
    state: Mapped[BookingState] = mapped_column(_enum(BookingState), index=True)
    category: Mapped[UserCategory] = mapped_column(_enum(UserCategory))
    purpose: Mapped[str] = mapped_column(sa.String(200))
    attendees: Mapped[int]
    fee_gross_yen: Mapped[int] = mapped_column(default=0)
    fee_reduction_yen: Mapped[int] = mapped_column(default=0)
    fee_net_yen: Mapped[int] = mapped_column(default=0)
    reduction_percent: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hold_until: Mapped[datetime | None]  # 仮予約 deadline
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    paid_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]  # marked by staff at the desk
    no_show_at: Mapped[datetime | None]  # marked by staff: nobody came
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("booking_series.id", ondelete="SET NULL"),
                                                  index=True)  # one occurrence of a weekly series

    room: Mapped[Room] = relationship()
    items: Mapped[list[BookingItem]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingItem.start_minute"
    )
    equipment: Mapped[list[BookingEquipment]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("attendees > 0", name="attendees_positive"),
        sa.CheckConstraint("fee_net_yen = fee_gross_yen - fee_reduction_yen", name="fee_sum"),
        # Grids and the day search read a room's bookings over a range of days.
        sa.Index("ix_bookings_room_id_day", "room_id", "day"),
        # The utilization rollup recomputes a facility's month at each booking commit (migration 0014).
        sa.Index("ix_bookings_facility_id_day", "facility_id", "day"),
        # Each booking checks the booker's ban (services.ban_until) and monthly limit (migration 0021). All three are
        # partial: SQLite's statistics count NULLs as one value, so with many bookings of no user or organization
        # its planner took the day index instead of the plain user_id / organization_id index. A partial index is
        # used only when the query repeats its WHERE (a comparison implies IS NOT NULL), hence PENALISED_WHERE.
        sa.Index("ix_bookings_penalised_user_id", "user_id", sqlite_where=sa.text(PENALISED_WHERE["sqlite"]),
                 postgresql_where=sa.text(PENALISED_WHERE["postgresql"])),
        sa.Index("ix_bookings_user_id_day", "user_id", "day", sqlite_where=sa.text("user_id IS NOT NULL"),
                 postgresql_where=sa.text("user_id IS NOT NULL")),
        sa.Index("ix_bookings_organization_id_day", "organization_id", "day",
                 sqlite_where=sa.text("organization_id IS NOT NULL"),
                 postgresql_where=sa.text("organization_id IS NOT NULL")),
    )


class BookingSeries(db.Model):
    """A weekly (or every-N-weeks) series: the same room and 時間区分 on the same weekday, one booking per date.

    Each occurrence is an ordinary Booking (its own claims, fee, state and cancellation); the series keeps what
    was asked for, so "cancel the rest" and the series page can find its occurrences.
    """

    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"))
    first_day: Mapped[date]
    interval_weeks: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    count: Mapped[int | None] = mapped_column(sa.SmallInteger)  # N occurrences asked for, or
    until_date: Mapped[date | None]  # the last day a date may fall on
    unit_keys: Mapped[list] = mapped_column(sa.JSON)
    purpose: Mapped[str] = mapped_column(sa.String(200))
    attendees: Mapped[int]
    category: Mapped[UserCategory] = mapped_column(_enum(UserCategory))
    skip_conflicts: Mapped[bool] = mapped_column(default=False)  # the user chose "book the free dates only"
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship()
    bookings: Mapped[list[Booking]] = relationship(order_by="Booking.day", viewonly=True)

    __table_args__ = (
        sa.CheckConstraint("interval_weeks >= 1 AND interval_weeks <= 4", name="interval_range"),
        sa.CheckConstraint("count IS NOT NULL OR until_date IS NOT NULL", name="has_end"),
    )


class BookingItem(db.Model):
    """A booked range of one booking: a 時間区分 (or an hour of an hourly room), with its fee."""

    __tablename__ = "booking_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    slot_code: Mapped[str] = mapped_column(sa.String(32))
    label_ja: Mapped[str] = mapped_column(sa.String(60))  # the slot's name when booked
    start_minute: Mapped[int]  # minutes after midnight, Tokyo wall-clock
    end_minute: Mapped[int]
    fee_yen: Mapped[int] = mapped_column(default=0)

    booking: Mapped[Booking] = relationship(back_populates="items")


class BookingEquipment(db.Model):
    """付帯設備 booked with a booking, with the fee charged for it (part of the booking's gross fee)."""

    __tablename__ = "booking_equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    equipment_id: Mapped[int] = mapped_column(sa.ForeignKey("equipment.id", ondelete="CASCADE"))
    name_ja: Mapped[str] = mapped_column(sa.String(100))  # the name when booked
    fee_yen: Mapped[int] = mapped_column(default=0)


class BookingClaim(db.Model):
    """A claimed cell: (leaf room, day, 30-minute cell). The UNIQUE constraint is the arbiter of double booking.

    Booking a room claims every cell of its ranges on every LEAF room below it (a whole hall claims both
    halves; a half claims itself), so parent/child and hourly overlaps all become unique violations, on
    SQLite and PostgreSQL alike. Claims are deleted when a booking is cancelled, expires or is rejected.
    (On PostgreSQL alone one could instead put an exclusion constraint with btree_gist on
    (room_id WITH =, tsrange WITH &&); cells keep one mechanism for both databases.)
    """

    __tablename__ = "booking_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"))
    day: Mapped[date]
    cell: Mapped[int] = mapped_column(sa.SmallInteger)  # start minute // CELL_MINUTES

    __table_args__ = (sa.UniqueConstraint("room_id", "day", "cell", name="uq_booking_claims_cell"),)
