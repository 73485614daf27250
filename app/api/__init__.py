"""JSON API v1: bearer-token auth, JSON errors, OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask


def init_api(app: Flask) -> None:
    """Register the API blueprints on the flask-smorest Api (CSRF-exempt: bearer tokens, no cookies)."""
    from app.api import auth
    from app.extensions import api, csrf

    for blueprint in (auth.blp,):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")


def init_docs(app: Flask) -> None:
    """The API's docs page (/api/v1/docs) with vendored assets."""
    from flask import Blueprint, render_template

    bp = Blueprint("api_docs", __name__)

    @bp.get("/api/v1/docs")
    def docs():
        return render_template("api/docs.html")

    app.register_blueprint(bp)
