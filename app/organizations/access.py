"""Guards for pages that act for a group: 404 for an unknown group, 403 for one the signed-in user may not act
for. (Rules themselves are in services; these turn them into HTTP answers.)"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from app.core.converters import ID_MAX
from app.extensions import db
from app.organizations import services as organization_services
from app.organizations.models import Organization


def editable_organization(org_id: int | None) -> Organization:
    """The organization ORG_ID when the signed-in user may write its events; 404 if unknown, 403 otherwise."""
    organization = db.session.get(Organization, org_id) if org_id and 0 < org_id <= ID_MAX else None
    if organization is None:
        abort(404)
    if not organization_services.can_edit_events(current_user, organization):
        abort(403)
    return organization
