"""/api/v1/organizations: the public registry of groups (verified or expired), never their private contact."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.core.districts import District
from app.extensions import db
from app.organizations.models import Organization, OrganizationKind, VerificationStatus

blp = Blueprint(
    "api_organizations", __name__,
    description="Registered groups (団体) with their public profile; pending or rejected ones are not listed.",
)

PUBLIC = (VerificationStatus.VERIFIED, VerificationStatus.EXPIRED)


class OrganizationQuerySchema(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(
        [k.value for k in OrganizationKind], error=str(_l("種類を一覧から選んでください。"))))
    district = fields.String(load_default=None, validate=validate.OneOf(
        [d.value for d in District], error=str(_l("地区を一覧から選んでください。"))))


class NamesSchema(Schema):
    ja = fields.String()
    en = fields.String(allow_none=True)
    easy = fields.String(allow_none=True)


class OrganizationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    district = fields.String()
    name = fields.Nested(NamesSchema)
    description = fields.Nested(NamesSchema)
    status = fields.String(metadata={"description": "verified or expired"})
    verified_until = fields.Date(allow_none=True)
    public_email = fields.String(allow_none=True)
    public_phone = fields.String(allow_none=True)
    website_url = fields.String(allow_none=True)
    shop_count = fields.Integer(allow_none=True, metadata={"description": "商店会 only"})
    in_shotengai_federation = fields.Boolean(allow_none=True, metadata={"description": "商店会 only"})


def _doc(org: Organization) -> dict:
    return {
        "id": org.id, "kind": org.kind.value, "district": org.district.value,
        "name": {"ja": org.name_ja, "en": org.name_en, "easy": org.name_easy},
        "description": {"ja": org.description_ja, "en": org.description_en, "easy": org.description_easy},
        "status": org.status.value, "verified_until": org.verified_until, "public_email": org.public_email,
        "public_phone": org.public_phone, "website_url": org.website_url, "shop_count": org.shop_count,
        "in_shotengai_federation": org.in_shotengai_federation,
    }


@blp.route("/organizations")
class OrganizationList(MethodView):
    @blp.arguments(OrganizationQuerySchema, location="query")
    @blp.response(200, OrganizationSchema(many=True))
    def get(self, args):
        """Registered groups by Japanese name"""
        query = sa.select(Organization).where(Organization.status.in_(PUBLIC)).order_by(Organization.name_ja)
        if args["kind"]:
            query = query.where(Organization.kind == OrganizationKind(args["kind"]))
        if args["district"]:
            query = query.where(Organization.district == District(args["district"]))
        return [_doc(org) for org in db.session.scalars(query.limit(1000))]


@blp.route("/organizations/<int:org_id>")
class OrganizationDetail(MethodView):
    @blp.response(200, OrganizationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, org_id):
        """One registered group"""
        org = db.session.get(Organization, org_id)
        if org is None or org.status not in PUBLIC:
            abort(404)
        return _doc(org)
