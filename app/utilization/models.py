"""The utilization rollup: per leaf room x month x weekday x 時間区分 unit counts, per booked room x month x weekday
booking figures, and the months they cover. Maintained by app.utilization.rollup; read by app.utilization.compute.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class UtilizationUnitRollup(db.Model):
    """Bookable, booked and used units of one leaf room in one month on one weekday in one 時間区分."""

    __tablename__ = "utilization_unit_rollups"

    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)  # year * 100 + month
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)  # 0 = Monday
    slot_code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    fiscal_year: Mapped[int]
    bookable: Mapped[int]
    booked: Mapped[int]
    used: Mapped[int]

    __table_args__ = (sa.Index("ix_utilization_unit_rollups_facility_month", "facility_id", "month"),)


class UtilizationBookingRollup(db.Model):
    """Counts, cancellations, user mix and fees of the bookings of one room in one month on one weekday."""

    __tablename__ = "utilization_booking_rollups"

    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    fiscal_year: Mapped[int]
    bookings: Mapped[int]
    cancelled: Mapped[int]
    cancelled_late: Mapped[int]
    requested: Mapped[int]
    no_show: Mapped[int]
    checked_in: Mapped[int]
    resident_group: Mapped[int]
    resident_individual: Mapped[int]
    outside: Mapped[int]
    commercial: Mapped[int]
    fee_gross: Mapped[int] = mapped_column(sa.BigInteger)
    fee_reduction: Mapped[int] = mapped_column(sa.BigInteger)
    fee_net: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.Index("ix_utilization_booking_rollups_facility_month", "facility_id", "month"),)


class UtilizationRollupCoverage(db.Model):
    """The whole months [first_day, end_day) the rollup holds (one row, id 1; none = not built: read live)."""

    __tablename__ = "utilization_rollup_coverage"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[date]
    end_day: Mapped[date]
    rebuilt_at: Mapped[datetime]


class UtilizationRollupStale(db.Model):
    """A booked room x month x weekday whose rollup rows a request's booking changed and left for later.

    A request that books or cancels marks the key here in its own transaction (one upsert) instead of recomputing
    the rollup before its commit; app.utilization.rollup.settle_stale recomputes the key and deletes the row right
    after the response is sent (and the job `utilization.settle-stale` catches what that missed). Until then
    readers compute the key's month live (app.utilization.compute), so the figures are never stale."""

    __tablename__ = "utilization_rollup_stale"

    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)  # year * 100 + month
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    # Bumped by every transaction that marks the key again: the upsert then takes the row's lock, so a settler
    # deleting the row waits for that transaction's commit and recomputes with its booking (PostgreSQL).
    touches: Mapped[int] = mapped_column(default=1)
