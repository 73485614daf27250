"""Views that take a file upload accept a larger request body than the rest of the site.

MAX_CONTENT_LENGTH (8 MB) guards every request. An image a little over the forms' own limit (5 MB) would then
end in the 413 page, losing everything typed; views marked with @accepts_uploads read bodies up to
UPLOAD_MAX_CONTENT_LENGTH (32 MB) instead, so their form answers "画像は5MB以下にしてください" with the other
fields kept. Above that, the 413 page explains the file was too large. The limit is raised before any other
before_request hook reads the form (CSRF protection does), so init_app must run before csrf.init_app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

F = TypeVar("F", bound=Callable)
DEFAULT_UPLOAD_MAX_CONTENT_LENGTH = 32 * 1024 * 1024


def accepts_uploads(view: F) -> F:
    """Mark VIEW as taking file uploads (place it below @bp.route; wrappers made with functools.wraps keep it)."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def _raise_limit() -> None:
    from flask_login import current_user

    view = current_app.view_functions.get(request.endpoint or "")
    # Only signed-in people upload (every marked view needs a login): visitors keep the site-wide limit.
    if view is not None and getattr(view, "accepts_uploads", False) and current_user.is_authenticated:
        request.max_content_length = current_app.config.get(
            "UPLOAD_MAX_CONTENT_LENGTH", DEFAULT_UPLOAD_MAX_CONTENT_LENGTH)


def init_app(app: Flask) -> None:
    app.before_request(_raise_limit)
