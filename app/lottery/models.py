"""Lottery (抽選) records for a LotteryPeriod: the draw (seed commitment, seed, frozen inputs, result), the
entries and their ranked preferences. The draw itself is the pure function in app/lottery/draw.py."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.extensions import db


class LotteryPeriod(db.Model):
    """Days of a facility (or one room) allotted by lottery (抽選): the grid shows 抽, first-come booking waits."""

    __tablename__ = "lottery_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"))
    start_date: Mapped[date]
    end_date: Mapped[date]  # exclusive
    draw_date: Mapped[date | None]
    # The flow (issue 7). Unset on periods made before it: they block first-come booking until removed.
    allow_individuals: Mapped[bool] = mapped_column(default=False)  # people may apply, not only groups
    confirm_until: Mapped[datetime | None]  # winners confirm before this instant, or the award is released
    leftovers_open_at: Mapped[datetime | None]  # from then: no more 抽, released and leftover slots first-come
    leftovers_opened_at: Mapped[datetime | None]  # set by the job that opened them (once)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (sa.CheckConstraint("start_date < end_date", name="ordered"),)


class LotteryDraw(db.Model):
    """The draw of one lottery period: committed (seed hash published), then drawn (seed revealed).

    The inputs the draw used are frozen here (the free slots as slot tokens, which of them exclude each other
    (a hall and its halves), and the limits) so that the draw can be re-run later, after bookings or rooms
    have changed.
    """

    __tablename__ = "lottery_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(
        sa.ForeignKey("lottery_periods.id", ondelete="CASCADE"), unique=True
    )
    seed_commitment: Mapped[str] = mapped_column(sa.String(64))  # SHA-256(seed), published before the draw
    seed: Mapped[str] = mapped_column(sa.String(64))  # secret until drawn_at; shown with the results
    entries_per_group: Mapped[int]
    max_preferences: Mapped[int]
    committed_at: Mapped[datetime] = mapped_column(default=utcnow)
    committed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    drawn_at: Mapped[datetime | None]
    available_slots: Mapped[list | None] = mapped_column(sa.JSON)  # slot tokens free at the draw
    overlapping_slots: Mapped[list | None] = mapped_column(sa.JSON)  # [token, token] pairs that exclude each other
    result_digest: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.CheckConstraint("entries_per_group > 0", name="entries_per_group_positive"),
        sa.CheckConstraint("max_preferences > 0", name="max_preferences_positive"),
    )

    @property
    def is_drawn(self) -> bool:
        return self.drawn_at is not None


INDIVIDUAL = "individual"  # the applicant kind of a person applying for themselves
ANY_OTHER = "other_applicants"  # a tier's kind that takes every applicant no other tier names


class LotteryTier(db.Model):
    """A priority tier of a period: which applicant kinds it holds, and when they may apply (their window).

    Rank 1 draws first. KINDS are OrganizationKind values, INDIVIDUAL, or ANY_OTHER; an applicant belongs to the
    first tier naming their kind, else to the tier with ANY_OTHER, else may not apply.
    """

    __tablename__ = "lottery_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("lottery_periods.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    kinds: Mapped[list] = mapped_column(sa.JSON)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]  # exclusive: entries can be made and changed until then

    __table_args__ = (
        sa.UniqueConstraint("period_id", "rank"),
        sa.CheckConstraint("rank > 0", name="rank_positive"),
        sa.CheckConstraint("opens_at < closes_at", name="window_ordered"),
    )

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


class LotteryEntry(db.Model):
    """One application to a lottery period by a group (or an individual), with its priority tier."""

    __tablename__ = "lottery_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("lottery_periods.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Who the per-group limit counts against: "org:<id>" or "user:<id>" (kept if the user or group is erased,
    # so a past draw still re-runs with the same inputs).
    group_key: Mapped[str] = mapped_column(sa.String(40))
    tier: Mapped[int]  # 1 draws first
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    won_rank: Mapped[int | None]  # set by the draw: which preference (1 = first) this entry won
    # After the draw: the winner confirms (a real booking is made) or the award is released.
    booking_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bookings.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(sa.String(16))  # "declined" or "expired"

    preferences: Mapped[list[LotteryPreference]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="LotteryPreference.rank"
    )

    __table_args__ = (sa.CheckConstraint("tier > 0", name="tier_positive"),)


class LotteryPreference(db.Model):
    """A ranked wish of an entry: room x day x 時間区分 (rank 1 is the first choice)."""

    __tablename__ = "lottery_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("lottery_entries.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"))
    day: Mapped[date]
    slot_code: Mapped[str] = mapped_column(sa.String(32))

    entry: Mapped[LotteryEntry] = relationship(back_populates="preferences")

    __table_args__ = (
        sa.UniqueConstraint("entry_id", "rank"),
        sa.UniqueConstraint("entry_id", "room_id", "day", "slot_code"),
        sa.CheckConstraint("rank > 0", name="rank_positive"),
    )
