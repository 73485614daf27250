"""checkin codes: every confirmed registration has one (they were made on first view of the ticket, a GET that wrote)

Revision ID: 0023_checkin_codes_backfill
Revises: 0022_facility_kana
"""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0023_checkin_codes_backfill"
down_revision = "0022_facility_kana"
branch_labels = None
depends_on = None

# As app/events/tickets.py: letters and digits that cannot be mistaken for one another, six of them.
CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"
CODE_LENGTH = 6

registrations = sa.table("event_registrations", sa.column("id", sa.Integer), sa.column("occurrence_id", sa.Integer),
                         sa.column("status", sa.String))
codes = sa.table("checkin_codes", sa.column("registration_id", sa.Integer), sa.column("occurrence_id", sa.Integer),
                 sa.column("code", sa.String), sa.column("created_at", sa.DateTime(timezone=True)))


def upgrade():
    bind = op.get_bind()
    missing = bind.execute(
        sa.select(registrations.c.id, registrations.c.occurrence_id)
        .where(registrations.c.status == "confirmed",
               ~sa.exists().where(codes.c.registration_id == registrations.c.id))
        .order_by(registrations.c.id)).all()
    taken: dict[int, set[str]] = {}
    for occurrence_id, code in bind.execute(sa.select(codes.c.occurrence_id, codes.c.code)):
        taken.setdefault(occurrence_id, set()).add(code)
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":  # naive UTC text there, as app.core.db.UTCDateTime stores it
        now = now.replace(tzinfo=None)
    for registration_id, occurrence_id in missing:
        used = taken.setdefault(occurrence_id, set())
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        while code in used:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        used.add(code)
        bind.execute(sa.insert(codes).values(registration_id=registration_id, occurrence_id=occurrence_id, code=code,
                                             created_at=now))


def downgrade():
    pass  # the codes stay: they are valid codes, and a ticket may have been printed with one
