"""utilization rollup: stale room x month x weekday keys left by requests, settled after the response (issue 4)

Revision ID: 0020_rollup_stale
Revises: 0019_events_more
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0020_rollup_stale"
down_revision = "0019_events_more"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
