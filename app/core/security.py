"""Security headers with a strict CSP, the guard for `next=` redirects, the refusal of NUL characters in addresses."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, request, url_for
from flask_babel import lazy_gettext as _l

from app.core.errors import render_error

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def set_security_headers(response: Response, *, hsts: bool) -> Response:
    """Add the headers every response carries, error pages included."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # The camera is used by the organizer's check-in page (QR scan) on this site only.
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=()")
    if hsts:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint and _is_private_page():
        headers.setdefault("Cache-Control", "no-store")
    return response


def _is_private_page() -> bool:
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated)


def is_safe_next(target: str | None) -> bool:
    """True when TARGET is a path on this site: no scheme, no host, no tricks with slashes or controls."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return False
    # Check the raw and the decoded forms: browsers treat "\" as "/" and strip tabs and newlines.
    for candidate in {target, unquote(target), unquote(unquote(target))}:
        if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in candidate):
            return False
        if "\\" in candidate or not candidate.startswith("/") or candidate.startswith("//"):
            return False
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return False
    return " " not in target


def safe_next(target: str | None, fallback_endpoint: str = "portal.home") -> str:
    """TARGET when it is safe, otherwise the fallback page."""
    return target if is_safe_next(target) else url_for(fallback_endpoint)


def query_holds_nul() -> bool:
    """Whether the request's path or query string holds a NUL character.

    Nobody types one, and PostgreSQL can neither store nor compare it (every string parameter holding one is an
    error), so it is refused at the door rather than in each filter. Form fields drop it (app/core/forms.py) and
    the API refuses it in JSON bodies (app/api/__init__.py).
    """
    return "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))


def init_app(app: Flask) -> None:
    """Register the NUL guard and the header hook."""

    @app.before_request
    def _refuse_nul():
        if query_holds_nul():
            return render_error(400, _l("アドレスに、使えない文字(NUL 制御文字)が含まれていました。"
                                        "その文字を除いて、もう一度お試しください。"))
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        return set_security_headers(response, hsts=app.config.get("HSTS", False))
