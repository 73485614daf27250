"""lottery: draws (seed commitment, seed, frozen inputs, result digest), entries and ranked preferences

Revision ID: 0011_lottery
Revises: 0010_job_runs
Depends on: 0004_facilities_bookings (lottery_periods, rooms)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_lottery"
down_revision = "0010_job_runs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lottery_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("seed_commitment", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("entries_per_group", sa.Integer(), nullable=False),
        sa.Column("max_preferences", sa.Integer(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_by_id", sa.Integer(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_slots", sa.JSON(), nullable=True),
        sa.Column("overlapping_slots", sa.JSON(), nullable=True),
        sa.Column("result_digest", sa.String(length=64), nullable=True),
        sa.CheckConstraint("entries_per_group > 0", name=op.f("ck_lottery_draws_entries_per_group_positive")),
        sa.CheckConstraint("max_preferences > 0", name=op.f("ck_lottery_draws_max_preferences_positive")),
        sa.ForeignKeyConstraint(["committed_by_id"], ["users.id"],
                                name=op.f("fk_lottery_draws_committed_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["period_id"], ["lottery_periods.id"],
                                name=op.f("fk_lottery_draws_period_id_lottery_periods"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_draws")),
        sa.UniqueConstraint("period_id", name=op.f("uq_lottery_draws_period_id")),
    )
    op.create_table(
        "lottery_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("group_key", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("won_rank", sa.Integer(), nullable=True),
        sa.CheckConstraint("tier > 0", name=op.f("ck_lottery_entries_tier_positive")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_lottery_entries_organization_id_organizations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["period_id"], ["lottery_periods.id"],
                                name=op.f("fk_lottery_entries_period_id_lottery_periods"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_lottery_entries_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_entries")),
    )
    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lottery_entries_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lottery_entries_period_id"), ["period_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lottery_entries_user_id"), ["user_id"], unique=False)
    op.create_table(
        "lottery_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot_code", sa.String(length=32), nullable=False),
        sa.CheckConstraint("rank > 0", name=op.f("ck_lottery_preferences_rank_positive")),
        sa.ForeignKeyConstraint(["entry_id"], ["lottery_entries.id"],
                                name=op.f("fk_lottery_preferences_entry_id_lottery_entries"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"],
                                name=op.f("fk_lottery_preferences_room_id_rooms"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_preferences")),
        sa.UniqueConstraint("entry_id", "rank", name=op.f("uq_lottery_preferences_entry_id_rank")),
        sa.UniqueConstraint("entry_id", "room_id", "day", "slot_code",
                            name=op.f("uq_lottery_preferences_entry_id_room_id_day_slot_code")),
    )
    with op.batch_alter_table("lottery_preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lottery_preferences_entry_id"), ["entry_id"], unique=False)


def downgrade():
    with op.batch_alter_table("lottery_preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lottery_preferences_entry_id"))
    op.drop_table("lottery_preferences")
    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lottery_entries_user_id"))
        batch_op.drop_index(batch_op.f("ix_lottery_entries_period_id"))
        batch_op.drop_index(batch_op.f("ix_lottery_entries_organization_id"))
    op.drop_table("lottery_entries")
    op.drop_table("lottery_draws")
