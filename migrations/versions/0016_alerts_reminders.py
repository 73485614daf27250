"""freed-slot subscriptions, reminders, one-click cancel links (issue 7)

Revision ID: 0016_alerts_reminders
Revises: 0015_lottery_flow
"""

from alembic import op  # noqa: F401

revision = "0016_alerts_reminders"
down_revision = "0015_lottery_flow"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
