"""Pages without a domain: health check, language switch (the home page is app.portal's)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, request
from flask_login import current_user

from app.core.forms import ActionForm
from app.core.i18n import LANGUAGE_COOKIE, normalize_language
from app.core.security import safe_next
from app.core.transactions import request_transaction
from app.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and database reachability, for load balancers and the benchmark baseline."""
    db.session.execute(sa.text("SELECT 1"))
    return jsonify(status="ok")


@bp.post("/language")
def switch_language():
    """Remember the chosen language in a cookie and, when signed in, on the profile."""
    form = ActionForm()
    code = normalize_language(request.form.get("lang"))
    target = safe_next(request.form.get("next"))
    if not form.validate_on_submit() or code is None:
        return redirect(target, 303)
    if current_user.is_authenticated and current_user.preferred_language != code:
        with request_transaction():
            current_user.preferred_language = code
    response = redirect(target, 303)
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=60 * 60 * 24 * 365, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
