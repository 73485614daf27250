"""participation: check-in codes, check-ins, walk-in counts, participation reports (revisions), report reminders

Revision ID: 0012_participation
Revises: 0011_lottery
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_participation"
down_revision = "0011_lottery"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('due_key', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_report_reminders_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_reminders')),
    sa.UniqueConstraint('occurrence_id', 'due_key', name='uq_report_reminders_occurrence_key')
    )
    op.create_table('participation_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('counting_method', sa.Enum('checkin', 'head_count', 'paper_tally', 'estimate', name='countingmethod', native_enum=False, length=32), nullable=False),
    sa.Column('age_children', sa.Integer(), nullable=True),
    sa.Column('age_youth', sa.Integer(), nullable=True),
    sa.Column('age_parents', sa.Integer(), nullable=True),
    sa.Column('age_working', sa.Integer(), nullable=True),
    sa.Column('age_seniors', sa.Integer(), nullable=True),
    sa.Column('residents', sa.Integer(), nullable=True),
    sa.Column('commuters', sa.Integer(), nullable=True),
    sa.Column('outside_ward', sa.Integer(), nullable=True),
    sa.Column('foreign_language', sa.Integer(), nullable=True),
    sa.Column('easy_japanese', sa.Integer(), nullable=True),
    sa.Column('first_time', sa.Integer(), nullable=True),
    sa.Column('volunteers', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('submitted', 'approved', 'returned', name='reportstatus', native_enum=False, length=32), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=True),
    sa.CheckConstraint('total >= 0', name=op.f('ck_participation_reports_total_not_negative')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_participation_reports_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_participation_reports_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_participation_reports_submitted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participation_reports')),
    sa.UniqueConstraint('occurrence_id', 'revision', name='uq_participation_reports_occurrence_revision')
    )
    with op.batch_alter_table('participation_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participation_reports_is_latest'), ['is_latest'], unique=False)
        batch_op.create_index(batch_op.f('ix_participation_reports_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participation_reports_status'), ['status'], unique=False)

    op.create_table('walkin_counts',
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('count >= 0', name=op.f('ck_walkin_counts_walkins_not_negative')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_walkin_counts_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_walkin_counts_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('occurrence_id', name=op.f('pk_walkin_counts'))
    )
    op.create_table('checkin_codes',
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_checkin_codes_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['event_registrations.id'], name=op.f('fk_checkin_codes_registration_id_event_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('registration_id', name=op.f('pk_checkin_codes')),
    sa.UniqueConstraint('occurrence_id', 'code', name='uq_checkin_codes_occurrence_code')
    )
    with op.batch_alter_table('checkin_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_codes_occurrence_id'), ['occurrence_id'], unique=False)

    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.Enum('code', 'qr', 'manual', name='checkinmethod', native_enum=False, length=32), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['users.id'], name=op.f('fk_checkins_checked_in_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['occurrence_id'], ['event_occurrences.id'], name=op.f('fk_checkins_occurrence_id_event_occurrences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['event_registrations.id'], name=op.f('fk_checkins_registration_id_event_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins')),
    sa.UniqueConstraint('registration_id', name='uq_checkins_registration')
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkins_occurrence_id'), ['occurrence_id'], unique=False)



def downgrade():
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkins_occurrence_id'))

    op.drop_table('checkins')
    with op.batch_alter_table('checkin_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_codes_occurrence_id'))

    op.drop_table('checkin_codes')
    op.drop_table('walkin_counts')
    with op.batch_alter_table('participation_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participation_reports_status'))
        batch_op.drop_index(batch_op.f('ix_participation_reports_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_participation_reports_is_latest'))

    op.drop_table('participation_reports')
    op.drop_table('report_reminders')
