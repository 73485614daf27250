"""Imports every domain's models so that SQLAlchemy and Alembic see all tables."""

from app.accounts.models import ApiToken, User, UserSession  # noqa: F401
from app.alerts.models import FreedSlot, SentReminder, SlotWatch  # noqa: F401
from app.bookings.models import Booking, BookingClaim, BookingEquipment, BookingItem  # noqa: F401
from app.core.audit import AuditEvent  # noqa: F401
from app.core.jobs import JobRun  # noqa: F401
from app.core.mail import OutboxMessage  # noqa: F401
from app.events.models import (  # noqa: F401
    CheckinCode,
    EventAudience,
    EventOccurrence,
    EventPartner,
    EventSeries,
    Registration,
)
from app.indicators.models import Indicator, ManualValue, PlanValue  # noqa: F401
from app.lottery.models import LotteryDraw, LotteryEntry, LotteryPeriod, LotteryPreference  # noqa: F401
from app.organizations.models import Invitation, Membership, NpoGrantUse, Organization  # noqa: F401
from app.utilization.models import (  # noqa: F401
    UtilizationBookingRollup,
    UtilizationRollupCoverage,
    UtilizationRollupStale,
    UtilizationUnitRollup,
)
