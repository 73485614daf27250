"""accounts: API tokens get an optional expiry and a scope (read-only or full) (issue 20)

Revision ID: 0024_api_token_scope_expiry
Revises: 0023_checkin_codes_backfill
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_api_token_scope_expiry"
down_revision = "0023_checkin_codes_backfill"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        # Tokens issued before scopes existed could do everything: they stay "full".
        batch.add_column(sa.Column("scope", sa.String(length=8), nullable=False, server_default="full"))


def downgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
        batch.drop_column("expires_at")
