"""Factories for organizations and memberships."""

from __future__ import annotations

from datetime import date, timedelta

from app.core.districts import District
from app.extensions import db
from app.organizations.models import Membership, MembershipRole, Organization, OrganizationKind, VerificationStatus
from tests.factories import app_context, detach


def make_organization(
    *,
    name: str = "芝地区町会",
    kind: OrganizationKind = OrganizationKind.NEIGHBORHOOD_ASSOCIATION,
    district: District = District.SHIBA,
    verified: bool = True,
    officer_id: int | None = None,
    editor_id: int | None = None,
    **values,
) -> Organization:
    """A committed, detached organization; verified for a year unless VERIFIED is false."""
    with app_context():
        organization = Organization(
            kind=kind, district=district, name_ja=name,
            status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
            verified_until=date.today() + timedelta(days=365) if verified else None, **values,
        )
        db.session.add(organization)
        db.session.flush()
        if officer_id:
            db.session.add(Membership(organization_id=organization.id, user_id=officer_id,
                                      role=MembershipRole.OFFICER))
        if editor_id:
            db.session.add(Membership(organization_id=organization.id, user_id=editor_id,
                                      role=MembershipRole.EDITOR))
        db.session.commit()
        return detach(organization)
