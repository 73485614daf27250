"""staff-editable indicator mapping rules, frozen fiscal years and their snapshots (issue 5)

Revision ID: 0017_indicator_rules
Revises: 0016_alerts_reminders
"""

import sqlalchemy as sa
from alembic import op


revision = "0017_indicator_rules"
down_revision = "0016_alerts_reminders"
branch_labels = None
depends_on = None

# As in 0005: exact NUMERIC on PostgreSQL, text on SQLite (app.indicators.models.DecimalValue).
DECIMAL = sa.Numeric(18, 4).with_variant(sa.String(40), "sqlite")


def upgrade():
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_edited_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('indicator_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('match', sa.Enum('category', 'organization_kind', 'series', name='matchkind', native_enum=False, length=32), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_indicator_rules_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_indicator_rules_indicator_id_indicators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_rules')),
    sa.UniqueConstraint('indicator_id', 'match', 'value', name='uq_indicator_rules_indicator_match_value')
    )
    with op.batch_alter_table('indicator_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_rules_indicator_id'), ['indicator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_indicator_rules_value'), ['value'], unique=False)
    op.create_table('indicator_frozen_years',
    sa.Column('fiscal_year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('frozen_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['frozen_by_id'], ['users.id'], name=op.f('fk_indicator_frozen_years_frozen_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('fiscal_year', name=op.f('pk_indicator_frozen_years'))
    )
    op.create_table('indicator_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('value', DECIMAL, nullable=True),
    sa.Column('ended', sa.Integer(), nullable=True),
    sa.Column('reported', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['fiscal_year'], ['indicator_frozen_years.fiscal_year'], name=op.f('fk_indicator_snapshots_fiscal_year_indicator_frozen_years'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_indicator_snapshots_indicator_id_indicators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_snapshots')),
    sa.UniqueConstraint('indicator_id', 'fiscal_year', name=op.f('uq_indicator_snapshots_indicator_id_fiscal_year'))
    )
    with op.batch_alter_table('indicator_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_snapshots_fiscal_year'), ['fiscal_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_indicator_snapshots_indicator_id'), ['indicator_id'], unique=False)


def downgrade():
    with op.batch_alter_table('indicator_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_snapshots_indicator_id'))
        batch_op.drop_index(batch_op.f('ix_indicator_snapshots_fiscal_year'))
    op.drop_table('indicator_snapshots')
    op.drop_table('indicator_frozen_years')
    with op.batch_alter_table('indicator_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_rules_value'))
        batch_op.drop_index(batch_op.f('ix_indicator_rules_indicator_id'))
    op.drop_table('indicator_rules')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_column('rules_edited_at')
