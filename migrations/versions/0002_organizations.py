"""organizations, memberships, invitations, NPO grant use per fiscal year

Revision ID: 0002_organizations
Revises: 0001_foundation
Create Date: 2026-11-28 17:56:30.354578

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_organizations'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('neighborhood_association', 'npo', 'volunteer_group', 'shopping_street', 'university', 'company', 'international', 'culture_arts', 'ward_section', 'other', name='organizationkind', native_enum=False, length=32), nullable=False),
    sa.Column('district', sa.Enum('shiba', 'azabu', 'akasaka', 'takanawa', 'shibaura_konan', 'ward_wide', name='district', native_enum=False, length=32), nullable=False),
    sa.Column('name_ja', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('name_easy', sa.String(length=200), nullable=True),
    sa.Column('description_ja', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('description_easy', sa.Text(), nullable=True),
    sa.Column('public_email', sa.String(length=320), nullable=True),
    sa.Column('public_phone', sa.String(length=40), nullable=True),
    sa.Column('website_url', sa.String(length=500), nullable=True),
    sa.Column('contact_name', sa.String(length=100), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('member_count', sa.Integer(), nullable=True),
    sa.Column('shop_count', sa.Integer(), nullable=True),
    sa.Column('in_shotengai_federation', sa.Boolean(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'verified', 'expired', 'rejected', name='verificationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('verified_until', sa.Date(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_organizations_verified_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations'))
    )
    op.create_index(op.f('ix_organizations_district'), 'organizations', ['district'], unique=False)
    op.create_index(op.f('ix_organizations_kind'), 'organizations', ['kind'], unique=False)
    op.create_index(op.f('ix_organizations_status'), 'organizations', ['status'], unique=False)
    op.create_table('organization_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.Enum('officer', 'editor', 'member', name='membershiprole', native_enum=False, length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_organization_invitations_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_invitations_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_organization_invitations_token_hash'))
    )
    op.create_index(op.f('ix_organization_invitations_organization_id'), 'organization_invitations', ['organization_id'], unique=False)
    op.create_table('organization_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('officer', 'editor', 'member', name='membershiprole', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_memberships_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_organization_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_memberships')),
    sa.UniqueConstraint('organization_id', 'user_id', name=op.f('uq_organization_memberships_organization_id_user_id'))
    )
    op.create_index(op.f('ix_organization_memberships_organization_id'), 'organization_memberships', ['organization_id'], unique=False)
    op.create_index(op.f('ix_organization_memberships_user_id'), 'organization_memberships', ['user_id'], unique=False)
    op.create_table('organization_npo_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('uses_grant', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_npo_grants_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_npo_grants')),
    sa.UniqueConstraint('organization_id', 'fiscal_year', name=op.f('uq_organization_npo_grants_organization_id_fiscal_year'))
    )
    op.create_index(op.f('ix_organization_npo_grants_organization_id'), 'organization_npo_grants', ['organization_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_organization_npo_grants_organization_id'), table_name='organization_npo_grants')
    op.drop_table('organization_npo_grants')
    op.drop_index(op.f('ix_organization_memberships_user_id'), table_name='organization_memberships')
    op.drop_index(op.f('ix_organization_memberships_organization_id'), table_name='organization_memberships')
    op.drop_table('organization_memberships')
    op.drop_index(op.f('ix_organization_invitations_organization_id'), table_name='organization_invitations')
    op.drop_table('organization_invitations')
    op.drop_index(op.f('ix_organizations_status'), table_name='organizations')
    op.drop_index(op.f('ix_organizations_kind'), table_name='organizations')
    op.drop_index(op.f('ix_organizations_district'), table_name='organizations')
    op.drop_table('organizations')
