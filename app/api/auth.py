"""/api/v1/auth/token: exchange e-mail and password for a bearer token (POST), revoke the token in use (DELETE)."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.accounts import services as account_services
from app.accounts.limits import account_slowdown
from app.accounts.models import TOKEN_SCOPE_FULL, TOKEN_SCOPES
from app.api.errors import ErrorSchema
from app.api.schemas import BAD_BODY
from app.api.security import current_api_token, current_api_user, token_required
from app.core.transactions import request_transaction
from app.extensions import db, limiter

blp = Blueprint("api_auth", __name__, description="Bearer tokens: issue and revoke")


def _login_failed(_response) -> bool:
    # Only wrong credentials count against the limits, as on the HTML login form.
    return bool(g.get("login_failed"))


class TokenRequestSchema(Schema):
    """E-mail, password and an optional name to tell the token apart on the profile page."""

    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    name = fields.String(
        load_default="API",
        validate=validate.Length(max=80, error=_l("名前は80文字以下にしてください。")),
        metadata={"description": "Shown on the profile page to tell tokens apart", "example": "集計スクリプト"},
    )
    scope = fields.String(
        load_default=TOKEN_SCOPE_FULL, validate=validate.OneOf(TOKEN_SCOPES),
        metadata={"description": "`read`: GET and HEAD only; `full`: everything the account may do"},
    )
    expires_in_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=account_services.MAX_TOKEN_DAYS),
        metadata={"description": "The token stops working after this many days; null or absent: until revoked"},
    )


class TokenSchema(Schema):
    """A newly issued token. `token` is shown only in this answer; only its hash is stored."""

    token = fields.String(metadata={"description": "The bearer secret: send it as `Authorization: Bearer …`"})
    id = fields.Integer()
    name = fields.String()
    created_at = fields.DateTime()
    scope = fields.String(metadata={"description": "`read` or `full`"})
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: until revoked"})


@blp.route("/token")
class TokenResource(MethodView):
    """The bearer token: issue one for e-mail and password, or revoke the one in use."""

    @limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], deduct_when=_login_failed)
    @account_slowdown  # one counter per account, shared with the HTML login form
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, data):
        """Issue a bearer token

        Wrong credentials answer 401 and unconfirmed accounts 403. Failed attempts are limited per address and
        slowed down per account, like the login form (429 with Retry-After when exceeded): past the account's
        limit, addresses that have not signed in to it before get one attempt per minute.
        """
        try:
            user = account_services.authenticate(email=data["email"], password=data["password"])
        except account_services.InvalidCredentials:
            g.login_failed = True
            db.session.commit()  # keep the audit row of the failure
            raise
        with request_transaction():
            token, secret = account_services.issue_api_token(user, name=data["name"], scope=data["scope"],
                                                             expires_in_days=data["expires_in_days"])
        return {"token": secret, "id": token.id, "name": token.name, "created_at": token.created_at,
                "scope": token.scope, "expires_at": token.expires_at}

    @token_required(read_scope_may_write=True)  # a read-only token may still revoke itself
    @blp.response(204)
    def delete(self):
        """Revoke the bearer token used for this request"""
        with request_transaction():
            account_services.revoke_api_token(current_api_user(), current_api_token().id)
        return None
