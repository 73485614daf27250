"""Factories with keyword defaults, and helpers that drive the app like a browser would."""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager

from flask import has_app_context

from app.accounts import services as account_services
from app.accounts.models import User
from app.core.permissions import Role
from app.extensions import db


@contextmanager
def app_context():
    """The test app's context, unless one is already pushed (service tests using the app_ctx fixture)."""
    if has_app_context():
        yield
    else:
        with APP.app_context():
            yield


@contextmanager
def recorded_statements(app):
    """Every SQL statement the app's engine runs inside the block, whitespace folded to single spaces."""
    import sqlalchemy as sa

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def uploads_under(folder, monkeypatch):
    """Point the image uploads of every kind (events, logos ...) at a folder of their kind under FOLDER."""
    from app.core import images

    for kind in images.KINDS:
        (folder / kind).mkdir()
    monkeypatch.setattr(images, "upload_dir", lambda kind="events": folder / kind)


def detach(obj):
    """Load OBJ's columns and detach it so the test can read them after the context closes."""
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj

APP = None  # set by tests/conftest.py
DEFAULT_PASSWORD = "correct-horse-battery-42"  # noqa: S105
_counter = itertools.count(1)
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_user(
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.RESIDENT,
    display_name: str | None = None,
    confirmed: bool = True,
    language: str = "ja",
) -> User:
    """A committed user, detached (readable after its context closes)."""
    n = next(_counter)
    with app_context():
        user = account_services.create_user(
            email=email or f"user{n}@example.jp",
            password=password,
            role=role,
            display_name=display_name or f"利用者{n}",
        )
        user.preferred_language = language
        if not confirmed:
            user.email_confirmed_at = None
        db.session.commit()
        return detach(user)


def csrf_from(html: str) -> str:
    """The CSRF token of the (first) form in HTML."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in page"
    return match.group(1)


def csrf_token(client, url: str = "/") -> str:
    """The CSRF token from a page, as a browser's form would carry it."""
    response = client.get(url)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """POST DATA to URL with the CSRF token taken from PAGE (default: URL itself)."""
    token = csrf_token(client, page or url)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


QUOTE_RE = re.compile(r'name="confirm"[^>]*value="([^"]+)"')


def quote_token(html: str) -> str | None:
    """The signed quote a booking summary page carries in its `confirm` field (None: no summary)."""
    match = QUOTE_RE.search(html)
    return match.group(1) if match else None


def post_confirmed(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """Book as a person does: POST DATA (without `confirm`) for the summary, then confirm it with the signed quote
    the summary carries. When no summary comes back (a rule refused the quote), that answer is returned."""
    data = {k: v for k, v in data.items() if k != "confirm"}
    token = csrf_token(client, page or url)
    quoted = client.post(url, data={"csrf_token": token, **data})
    signed = quote_token(quoted.get_data(as_text=True))
    if quoted.status_code != 200 or signed is None:
        return quoted
    return client.post(url, data={"csrf_token": token, **data, "confirm": signed}, **kwargs)


def login(client, email: str, password: str = DEFAULT_PASSWORD, **kwargs):
    """Sign in through the login form."""
    return post_form(client, "/account/login", {"email": email, "password": password}, **kwargs)


def login_from(client, email: str, password: str = DEFAULT_PASSWORD, *, ip: str):
    """Sign in through the login form from the address IP (page and post), as the rate limits and the audit see it."""
    environ = {"REMOTE_ADDR": ip}
    token = csrf_from(client.get("/account/login", environ_base=environ).get_data(as_text=True))
    return client.post("/account/login", data={"csrf_token": token, "email": email, "password": password},
                       environ_base=environ)
