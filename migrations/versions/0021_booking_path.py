"""booking path: indexes for the ban and monthly-limit checks (issue 4)

Revision ID: 0021_booking_path
Revises: 0020_rollup_stale
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0021_booking_path"
down_revision = "0020_rollup_stale"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
