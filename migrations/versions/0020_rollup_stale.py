"""utilization rollup: stale room x month x weekday keys left by requests, settled after the response (issue 4)

Revision ID: 0020_rollup_stale
Revises: 0019_events_more

A booking made by a request marks its room x month x weekday here instead of recomputing the rollup before its
commit; app.utilization.rollup.settle_stale recomputes and deletes the keys after the response is sent.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_rollup_stale"
down_revision = "0019_events_more"
branch_labels = None
depends_on = None

NAME = "utilization_rollup_stale"


def upgrade():
    op.create_table(
        NAME,
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=f"fk_{NAME}_facility_id_facilities",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=f"fk_{NAME}_room_id_rooms", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("room_id", "month", "weekday", name=f"pk_{NAME}"),
    )
    op.create_index(f"ix_{NAME}_facility_id", NAME, ["facility_id"])


def downgrade():
    op.drop_index(f"ix_{NAME}_facility_id", table_name=NAME)
    op.drop_table(NAME)
