"""How large a request body each request may send: visitors least, upload views of signed-in people most.

MAX_CONTENT_LENGTH (8 MB) guards requests of signed-in people. An image a little over the forms' own limit
(5 MB) would then end in the 413 page, losing everything typed; views marked with @accepts_uploads read bodies up
to UPLOAD_MAX_CONTENT_LENGTH (32 MB) instead, so their form answers "画像は5MB以下にしてください" with the other
fields kept. Above that, the 413 page explains the file was too large.

Requests of people not signed in (no session; under /api/ no bearer token) are capped much lower: their forms
(login, sign-up, forgot password, guest registration, language) are small, while parsing a urlencoded body costs
CPU in proportion to its size (7.8 MB of fields took 4 s). ANONYMOUS_MAX_CONTENT_LENGTH (64 KB) bounds the body,
ANONYMOUS_MAX_FORM_MEMORY_SIZE a multipart field, ANONYMOUS_MAX_FORM_PARTS the multipart fields; above them the
413 page says the data sent was too large. The limits are set before any other before_request hook reads the form
(CSRF protection does), so init_app must run before csrf.init_app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, g, request

F = TypeVar("F", bound=Callable)
DEFAULT_UPLOAD_MAX_CONTENT_LENGTH = 32 * 1024 * 1024
DEFAULT_ANONYMOUS_MAX_CONTENT_LENGTH = 64 * 1024
DEFAULT_ANONYMOUS_MAX_FORM_MEMORY_SIZE = 64 * 1024
DEFAULT_ANONYMOUS_MAX_FORM_PARTS = 100
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def accepts_uploads(view: F) -> F:
    """Mark VIEW as taking file uploads (place it below @bp.route; wrappers made with functools.wraps keep it)."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def _signed_in() -> bool:
    if request.path.startswith("/api/"):
        # A bearer token is checked by the view itself; a bogus one still gets only the 8 MB limit.
        scheme, _sep, value = request.headers.get("Authorization", "").strip().partition(" ")
        return scheme.lower() == "bearer" and bool(value.strip())
    from flask_login import current_user

    return bool(current_user.is_authenticated)


def anonymous_limit_applied() -> bool:
    """Whether this request's body was held to the visitors' limits (the 413 page says so)."""
    return bool(g.get("anonymous_body_limit"))


def _set_limits() -> None:
    if request.method not in BODY_METHODS:
        return
    config = current_app.config
    if not _signed_in():
        g.anonymous_body_limit = True
        request.max_content_length = config.get("ANONYMOUS_MAX_CONTENT_LENGTH", DEFAULT_ANONYMOUS_MAX_CONTENT_LENGTH)
        request.max_form_memory_size = config.get("ANONYMOUS_MAX_FORM_MEMORY_SIZE",
                                                  DEFAULT_ANONYMOUS_MAX_FORM_MEMORY_SIZE)
        request.max_form_parts = config.get("ANONYMOUS_MAX_FORM_PARTS", DEFAULT_ANONYMOUS_MAX_FORM_PARTS)
        return
    view = current_app.view_functions.get(request.endpoint or "")
    # Only signed-in people upload (every marked view needs a login).
    if view is not None and getattr(view, "accepts_uploads", False):
        request.max_content_length = config.get("UPLOAD_MAX_CONTENT_LENGTH", DEFAULT_UPLOAD_MAX_CONTENT_LENGTH)


def init_app(app: Flask) -> None:
    app.before_request(_set_limits)
