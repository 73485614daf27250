"""/api/v1/me: the account behind the bearer token."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api.security import current_api_user, token_required
from app.core.permissions import Role

blp = Blueprint("api_me", __name__, description="The signed-in account")


class MeSchema(Schema):
    """The signed-in user, without personal data beyond what the caller already knows."""

    id = fields.Integer()
    email = fields.Email()
    display_name = fields.String()
    role = fields.Enum(Role, by_value=True)
    preferred_language = fields.String(metadata={"description": "ja, en or ja-easy"})


@blp.route("/me")
class MeResource(MethodView):
    """The account of the token in use."""

    @token_required
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in user"""
        return current_api_user()
