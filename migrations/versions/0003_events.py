"""events: series, occurrences, audiences, co-organizers, registrations

Revision ID: 0003_events
Revises: 0002_organizations
Create Date: 2026-11-28 18:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_events'
down_revision = '0002_organizations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('event_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('title_ja', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=True),
    sa.Column('title_easy', sa.String(length=200), nullable=True),
    sa.Column('summary_ja', sa.String(length=500), nullable=True),
    sa.Column('summary_en', sa.String(length=500), nullable=True),
    sa.Column('summary_easy', sa.String(length=500), nullable=True),
    sa.Column('description_ja', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('description_easy', sa.Text(), nullable=True),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('category', sa.Enum('community', 'safety', 'participation', 'know_the_area', 'international', 'japanese_learning', 'culture_arts', 'shopping_street', 'tourism', 'social_business', 'university', 'children', 'sports_health', 'other', name='eventcategory', native_enum=False, length=32), nullable=False),
    sa.Column('district', sa.Enum('shiba', 'azabu', 'akasaka', 'takanawa', 'shibaura_konan', 'ward_wide', name='district', native_enum=False, length=32), nullable=False),
    sa.Column('venue_name', sa.String(length=200), nullable=True),
    sa.Column('venue_address', sa.String(length=300), nullable=True),
    sa.Column('room_booking_id', sa.Integer(), nullable=True),
    sa.Column('online_url', sa.String(length=500), nullable=True),
    sa.Column('image_name', sa.String(length=80), nullable=True),
    sa.Column('fee_yen', sa.Integer(), nullable=False),
    sa.Column('fee_note', sa.String(length=200), nullable=True),
    sa.Column('registration_required', sa.Boolean(), nullable=False),
    sa.Column('registration_opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registration_deadline_days', sa.Integer(), nullable=True),
    sa.Column('wheelchair_accessible', sa.Boolean(), nullable=False),
    sa.Column('sign_language', sa.Boolean(), nullable=False),
    sa.Column('captions', sa.Boolean(), nullable=False),
    sa.Column('childcare', sa.Boolean(), nullable=False),
    sa.Column('no_smoking', sa.Boolean(), nullable=False),
    sa.Column('foreign_languages', sa.String(length=100), nullable=False),
    sa.Column('contact_name', sa.String(length=100), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('frequency', sa.Enum('once', 'weekly', 'biweekly', 'monthly_nth_weekday', 'dates', name='frequency', native_enum=False, length=32), nullable=False),
    sa.Column('recurrence', sa.JSON(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'published', 'cancelled', name='eventstatus', native_enum=False, length=32), nullable=False),
    sa.Column('review_comment', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_event_series_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_event_series_organization_id_organizations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_series'))
    )
    op.create_index(op.f('ix_event_series_category'), 'event_series', ['category'], unique=False)
    op.create_index(op.f('ix_event_series_district'), 'event_series', ['district'], unique=False)
    op.create_index(op.f('ix_event_series_organization_id'), 'event_series', ['organization_id'], unique=False)
    op.create_index(op.f('ix_event_series_status'), 'event_series', ['status'], unique=False)
    op.create_table('event_audiences',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('audience', sa.Enum('children', 'parents', 'youth', 'seniors', 'foreign_residents', 'first_timers', name='audience', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['event_series.id'], name=op.f('fk_event_audiences_series_id_event_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'audience', name=op.f('pk_event_audiences'))
    )
    op.create_table('event_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', name='occurrencestatus', native_enum=False, length=32), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_event_occurrences_ends_after_start')),
    sa.ForeignKeyConstraint(['series_id'], ['event_series.id'], name=op.f('fk_event_occurrences_series_id_event_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_occurrences'))
    )
    op.create_index(op.f('ix_event_occurrences_series_id'), 'event_occurrences', ['series_id'], unique=False)
    op.create_index(op.f('ix_event_occurrences_starts_at'), 'event_occurrences', ['starts_at'], unique=False)
    op.create_table('event_partners',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_event_partners_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['event_series.id'], name=op.f('fk_event_partners_series_id_event_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'organization_id', name=op.f('pk_event_partners'))
    )
    op.create_index(op.f('ix_event_partners_organization_id'), 'event_partners', ['organization_id'], unique=False)
    op.create_table('event_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('guest_email', sa.String(length=320), nullable=True),
    sa.Column('guest_name', sa.String(length=80), nullable=True),
    sa.Column('guest_language', sa.String(length=16), nullable=True),
    sa.Column('status', sa.Enum('confirmed', 'waitlisted', 'cancelled', name='registrationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_event_registrations_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_registrations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_registrations')),
    sa.CheckConstraint('(user_id IS NULL) <> (guest_email IS NULL)', name=op.f('ck_event_registrations_one_registrant')),
    sa.UniqueConstraint('occurrence_id', 'guest_email', name=op.f('uq_event_registrations_occurrence_id_guest_email')),
    sa.UniqueConstraint('occurrence_id', 'user_id', name=op.f('uq_event_registrations_occurrence_id_user_id'))
    )
    op.create_index(op.f('ix_event_registrations_occurrence_id'), 'event_registrations', ['occurrence_id'], unique=False)
    op.create_index(op.f('ix_event_registrations_status'), 'event_registrations', ['status'], unique=False)
    op.create_index(op.f('ix_event_registrations_user_id'), 'event_registrations', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_event_registrations_user_id'), table_name='event_registrations')
    op.drop_index(op.f('ix_event_registrations_status'), table_name='event_registrations')
    op.drop_index(op.f('ix_event_registrations_occurrence_id'), table_name='event_registrations')
    op.drop_table('event_registrations')
    op.drop_index(op.f('ix_event_partners_organization_id'), table_name='event_partners')
    op.drop_table('event_partners')
    op.drop_index(op.f('ix_event_occurrences_starts_at'), table_name='event_occurrences')
    op.drop_index(op.f('ix_event_occurrences_series_id'), table_name='event_occurrences')
    op.drop_table('event_occurrences')
    op.drop_table('event_audiences')
    op.drop_index(op.f('ix_event_series_status'), table_name='event_series')
    op.drop_index(op.f('ix_event_series_organization_id'), table_name='event_series')
    op.drop_index(op.f('ix_event_series_district'), table_name='event_series')
    op.drop_index(op.f('ix_event_series_category'), table_name='event_series')
    op.drop_table('event_series')
