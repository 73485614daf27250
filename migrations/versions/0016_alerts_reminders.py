"""freed-slot alerts and reminders: slot_watches, freed_slots, sent_reminders (issue 7)

Revision ID: 0016_alerts_reminders
Revises: 0015_lottery_flow
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_alerts_reminders"
down_revision = "0015_lottery_flow"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "slot_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=op.f("fk_slot_watches_facility_id_facilities"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_slot_watches_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["slot_id"], ["time_slots.id"], name=op.f("fk_slot_watches_slot_id_time_slots"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_slot_watches_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_watches")),
        sa.UniqueConstraint("user_id", "facility_id", "day", "scope",
                            name=op.f("uq_slot_watches_user_id_facility_id_day_scope")),
    )
    with op.batch_alter_table("slot_watches") as batch:
        batch.create_index("ix_slot_watches_facility_id_day", ["facility_id", "day"])
        batch.create_index(batch.f("ix_slot_watches_room_id"), ["room_id"])
        batch.create_index(batch.f("ix_slot_watches_slot_id"), ["slot_id"])
        batch.create_index(batch.f("ix_slot_watches_user_id"), ["user_id"])

    op.create_table(
        "freed_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("label_ja", sa.String(length=60), nullable=False),
        sa.Column("cause", sa.Enum("cancelled", "expired", "rejected", "lottery", name="freedcause",
                                   native_enum=False, length=32), nullable=False),
        sa.Column("freed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("end_minute > start_minute", name=op.f("ck_freed_slots_range_positive")),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=op.f("fk_freed_slots_facility_id_facilities"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_freed_slots_room_id_rooms"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freed_slots")),
    )
    with op.batch_alter_table("freed_slots") as batch:
        batch.create_index("ix_freed_slots_facility_id_day", ["facility_id", "day"])
        batch.create_index(batch.f("ix_freed_slots_day"), ["day"])
        batch.create_index(batch.f("ix_freed_slots_freed_at"), ["freed_at"])
        batch.create_index(batch.f("ix_freed_slots_notified_at"), ["notified_at"])
        batch.create_index(batch.f("ix_freed_slots_room_id"), ["room_id"])

    op.create_table(
        "sent_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("event_day_before", "booking_before_use", "booking_payment_due",
                                  name="reminderkind", native_enum=False, length=32), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(registration_id IS NULL) <> (booking_id IS NULL)",
                           name=op.f("ck_sent_reminders_one_target")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_sent_reminders_booking_id_bookings"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["registration_id"], ["event_registrations.id"],
                                name=op.f("fk_sent_reminders_registration_id_event_registrations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_reminders")),
        sa.UniqueConstraint("kind", "booking_id", name=op.f("uq_sent_reminders_kind_booking_id")),
        sa.UniqueConstraint("kind", "registration_id", name=op.f("uq_sent_reminders_kind_registration_id")),
    )
    with op.batch_alter_table("sent_reminders") as batch:
        batch.create_index(batch.f("ix_sent_reminders_booking_id"), ["booking_id"])
        batch.create_index(batch.f("ix_sent_reminders_registration_id"), ["registration_id"])


def downgrade():
    op.drop_table("sent_reminders")
    op.drop_table("freed_slots")
    op.drop_table("slot_watches")
