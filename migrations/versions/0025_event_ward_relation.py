"""events: ward staff mark an event 区と連携・協働 or 区が支援; P09-05-1 counts the marked events (issue 17)

Revision ID: 0025_event_ward_relation
Revises: 0024_api_token_scope_expiry
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0025_event_ward_relation"
down_revision = "0024_api_token_scope_expiry"
branch_labels = None
depends_on = None

# 地域と連携・協働、支援しているイベントの参加者数: its starting rule counted every 地域活動・交流 event; while staff
# have not saved its rules themselves, it now counts the events ward staff marked (app.indicators.services).
CODE = "P09-05-1"
OLD_RULES = (("category", "community"),)
NEW_RULES = (("ward_relation", "collaboration"), ("ward_relation", "support"))


def _swap_rules(old, new):
    bind = op.get_bind()
    indicator_id = bind.execute(sa.text(
        "SELECT id FROM indicators WHERE code = :code AND rules_edited_at IS NULL"), {"code": CODE}).scalar()
    if indicator_id is None:
        return
    for match, value in old:
        bind.execute(sa.text("DELETE FROM indicator_rules WHERE indicator_id = :i AND match = :m AND value = :v"),
                     {"i": indicator_id, "m": match, "v": value})
    for match, value in new:
        bind.execute(sa.text("INSERT INTO indicator_rules (indicator_id, match, value, created_at) "
                             "VALUES (:i, :m, :v, :at)"),
                     {"i": indicator_id, "m": match, "v": value, "at": datetime.now(UTC)})


def upgrade():
    with op.batch_alter_table("event_series") as batch:
        batch.add_column(sa.Column(
            "ward_relation", sa.Enum("collaboration", "support", name="wardrelation", native_enum=False, length=32),
            nullable=True))
        batch.create_index(batch.f("ix_event_series_ward_relation"), ["ward_relation"], unique=False)
    _swap_rules(OLD_RULES, NEW_RULES)


def downgrade():
    _swap_rules(NEW_RULES, OLD_RULES)
    with op.batch_alter_table("event_series") as batch:
        batch.drop_index(batch.f("ix_event_series_ward_relation"))
        batch.drop_column("ward_relation")
