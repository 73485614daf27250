"""lottery flow: priority tiers with their entry windows, winners' confirmation, leftovers opening (issue 7)

Revision ID: 0015_lottery_flow
Revises: 0014_utilization_rollup
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_lottery_flow"
down_revision = "0014_utilization_rollup"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lottery_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rank > 0", name=op.f("ck_lottery_tiers_rank_positive")),
        sa.CheckConstraint("opens_at < closes_at", name=op.f("ck_lottery_tiers_window_ordered")),
        sa.ForeignKeyConstraint(["period_id"], ["lottery_periods.id"],
                                name=op.f("fk_lottery_tiers_period_id_lottery_periods"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_tiers")),
        sa.UniqueConstraint("period_id", "rank", name=op.f("uq_lottery_tiers_period_id_rank")),
    )
    with op.batch_alter_table("lottery_tiers") as batch:
        batch.create_index(batch.f("ix_lottery_tiers_period_id"), ["period_id"], unique=False)

    with op.batch_alter_table("lottery_periods") as batch:
        batch.add_column(sa.Column("allow_individuals", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("confirm_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("leftovers_open_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("leftovers_opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_lottery_periods_created_by_id_users"), "users", ["created_by_id"],
                                 ["id"], ondelete="SET NULL")

    with op.batch_alter_table("lottery_entries") as batch:
        batch.add_column(sa.Column("booking_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("release_reason", sa.String(length=16), nullable=True))
        batch.create_foreign_key(batch.f("fk_lottery_entries_booking_id_bookings"), "bookings", ["booking_id"],
                                 ["id"], ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("lottery_entries") as batch:
        batch.drop_constraint(batch.f("fk_lottery_entries_booking_id_bookings"), type_="foreignkey")
        batch.drop_column("release_reason")
        batch.drop_column("released_at")
        batch.drop_column("confirmed_at")
        batch.drop_column("booking_id")

    with op.batch_alter_table("lottery_periods") as batch:
        batch.drop_constraint(batch.f("fk_lottery_periods_created_by_id_users"), type_="foreignkey")
        batch.drop_column("created_by_id")
        batch.drop_column("leftovers_opened_at")
        batch.drop_column("leftovers_open_at")
        batch.drop_column("confirm_until")
        batch.drop_column("allow_individuals")

    with op.batch_alter_table("lottery_tiers") as batch:
        batch.drop_index(batch.f("ix_lottery_tiers_period_id"))
    op.drop_table("lottery_tiers")
