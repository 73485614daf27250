"""POST /api/v1/auth/token: exchange e-mail and password for a bearer token."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("api_auth", __name__, url_prefix="/auth", description="Authentication")


class TokenRequestSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True)
    name = fields.String(load_default="API")


@blp.route("/token")
class TokenResource(MethodView):
    @blp.arguments(TokenRequestSchema)
    def post(self, data):
        """Issue a bearer token (placeholder until the API helper completes it)."""
        return {"error": {"code": "not_implemented", "message": "not implemented"}}, 501
