"""utilization rollup (issue 6)

Revision ID: 0014_utilization_rollup
Revises: 0013_event_venue_booking
"""

from alembic import op  # noqa: F401

revision = "0014_utilization_rollup"
down_revision = "0013_event_venue_booking"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
