"""Limits keyed by a person rather than a client address.

Login failures, shared by the HTML login form and the API token endpoint: one counter per account. Both routes
decorate with `account_failure_limit` (a Flask-Limiter shared limit, one scope), so five wrong passwords on the
form and five through the API are ten against the same account, not five and five.

Mails to one address, per form that mails an address typed into it: `recipient_limit()`.
"""

from __future__ import annotations

from flask import current_app, g, request

from app.accounts.services import normalize_email
from app.extensions import limiter

SCOPE = "login-account"


def login_failed(_response=None) -> bool:
    """True when the request's credentials were wrong (the view sets g.login_failed); only failures count."""
    return bool(g.get("login_failed"))


def login_account_key() -> str:
    """The account a login attempt names: the e-mail address of the form or of the JSON body, normalised."""
    email = request.form.get("email") if "email" in request.form else None
    if email is None:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    return "login-account:" + normalize_email(email if isinstance(email, str) else "")[:320]


account_failure_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"], scope=SCOPE, key_func=login_account_key,
    deduct_when=login_failed, methods=["POST"],
)


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
