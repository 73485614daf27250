"""organization logos, per-occurrence venue bookings, occurrences indexed by updated_at, event title readings (issue 3)

Revision ID: 0019_events_more
Revises: 0018_booking_series
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0019_events_more"
down_revision = "0018_booking_series"
branch_labels = None
depends_on = None

FK_NAME = "fk_event_occurrences_room_booking_id_bookings"


def upgrade():
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("logo_name", sa.String(80), nullable=True))
    # batch mode so SQLite (which cannot add a constraint in place) recreates the table; PostgreSQL alters in place.
    with op.batch_alter_table("event_occurrences") as batch:
        batch.add_column(sa.Column("room_booking_id", sa.Integer(), nullable=True))
        batch.create_index("ix_event_occurrences_room_booking_id", ["room_booking_id"])
        batch.create_foreign_key(FK_NAME, "bookings", ["room_booking_id"], ["id"], ondelete="SET NULL")
    # The ICS feed cache's change signature reads max(updated_at) of occurrences: an index makes it one lookup.
    op.create_index("ix_event_occurrences_updated_at", "event_occurrences", ["updated_at"])
    with op.batch_alter_table("event_series") as batch:
        batch.add_column(sa.Column("title_kana", sa.String(200), nullable=True))
    _normalize_search_text()


def _normalize_search_text():
    """Keyword search now compares NFKC + case-folded text (app.events.models.search_key): bring the stored
    search texts (lower-cased until now) into that form. Casefold of a lower-cased text equals that of the text."""
    series = sa.table("event_series", sa.column("id", sa.Integer), sa.column("search_text", sa.Text))
    bind = op.get_bind()
    for series_id, text in bind.execute(sa.select(series.c.id, series.c.search_text)).all():
        key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text or "").casefold())
        if key != text:
            bind.execute(series.update().where(series.c.id == series_id).values(search_text=key))


def downgrade():
    with op.batch_alter_table("event_series") as batch:
        batch.drop_column("title_kana")
    op.drop_index("ix_event_occurrences_updated_at", table_name="event_occurrences")
    with op.batch_alter_table("event_occurrences") as batch:
        batch.drop_constraint(FK_NAME, type_="foreignkey")
        batch.drop_index("ix_event_occurrences_room_booking_id")
        batch.drop_column("room_booking_id")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("logo_name")
