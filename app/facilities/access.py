"""Guards of facility pages: an unknown or retired facility is a 404; a staff page of another facility a 403."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from app.extensions import db
from app.facilities.models import Facility
from app.facilities.queries import is_facility_staff


def active_facility_or_404(facility_id: int) -> Facility:
    """An active facility, else 404 (public pages)."""
    facility = db.session.get(Facility, facility_id)
    if facility is None or not facility.active:
        abort(404)
    return facility


def staff_facility(facility_id: int) -> Facility:
    """The facility for a member of its staff (or an admin) on a staff page: 404 when unknown, else 403."""
    facility = db.get_or_404(Facility, facility_id)
    if not is_facility_staff(current_user, facility.id):
        abort(403)
    return facility


# Registers the photo pages and the name's reading page on this blueprint.
