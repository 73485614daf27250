"""organization logos and event feed details (issue 3)

Revision ID: 0019_events_more
Revises: 0018_booking_series
"""

from alembic import op  # noqa: F401

revision = "0019_events_more"
down_revision = "0018_booking_series"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
