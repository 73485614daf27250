"""Open data downloads: /opendata/events.csv and /opendata/facilities.csv (public, no sign-in, no personal data)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from app.opendata import events_csv, facilities_csv

bp = Blueprint("opendata", __name__, url_prefix="/opendata")


def _download(body: bytes, file_name: str) -> Response:
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{file_name}"',
        "Cache-Control": "public, max-age=300",
    })


@bp.get("/events.csv")
def events():
    """Every public occurrence of the past year and the future in the standard イベント一覧 format."""
    body = events_csv.to_csv(events_csv.rows(base_url=current_app.config["BASE_URL"]))
    return _download(body, "131032_event.csv")


@bp.get("/facilities.csv")
def facilities():
    """Every active facility in the standard 公共施設一覧 format."""
    body = facilities_csv.to_csv(facilities_csv.rows(base_url=current_app.config["BASE_URL"]))
    return _download(body, facilities_csv.FILE_NAME)
