"""JSON API v1: bearer-token auth, JSON errors, OpenAPI document at /api/v1/openapi.json, docs at /api/v1/docs.

Adding endpoints (events, facilities, bookings, indicators, ...):

1. Write `app/api/<topic>.py` with a flask-smorest `Blueprint("api_<topic>", __name__, description=...)`,
   marshmallow schemas for input and output, and MethodView resources (see app/api/me.py).
2. Protect operations with `@token_required` (app/api/security.py; `roles=(Role.WARD_STAFF,)` for staff),
   placed above `@blp.arguments`/`@blp.response`; read the caller with `current_api_user()`. Never use
   flask_login's current_user in the API: the session cookie does not authenticate API calls.
3. Keep views thin: call the same service as the HTML view, commit once. Rules raise DomainError subclasses
   (app/core/errors.py) whose `status_code`/`code`/message become `{"error": {"code", "message"}}`; invalid
   input is a 422 from `@blp.arguments` with per-field messages. Document every other answer on the operation:
   `@blp.alt_response(409, schema=ErrorSchema, description="`code`: when")`, a business rule's 422 with its codes,
   a JSON body's 400 (`description=BAD_BODY`); decimals with `app.api.schemas.decimal_string`.
   tests/api/test_schemathesis.py fails on an answer the document does not list or describe.
4. Register the blueprint: add it with its URL prefix under /api/v1 to `_blueprints()` below (init_api
   registers each one and exempts it from CSRF).
"""

from __future__ import annotations

from flask import Flask


def _blueprints():
    # late: app.extensions imports this package (app.api.errors holds the Api class), so the route modules, which
    # import the extensions, are imported when the app is built.
    from app.api import auth, events, facilities, indicators, me, organizations, utilization

    # (blueprint, URL prefix)
    return [
        (auth.blp, "/api/v1/auth"),
        (me.blp, "/api/v1"),
        (indicators.blp, "/api/v1"),
        (facilities.blp, "/api/v1"),
        (events.blp, "/api/v1"),
        (organizations.blp, "/api/v1"),
        (utilization.blp, "/api/v1"),
    ]


def init_api(app: Flask) -> None:
    """Register the API blueprints on the flask-smorest Api (CSRF-exempt: bearer tokens, no cookies)."""
    # late: the extensions module imports this package; these import the extensions (see _blueprints).
    from app.api import errors
    from app.api.security import SECURITY_SCHEME
    from app.extensions import api, csrf

    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token or the profile page: "
            "`Authorization: Bearer tsd_…`",
        },
    )
    for blueprint, url_prefix in _blueprints():
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix=url_prefix)
    errors.init_app(app)
    app.before_request(_refuse_nul_in_json)


# Deeper JSON than any schema of the API reads (theirs go 3 levels down). Python's parser gives up near the recursion
# limit with a RecursionError (a 500), and a body it just manages could fail again deeper in the view's stack.
MAX_JSON_DEPTH = 32


def _depth_and_nul(value) -> tuple[int, bool]:
    """How deeply VALUE nests, and whether one of its strings (keys included) holds a NUL; without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return deepest, True
        elif isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return deepest, False
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest, False


def _refuse_nul_in_json():
    """JSON bodies the API cannot store or read: a NUL character in a string (PostgreSQL refuses it in text
    columns, a 500; HTML forms drop it, app/core/forms.py; the API says so, as a 422), and nesting deeper than
    MAX_JSON_DEPTH (a 400, like malformed JSON)."""
    from flask import request
    from flask_babel import gettext as _

    from app.core.errors import json_error  # late: app.core.errors imports the extensions, which import this package

    if not (request.path.startswith("/api/") and request.is_json and request.method in ("POST", "PUT", "PATCH")):
        return None
    too_deep = _("JSONの入れ子が深すぎます(%(n)s段まで)。", n=MAX_JSON_DEPTH)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser's own limit: far deeper than MAX_JSON_DEPTH
        return json_error(400, too_deep, "bad_request")
    depth, nul = _depth_and_nul(body)
    if depth > MAX_JSON_DEPTH:
        return json_error(400, too_deep, "bad_request")
    if nul:
        return json_error(422, _("文字列に使えない文字(NUL)が含まれています。"), "invalid")
    return None


def init_docs(app: Flask) -> None:
    """The API's docs page (/api/v1/docs): Swagger UI from vendored assets, started by static/js/api-docs.js."""
    from flask import Blueprint, render_template

    bp = Blueprint("api_docs", __name__)

    @bp.get("/api/v1/docs")
    def docs():
        return render_template("api/docs.html")

    app.register_blueprint(bp)
