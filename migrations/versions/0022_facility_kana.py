"""facilities: name reading in katakana (名称_カナ) for the 公共施設一覧 open data (issue 4)

Revision ID: 0022_facility_kana
Revises: 0021_booking_path
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0022_facility_kana"
down_revision = "0021_booking_path"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
