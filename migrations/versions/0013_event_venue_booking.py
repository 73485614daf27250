"""event venue booking: foreign key from event_series.room_booking_id to bookings.id (ON DELETE SET NULL)

Revision ID: 0013_event_venue_booking
Revises: 0012_participation
"""

from alembic import op

revision = "0013_event_venue_booking"
down_revision = "0012_participation"
branch_labels = None
depends_on = None

FK_NAME = "fk_event_series_room_booking_id_bookings"


def upgrade():
    # batch mode so SQLite (which cannot ALTER a constraint) recreates the table; PostgreSQL alters in place.
    with op.batch_alter_table("event_series") as batch:
        batch.create_index("ix_event_series_room_booking_id", ["room_booking_id"])
        batch.create_foreign_key(FK_NAME, "bookings", ["room_booking_id"], ["id"], ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("event_series") as batch:
        batch.drop_constraint(FK_NAME, type_="foreignkey")
        batch.drop_index("ix_event_series_room_booking_id")
