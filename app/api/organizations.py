"""/api/v1/organizations: the public registry of groups (verified or expired), never their private contact."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api.errors import ErrorSchema
from app.api.schemas import BAD_BODY, NUL_422
from app.api.security import current_api_user, token_required
from app.core.districts import District
from app.core.errors import json_error
from app.core.permissions import Role, has_role
from app.core.time import today_tokyo
from app.core.transactions import request_transaction
from app.extensions import db
from app.organizations import services
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
    ja = fields.String(required=True, metadata={"description": "always set"})
    en = fields.String(required=True, allow_none=True)
    easy = fields.String(required=True, allow_none=True)


class DescriptionsSchema(Schema):
    """A description, in each language when written: Japanese may be missing too."""

    ja = fields.String(required=True, allow_none=True)
    en = fields.String(required=True, allow_none=True)
    easy = fields.String(required=True, allow_none=True)


class OrganizationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    district = fields.String()
    name = fields.Nested(NamesSchema)
    description = fields.Nested(DescriptionsSchema)
    status = fields.String(metadata={"description": "verified or expired"})
    verified_until = fields.Date(allow_none=True)
    public_email = fields.String(allow_none=True)
    public_phone = fields.String(allow_none=True)
    website_url = fields.String(allow_none=True)
    shop_count = fields.Integer(allow_none=True, metadata={"description": "商店会 only"})
    in_shotengai_federation = fields.Boolean(allow_none=True, metadata={"description": "商店会 only"})


class NamesInSchema(Schema):
    ja = fields.String(required=True, validate=validate.Length(min=1, max=200))
    en = fields.String(allow_none=True, validate=validate.Length(max=200))
    easy = fields.String(allow_none=True, validate=validate.Length(max=200))


class DescriptionsInSchema(Schema):
    ja = fields.String(allow_none=True, validate=validate.Length(max=5000))
    en = fields.String(allow_none=True, validate=validate.Length(max=5000))
    easy = fields.String(allow_none=True, validate=validate.Length(max=5000))


class OrganizationInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(
        [k.value for k in OrganizationKind], error=str(_l("種類を一覧から選んでください。"))))
    district = fields.String(required=True, validate=validate.OneOf(
        [d.value for d in District], error=str(_l("地区を一覧から選んでください。"))))
    name = fields.Nested(NamesInSchema, required=True)
    description = fields.Nested(DescriptionsInSchema, load_default=dict)
    public_email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=320))
    public_phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    website_url = fields.URL(allow_none=True, load_default=None, validate=validate.Length(max=500))
    contact_name = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    contact_email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=320))
    contact_phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    member_count = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0, max=1_000_000))
    shop_count = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0, max=1_000_000))
    in_shotengai_federation = fields.Boolean(allow_none=True, load_default=None)
    verified_until = fields.Date(allow_none=True, load_default=None,
                                 metadata={"description": "ward staff only: create the group already verified"})


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

    @token_required
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(OrganizationInSchema)
    @blp.response(201, OrganizationSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(422, schema=ErrorSchema, description=(
        "Invalid input (`validation_failed`, messages per field in `fields`); `invalid` with `field`: `name.ja` "
        f"blank, or `verified_until` in the past; or {NUL_422}"))
    def post(self, data):
        """Register a group: the caller becomes its officer and it waits for staff verification (ward staff may
        create it already verified with `verified_until`)"""
        user = current_api_user()
        if data["verified_until"] is not None and not has_role(user, Role.WARD_STAFF):
            return json_error(403, str(_l("団体を確認済みにできるのは区の職員だけです。")), "forbidden")
        names, descriptions = data["name"], data["description"] or {}
        if not (names.get("ja") or "").strip():
            return json_error(422, str(_l("入力してください。")), "invalid", field="name.ja")
        if data["verified_until"] is not None and data["verified_until"] < today_tokyo():
            return json_error(422, str(_l("登録期限は今日以降の日付にしてください。")), "invalid",
                              field="verified_until")
        values = {key: data[key] for key in ("public_email", "public_phone", "website_url", "contact_name",
                                              "contact_email", "contact_phone", "member_count", "shop_count",
                                              "in_shotengai_federation")}
        values.update(kind=OrganizationKind(data["kind"]), district=District(data["district"]),
                      name_ja=names["ja"].strip()[:200], name_en=names.get("en"), name_easy=names.get("easy"),
                      description_ja=descriptions.get("ja"), description_en=descriptions.get("en"),
                      description_easy=descriptions.get("easy"))
        with request_transaction():
            org = services.register_organization(officer=user, values=values, verified_until=data["verified_until"])
            result = _doc(org)
        return result


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
