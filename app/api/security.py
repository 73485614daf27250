"""Bearer-token authentication for the JSON API: `token_required`, `current_api_user()`, last-use stamps.

The API trusts only `Authorization: Bearer <token>`; the browser's session cookie never authenticates an API
call, so API routes need no CSRF token (init_api exempts them).
"""

from __future__ import annotations

import logging
from copy import deepcopy
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts import services as account_services
from app.accounts.models import ApiToken, User
from app.core.db import write_intent
from app.core.errors import DomainError
from app.core.i18n import activate_for
from app.core.permissions import Role, has_role
from app.core.time import utcnow
from app.extensions import db

log = logging.getLogger(__name__)

SECURITY_SCHEME = "bearerAuth"
BEARER_SECURITY = [{SECURITY_SCHEME: []}]
# last_used_at is a hint for the owner ("is this token still in use?"), not an access log: writing it on
# every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)
# How long the last-use stamp may wait for a lock before it gives up (it is never worth slowing a request).
LAST_USED_LOCK_TIMEOUT_MS = 200


class AuthenticationRequired(DomainError):
    """No usable bearer token: 401 with `WWW-Authenticate: Bearer`."""

    status_code = 401
    code = "unauthorized"


class InvalidToken(AuthenticationRequired):
    """A bearer token was sent but is unknown, revoked, or its account is disabled."""

    code = "invalid_token"


class TokenForbidden(DomainError):
    """A valid token whose user lacks the role the endpoint needs."""

    status_code = 403
    code = "forbidden"


def bearer_secret() -> str | None:
    """The token in `Authorization: Bearer <token>`, or None when the header is absent or not Bearer."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def current_api_user() -> User:
    """The user of this request's bearer token (inside a `token_required` view)."""
    user = g.get("api_user")
    if user is None:
        raise RuntimeError("current_api_user() outside a token_required view")
    return user


def current_api_token() -> ApiToken:
    """The ApiToken row this request authenticated with (inside a `token_required` view)."""
    token = g.get("api_token")
    if token is None:
        raise RuntimeError("current_api_token() outside a token_required view")
    return token


def authenticate_bearer() -> tuple[User, ApiToken]:
    """Resolve the request's bearer token or raise AuthenticationRequired / InvalidToken."""
    secret = bearer_secret()
    if secret is None:
        g.api_auth_error = "missing"
        raise AuthenticationRequired(_l("APIトークンが必要です。Authorization: Bearer ヘッダーで送ってください。"))
    found = account_services.user_for_api_token(secret)
    if found is None:
        g.api_auth_error = "invalid_token"
        raise InvalidToken(_l("APIトークンが正しくないか、無効にされています。"))
    user, token = found
    g.api_user, g.api_token = user, token
    activate_for(user)
    touch_last_used(token)
    return user, token


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_required(view=None, *, roles: tuple[Role, ...] = (), read_scope_may_write: bool = False):
    """View decorator: a live bearer token is required (401), and one of ROLES when given (403).

    A read-only token (scope "read") may call GET and HEAD only (403 otherwise), unless READ_SCOPE_MAY_WRITE
    (a token revoking itself).

    Use bare (`@token_required`) or with roles (`@token_required(roles=(Role.WARD_STAFF,))`). Put it above
    `@blp.arguments` so that an unauthenticated call gets 401 before its body is validated. The operation is
    documented in the OpenAPI document with the bearer security scheme and a 401 response.
    """

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user, token = authenticate_bearer()
            if token.read_only and request.method not in READ_METHODS and not read_scope_may_write:
                raise TokenForbidden(
                    _l("このトークンは読み取り専用です。変更にはすべての操作ができるトークンを使ってください。"))
            if roles and not has_role(user, *roles):
                raise TokenForbidden(_l("この操作をする権限がありません。"))
            return current_app.ensure_sync(func)(*args, **kwargs)

        # flask-smorest reads the operation's documentation from `_apidoc` (as its own decorators do).
        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = deepcopy(BEARER_SECURITY)
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        if roles:
            responses.setdefault(403, []).append("FORBIDDEN")
        elif func.__name__ in {"post", "put", "patch", "delete"} and not read_scope_may_write:
            responses.setdefault(403, ["FORBIDDEN"])  # a read-only token
        wrapper._apidoc = apidoc
        return wrapper

    return decorator(view) if view is not None else decorator


def touch_last_used(token: ApiToken) -> None:
    """Stamp TOKEN's last use when the stamp is older than LAST_USED_RESOLUTION; never fails the request."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        if db.engine.dialect.name == "sqlite" and write_intent.get():
            # This request's own transaction began with BEGIN IMMEDIATE and holds SQLite's only write lock:
            # a second connection would wait for it. The stamp rides along with the request's commit.
            token.last_used_at = now
        else:
            _stamp_in_own_transaction(token.id, now)
            # Keep the loaded row in step without marking it dirty: an autoflush must not repeat the write
            # inside this request's (read-only) transaction.
            set_committed_value(token, "last_used_at", now)
    except Exception:  # a lost stamp must never become an error for the caller
        log.info("api token %s: last_used_at not recorded this time", token.id, exc_info=True)


def _stamp_in_own_transaction(token_id: int, now) -> None:
    """Write the stamp in a short transaction of its own, giving up quickly when the row or file is locked.

    A read request runs in a deferred SQLite transaction; upgrading that one to a write can fail with
    SQLITE_BUSY when another writer got in first, which would poison the request's transaction.
    """
    statement = (
        sa.update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
    )
    engine = db.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # PRAGMAs straight on the DBAPI connection: through SQLAlchemy they would autobegin a transaction.
            raw = conn.connection.driver_connection
            raw.execute(f"PRAGMA busy_timeout={LAST_USED_LOCK_TIMEOUT_MS}")
            reset = write_intent.set(True)  # BEGIN IMMEDIATE: take the lock up front or fail fast
            try:
                with conn.begin():
                    conn.execute(statement)
            finally:
                write_intent.reset(reset)
                raw.execute(f"PRAGMA busy_timeout={int(current_app.config['SQLITE_BUSY_TIMEOUT_MS'])}")
        else:
            with conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LAST_USED_LOCK_TIMEOUT_MS}ms'")
                conn.execute(statement)

