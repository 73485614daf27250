"""job runs: one claimed run per (job name, due key), so several `flask jobs run-due` never repeat work

Revision ID: 0010_job_runs
Revises: 0005_indicators
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_job_runs"
down_revision = "0005_indicators"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=100), nullable=False),
        sa.Column("due_key", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "succeeded", "failed", name="jobrunstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job_name", "due_key", name="uq_job_runs_job_name_due_key"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_runs_started_at"), ["started_at"], unique=False)


def downgrade():
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_started_at"))
    op.drop_table("job_runs")
