"""booking path: indexes for the ban and monthly-limit checks (issue 4)

Revision ID: 0021_booking_path
Revises: 0020_rollup_stale

Partial indexes (app/bookings/models.py says why): the user's late-cancelled or no-show bookings, and bookings by
user or organization and day for the monthly limit.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_booking_path"
down_revision = "0020_rollup_stale"
branch_labels = None
depends_on = None

# Frozen copies of app.bookings.models.PENALISED_WHERE: a migration must not change when the models do.
PENALISED_WHERE = {
    "sqlite": "late_cancellation IS 1 OR no_show_at IS NOT NULL",
    "postgresql": "late_cancellation IS true OR no_show_at IS NOT NULL",
}


def upgrade():
    op.create_index("ix_bookings_penalised_user_id", "bookings", ["user_id"],
                    sqlite_where=sa.text(PENALISED_WHERE["sqlite"]),
                    postgresql_where=sa.text(PENALISED_WHERE["postgresql"]))
    op.create_index("ix_bookings_user_id_day", "bookings", ["user_id", "day"],
                    sqlite_where=sa.text("user_id IS NOT NULL"), postgresql_where=sa.text("user_id IS NOT NULL"))
    op.create_index("ix_bookings_organization_id_day", "bookings", ["organization_id", "day"],
                    sqlite_where=sa.text("organization_id IS NOT NULL"),
                    postgresql_where=sa.text("organization_id IS NOT NULL"))


def downgrade():
    op.drop_index("ix_bookings_organization_id_day", table_name="bookings")
    op.drop_index("ix_bookings_user_id_day", table_name="bookings")
    op.drop_index("ix_bookings_penalised_user_id", table_name="bookings")
