"""Imports every domain's models so that SQLAlchemy and Alembic see all tables."""

from app.accounts.models import ApiToken, User, UserSession  # noqa: F401
from app.core.audit import AuditEvent  # noqa: F401
from app.core.mail import OutboxMessage  # noqa: F401
from app.indicators.models import Indicator, ManualValue, PlanValue  # noqa: F401
from app.organizations.models import Organization  # noqa: F401
