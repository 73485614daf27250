"""utilization rollup (issue 6): unit and booking rollups per room x month x weekday, their coverage, and an
index on bookings (facility_id, day)

Revision ID: 0014_utilization_rollup
Revises: 0013_event_venue_booking

The tables start empty (no coverage: every figure is computed live); `flask utilization rebuild` fills them,
and the daily job `utilization.extend-rollup` builds them if nobody did.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_utilization_rollup"
down_revision = "0013_event_venue_booking"
branch_labels = None
depends_on = None


def _keys():
    return [
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
    ]


def _refs(name):
    return [
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=f"fk_{name}_facility_id_facilities",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=f"fk_{name}_room_id_rooms", ondelete="CASCADE"),
    ]


def upgrade():
    # The rollup recomputes one facility's month of bookings at each commit that changes one.
    op.create_index("ix_bookings_facility_id_day", "bookings", ["facility_id", "day"])
    name = "utilization_unit_rollups"
    op.create_table(
        name,
        *_keys(),
        sa.Column("slot_code", sa.String(length=32), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("bookable", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        *_refs(name),
        sa.PrimaryKeyConstraint("room_id", "month", "weekday", "slot_code", name=f"pk_{name}"),
    )
    op.create_index("ix_utilization_unit_rollups_facility_month", name, ["facility_id", "month"])
    name = "utilization_booking_rollups"
    op.create_table(
        name,
        *_keys(),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        *[sa.Column(column, sa.Integer(), nullable=False) for column in (
            "bookings", "cancelled", "cancelled_late", "requested", "no_show", "checked_in", "resident_group",
            "resident_individual", "outside", "commercial")],
        *[sa.Column(column, sa.BigInteger(), nullable=False) for column in ("fee_gross", "fee_reduction", "fee_net")],
        *_refs(name),
        sa.PrimaryKeyConstraint("room_id", "month", "weekday", name=f"pk_{name}"),
    )
    op.create_index("ix_utilization_booking_rollups_facility_month", name, ["facility_id", "month"])
    op.create_table(
        "utilization_rollup_coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_utilization_rollup_coverage"),
    )


def downgrade():
    op.drop_table("utilization_rollup_coverage")
    op.drop_index("ix_utilization_booking_rollups_facility_month", table_name="utilization_booking_rollups")
    op.drop_table("utilization_booking_rollups")
    op.drop_index("ix_utilization_unit_rollups_facility_month", table_name="utilization_unit_rollups")
    op.drop_table("utilization_unit_rollups")
    op.drop_index("ix_bookings_facility_id_day", table_name="bookings")
