"""Limits keyed by a person rather than a client address.

Login failures, shared by the HTML login form and the API token endpoint: one counter per account, so five wrong
passwords on the form and five through the API are ten against the same account. Past LOGIN_ACCOUNT_FAILURE_LIMIT
the account is SLOWED DOWN, not locked: an address or browser that has not signed in to it before gets one attempt
per LOGIN_ACCOUNT_SLOWDOWN window (429 with Retry-After otherwise, answered at once: no worker ever sleeps), while
a known origin is not held back by the account's counter at all. A known origin is a browser carrying the signed
device cookie this account's sign-in set, or a client address from which this account signed in (or was issued an
API token) within LOGIN_KNOWN_ADDRESS_DAYS, as the audit log records. The per-address limit (LOGIN_FAILURE_LIMIT)
still applies to everyone. So a stranger's wrong passwords can no longer keep the owner out of their own account
from their usual places; an attacker spread over many addresses gets one guess per window per account.

Mails to one address, per form that mails an address typed into it: `recipient_limit()`.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, make_response, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from app.accounts.services import get_user_by_email, normalize_email
from app.core.audit import AuditEvent
from app.core.errors import render_error
from app.core.time import utcnow
from app.extensions import db, limiter

SCOPE = "login-account"
DEVICE_COOKIE = "tsudoi_device"
DEVICE_COOKIE_MAX_AGE_S = 60 * 60 * 24 * 365
DEVICE_COOKIE_MAX_ACCOUNTS = 10
KNOWN_ORIGIN_ACTIONS = ("login.succeeded", "api_token.issued")


def login_failed(_response=None) -> bool:
    """True when the request's credentials were wrong (the view sets g.login_failed); only failures count."""
    return bool(g.get("login_failed"))


def _login_email() -> str:
    """The account a login attempt names: the e-mail address of the form or of the JSON body, normalised."""
    email = request.form.get("email") if "email" in request.form else None
    if email is None:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    return normalize_email(email if isinstance(email, str) else "")[:320]


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def _device_accounts() -> list[int]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        ids = _device_serializer().loads(raw)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def remember_device(response, user_id: int):
    """Mark this browser as one that signed in to USER_ID (a signed cookie listing a few account ids)."""
    ids = [user_id] + [i for i in _device_accounts() if i != user_id]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(ids[:DEVICE_COOKIE_MAX_ACCOUNTS]),
                        max_age=DEVICE_COOKIE_MAX_AGE_S, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def known_origin(email: str) -> bool:
    """Whether this request comes from a browser or an address that has signed in to EMAIL's account before."""
    user = get_user_by_email(email) if email else None
    if user is None:
        return False
    if user.id in _device_accounts():
        return True
    if not request.remote_addr:
        return False
    since = utcnow() - timedelta(days=current_app.config["LOGIN_KNOWN_ADDRESS_DAYS"])
    return db.session.execute(
        sa.select(AuditEvent.id).where(
            AuditEvent.actor_id == user.id, AuditEvent.action.in_(KNOWN_ORIGIN_ACTIONS),
            AuditEvent.ip == request.remote_addr, AuditEvent.occurred_at >= since,
        ).limit(1)
    ).first() is not None


def _too_many(retry_after: int):
    response = make_response(render_error(429))
    response.headers["Retry-After"] = str(retry_after)
    return response


def account_slowdown(view):
    """Count failed sign-ins per account; past the limit, slow unknown origins down (see the module's text).

    Wraps POST views that set g.login_failed on wrong credentials (the login form, POST /api/v1/auth/token).
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST" or not current_app.config.get("RATELIMIT_ENABLED", True):
            return view(*args, **kwargs)
        strategy = limiter.limiter
        failures = parse(current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"])
        email = _login_email()
        if not strategy.test(failures, SCOPE, email) and not known_origin(email):
            # Slowed down: the attempt takes the account's next slot for unknown origins, before the password
            # is checked, so parallel requests cannot all slip through one opening.
            slow = parse(current_app.config["LOGIN_ACCOUNT_SLOWDOWN"])
            if not strategy.hit(slow, SCOPE + "-slow", email):
                reset = strategy.get_window_stats(slow, SCOPE + "-slow", email).reset_time
                return _too_many(max(1, math.ceil(reset - time.time())))
        try:
            return view(*args, **kwargs)
        finally:
            if login_failed():
                strategy.hit(failures, SCOPE, email)

    return wrapped


MAILS_PER_RECIPIENT = "3 per hour"
"""How many mails one address may be sent per hour by each form that mails an address typed into it."""


def recipient_key() -> str:
    """The address a mail-sending form will write to (its `email` field), normalised.

    Mail-sending forms (sign-up, forgot password, guest registration) are also limited per address typed, so no
    one can flood a stranger's mailbox from many client addresses (the per-IP limit alone does not stop that).
    """
    return "mail-to:" + normalize_email(request.form.get("email", ""))[:320]


def recipient_limit():
    """The per-recipient limit for a route whose POST mails the address in its form."""
    return limiter.limit(MAILS_PER_RECIPIENT, methods=["POST"], key_func=recipient_key)
