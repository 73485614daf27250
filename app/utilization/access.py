"""Who reads which facilities' utilization: ward staff every facility, facility staff their own."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.permissions import Role, has_role
from app.extensions import db
from app.facilities.models import FacilityStaff


def visible_facility_ids(user) -> list[int] | None:
    """None (= all) for ward staff and admins; the assigned facilities for facility staff; [] for anyone else."""
    if has_role(user, Role.WARD_STAFF):
        return None
    if has_role(user, Role.FACILITY_STAFF):
        return list(db.session.scalars(sa.select(FacilityStaff.facility_id).where(FacilityStaff.user_id == user.id)))
    return []


def can_see(user, facility_id: int) -> bool:
    """True when USER may read FACILITY_ID's figures."""
    ids = visible_facility_ids(user)
    return ids is None or facility_id in ids
