"""Open data downloads: /opendata/events.csv (public, no sign-in, no personal data)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from app.opendata import events_csv

bp = Blueprint("opendata", __name__, url_prefix="/opendata")


@bp.get("/events.csv")
def events():
    """Every public occurrence of the past year and the future in the standard イベント一覧 format."""
    body = events_csv.to_csv(events_csv.rows(base_url=current_app.config["BASE_URL"]))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="131032_event.csv"',
        "Cache-Control": "public, max-age=300",
    })
