"""staff-editable indicator mapping rules, frozen fiscal years (issue 5)

Revision ID: 0017_indicator_rules
Revises: 0016_alerts_reminders
"""

from alembic import op  # noqa: F401

revision = "0017_indicator_rules"
down_revision = "0016_alerts_reminders"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
