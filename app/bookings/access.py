"""Who may see and cancel a booking or a series: the person who booked, any officer of the group it was made for
(a group's bookings belong to the group, not to the one officer who clicked), and staff of its facility.

Editors and members of the group are not included: booking rooms (and cancelling them, which may bar the group's
contact) is an officer's task, as booking for a group is (services._organization_for).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.facilities import queries as facility_queries
from app.organizations.models import Membership, MembershipRole


def officer_groups(user_id: int) -> sa.Select:
    """The ids of the groups USER_ID is an officer of (a subquery for IN)."""
    return sa.select(Membership.organization_id).where(Membership.user_id == user_id,
                                                       Membership.role == MembershipRole.OFFICER)


def visible(model, user_id: int):
    """A WHERE clause for MODEL (Booking or BookingSeries): booked by USER_ID or for a group they are an officer of."""
    return sa.or_(model.user_id == user_id, model.organization_id.in_(officer_groups(user_id)))


def is_group_officer(user, organization_id: int | None) -> bool:
    """True when USER is an officer of the group ORGANIZATION_ID (False for a personal booking)."""
    if organization_id is None:
        return False
    return db.session.scalar(sa.select(Membership.id).where(
        Membership.organization_id == organization_id, Membership.user_id == user.id,
        Membership.role == MembershipRole.OFFICER)) is not None


def is_booking_side(user, record) -> bool:
    """True when USER booked RECORD (a Booking or BookingSeries) or is an officer of the group it is for: the side
    whose late cancellation counts (staff cancelling for them never bars anyone)."""
    return record.user_id == user.id or is_group_officer(user, record.organization_id)


def can_manage(user, record) -> bool:
    """True when USER may see and cancel RECORD: its side (see is_booking_side) or staff of its facility."""
    return is_booking_side(user, record) or facility_queries.is_facility_staff(user, record.facility_id)
