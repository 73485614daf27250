"""weekly booking series, room photos, staff bookings for groups (issue 4)

Revision ID: 0018_booking_series
Revises: 0017_indicator_rules
"""

from alembic import op  # noqa: F401

revision = "0018_booking_series"
down_revision = "0017_indicator_rules"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
