"""facilities: name reading in katakana (名称_カナ) for the 公共施設一覧 open data (issue 4)

Revision ID: 0022_facility_kana
Revises: 0021_booking_path
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_facility_kana"
down_revision = "0021_booking_path"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("name_kana", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("name_kana")
