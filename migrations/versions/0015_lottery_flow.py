"""lottery flow: entry windows per tier, winners' confirmation (issue 7)

Revision ID: 0015_lottery_flow
Revises: 0014_utilization_rollup
"""

from alembic import op  # noqa: F401

revision = "0015_lottery_flow"
down_revision = "0014_utilization_rollup"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
