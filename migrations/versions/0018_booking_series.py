"""weekly booking series, equipment kinds and rooms, facility and room photos, an index for grids (issue 4)

Revision ID: 0018_booking_series
Revises: 0017_indicator_rules
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_booking_series"
down_revision = "0017_indicator_rules"
branch_labels = None
depends_on = None

USER_CATEGORIES = ("resident", "outside", "commercial")
EQUIPMENT_KINDS = ("projector", "screen", "microphone", "sound", "piano", "whiteboard", "monitor", "kitchen", "other")


def upgrade():
    op.create_table(
        "booking_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("interval_weeks", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.SmallInteger(), nullable=True),
        sa.Column("until_date", sa.Date(), nullable=True),
        sa.Column("unit_keys", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("category", sa.Enum(*USER_CATEGORIES, name="usercategory", native_enum=False, length=32),
                  nullable=False),
        sa.Column("skip_conflicts", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("interval_weeks >= 1 AND interval_weeks <= 4",
                           name=op.f("ck_booking_series_interval_range")),
        sa.CheckConstraint("count IS NOT NULL OR until_date IS NOT NULL", name=op.f("ck_booking_series_has_end")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_booking_series_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"],
                                name=op.f("fk_booking_series_facility_id_facilities"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_booking_series_organization_id_organizations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_booking_series_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_booking_series_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_series")),
    )
    with op.batch_alter_table("booking_series") as batch:
        batch.create_index(batch.f("ix_booking_series_facility_id"), ["facility_id"], unique=False)
        batch.create_index(batch.f("ix_booking_series_organization_id"), ["organization_id"], unique=False)
        batch.create_index(batch.f("ix_booking_series_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_bookings_series_id"), ["series_id"], unique=False)
        batch.create_index("ix_bookings_room_id_day", ["room_id", "day"], unique=False)
        batch.create_foreign_key(batch.f("fk_bookings_series_id_booking_series"), "booking_series", ["series_id"],
                                 ["id"], ondelete="SET NULL")

    with op.batch_alter_table("equipment") as batch:
        batch.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column(
            "kind", sa.Enum(*EQUIPMENT_KINDS, name="equipmentkind", native_enum=False, length=32),
            server_default="other", nullable=False))
        batch.create_index(batch.f("ix_equipment_room_id"), ["room_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_equipment_room_id_rooms"), "rooms", ["room_id"], ["id"],
                                 ondelete="CASCADE")

    op.create_table(
        "facility_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=80), nullable=False),
        sa.Column("alt_ja", sa.String(length=200), nullable=False),
        sa.Column("alt_en", sa.String(length=200), nullable=True),
        sa.Column("alt_easy", sa.String(length=200), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_facility_photos_created_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"],
                                name=op.f("fk_facility_photos_facility_id_facilities"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_facility_photos_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_photos")),
        sa.UniqueConstraint("file_name", name=op.f("uq_facility_photos_file_name")),
    )
    with op.batch_alter_table("facility_photos") as batch:
        batch.create_index(batch.f("ix_facility_photos_facility_id"), ["facility_id"], unique=False)
        batch.create_index(batch.f("ix_facility_photos_room_id"), ["room_id"], unique=False)


def downgrade():
    with op.batch_alter_table("facility_photos") as batch:
        batch.drop_index(batch.f("ix_facility_photos_room_id"))
        batch.drop_index(batch.f("ix_facility_photos_facility_id"))
    op.drop_table("facility_photos")
    with op.batch_alter_table("equipment") as batch:
        batch.drop_constraint(batch.f("fk_equipment_room_id_rooms"), type_="foreignkey")
        batch.drop_index(batch.f("ix_equipment_room_id"))
        batch.drop_column("kind")
        batch.drop_column("room_id")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_constraint(batch.f("fk_bookings_series_id_booking_series"), type_="foreignkey")
        batch.drop_index("ix_bookings_room_id_day")
        batch.drop_index(batch.f("ix_bookings_series_id"))
        batch.drop_column("series_id")
    with op.batch_alter_table("booking_series") as batch:
        batch.drop_index(batch.f("ix_booking_series_user_id"))
        batch.drop_index(batch.f("ix_booking_series_organization_id"))
        batch.drop_index(batch.f("ix_booking_series_facility_id"))
    op.drop_table("booking_series")
