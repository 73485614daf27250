"""indicators: the plan's outcome indicators (成果指標), their printed values and staff-entered values

Revision ID: 0005_indicators
Revises: 0004_facilities_bookings
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_indicators"
down_revision = "0004_facilities_bookings"
branch_labels = None
depends_on = None

# Exact decimals: NUMERIC on PostgreSQL, text on SQLite (no exact type there; the model converts).
DECIMAL = sa.Numeric(18, 4).with_variant(sa.String(40), "sqlite")


def upgrade():
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("policy", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=True),
        sa.Column("measure_title", sa.String(length=200), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("footnote_marker", sa.String(length=8), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column(
            "direction",
            sa.Enum("higher", "lower", "unknown", name="direction", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("direction_basis", sa.Text(), nullable=True),
        sa.Column(
            "source_kind",
            sa.Enum(
                "booking_utilization", "booking_count", "participant_sum", "partner_organizations",
                "registry_count", "manual", name="sourcekind", native_enum=False, length=32,
            ),
            nullable=False,
        ),
        sa.Column("midterm_status", sa.String(length=16), nullable=True),
        sa.Column("footnotes", sa.Text(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
        sa.UniqueConstraint("code", name=op.f("uq_indicators_code")),
    )
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicators_policy"), ["policy"], unique=False)

    op.create_table(
        "indicator_plan_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "baseline", "midterm_target", "midterm_actual", "interim_target", "final_target",
                name="planvaluekind", native_enum=False, length=32,
            ),
            nullable=False,
        ),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("year_label", sa.String(length=32), nullable=False),
        sa.Column("value", DECIMAL, nullable=True),
        sa.Column("printed", sa.String(length=64), nullable=True),
        sa.Column("is_estimate", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"],
            name=op.f("fk_indicator_plan_values_indicator_id_indicators"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_plan_values")),
        sa.UniqueConstraint("indicator_id", "kind", name=op.f("uq_indicator_plan_values_indicator_id_kind")),
    )
    with op.batch_alter_table("indicator_plan_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_plan_values_indicator_id"), ["indicator_id"], unique=False)

    op.create_table(
        "indicator_manual_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("value", DECIMAL, nullable=False),
        sa.Column("source_document", sa.String(length=300), nullable=False),
        sa.Column("source_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["users.id"],
            name=op.f("fk_indicator_manual_values_entered_by_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"],
            name=op.f("fk_indicator_manual_values_indicator_id_indicators"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_manual_values")),
        sa.UniqueConstraint(
            "indicator_id", "fiscal_year", name=op.f("uq_indicator_manual_values_indicator_id_fiscal_year")
        ),
    )
    with op.batch_alter_table("indicator_manual_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_manual_values_indicator_id"), ["indicator_id"], unique=False)


def downgrade():
    with op.batch_alter_table("indicator_manual_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_manual_values_indicator_id"))
    op.drop_table("indicator_manual_values")
    with op.batch_alter_table("indicator_plan_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_plan_values_indicator_id"))
    op.drop_table("indicator_plan_values")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicators_policy"))
    op.drop_table("indicators")
