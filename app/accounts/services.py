"""Account rules: passwords, sign-up, confirmation, sessions, resets, profile, roles and API tokens.

Services add to the session and never commit; the caller commits once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.errors import EmailNotConfirmed, InvalidCredentials, InvalidLink, WeakPassword
from app.accounts.models import TOKEN_SCOPE_FULL, TOKEN_SCOPES, ApiToken, User, UserSession
from app.core.audit import record_audit
from app.core.errors import DomainError
from app.core.i18n import normalize_language
from app.core.mail import queue_mail
from app.core.permissions import Role
from app.core.time import utcnow
from app.extensions import db


@cache
def _hasher_for(params: tuple[tuple[str, int], ...]) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(**dict(params))
    return hasher, hasher.hash("tsudoi-timing-equaliser")


def _hasher() -> tuple[PasswordHasher, str]:
    """The argon2id hasher for this app and a dummy hash that equalises timing for unknown users.

    Production uses the library's recommended parameters; the test config lowers the cost (ARGON2_PARAMS) so the
    suite does not spend its time hashing.
    """
    params = current_app.config.get("ARGON2_PARAMS") or {}
    return _hasher_for(tuple(sorted(params.items())))


def normalize_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively and without surrounding space."""
    return email.strip().lower()


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from leaked password lists.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_strength(password: str, *, email: str | None = None) -> None:
    """Raise WeakPassword when PASSWORD is too short, too common or made from the e-mail address."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise WeakPassword(_l("パスワードは%(n)d文字以上にしてください。", n=minimum))
    if len(password) > 256:
        raise WeakPassword(_l("パスワードは256文字以下にしてください。"))
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        raise WeakPassword(_l("よく使われていて推測されやすいパスワードです。別のパスワードにしてください。"))
    if email and lowered in {normalize_email(email), normalize_email(email).split("@")[0]}:
        raise WeakPassword(_l("メールアドレスと同じパスワードは使えません。"))


def check_email_shape(email: str) -> None:
    """Raise DomainError when EMAIL is not shaped like an address (no DNS lookup)."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(_l("メールアドレスの形が正しくありません(例: name@example.jp)。")) from None


def hash_password(password: str) -> str:
    """Argon2id hash of PASSWORD."""
    return _hasher()[0].hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """True when PASSWORD matches; takes the same time whether or not the user exists."""
    hasher, dummy_hash = _hasher()
    try:
        hasher.verify(user.password_hash if user else dummy_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def get_user_by_email(email: str) -> User | None:
    """The user with EMAIL (case-insensitive), or None."""
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


# --- signed links ------------------------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _external(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def make_confirmation_token(user: User) -> str:
    """A signed token confirming USER's current e-mail address."""
    return _serializer("confirm-email").dumps({"uid": user.id, "email": user.email})


def make_reset_token(user: User) -> str:
    """A signed single-use reset token: it carries a fingerprint of the current password hash."""
    return _serializer("reset-password").dumps({"uid": user.id, "pw": _sha256(user.password_hash)[:16]})


def _load(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink(_l("リンクの有効期限が切れています。もう一度手続きしてください。")) from None
    except BadSignature:
        raise InvalidLink(_l("リンクが正しくありません。メールのリンクをそのまま開いてください。")) from None
    if not isinstance(data, dict):
        raise InvalidLink(_l("リンクが正しくありません。メールのリンクをそのまま開いてください。"))
    return data


# --- sign-up and confirmation -----------------------------------------------------------------------


def register_user(*, email: str, password: str, display_name: str, language: str | None,
                  next_path: str | None = None) -> User | None:
    """Create an unconfirmed account and queue its confirmation mail; its link leads on to NEXT_PATH (a path on
    this site, checked by the caller) after signing in.

    When the address is already registered, no account is created and the owner gets a notice instead,
    so the sign-up page does not reveal which addresses have accounts. Returns the new user or None.
    """
    email = normalize_email(email)
    check_password_strength(password, email=email)
    language = normalize_language(language) or "ja"
    existing = get_user_by_email(email)
    if existing is not None:
        # Hash anyway: the new-address path hashes the password, and argon2 is nearly all of its time, so
        # without this the answer comes ten times faster for a registered address and tells which ones are.
        hash_password(password)
        queue_mail(
            to=existing.email,
            subject=_l("【つどい】登録済みのメールアドレスです"),
            template="accounts/already_registered",
            language=existing.preferred_language,
            user=existing,
            login_url=_external("accounts.login", next=next_path),
            reset_url=_external("accounts.forgot_password"),
        )
        return None
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=display_name.strip(),
        preferred_language=language,
        role=Role.RESIDENT,
    )
    db.session.add(user)
    db.session.flush()
    send_confirmation(user, next_path=next_path)
    record_audit("account.created", actor_id=user.id, target_type="user", target_id=user.id)
    return user


def send_confirmation(user: User, *, next_path: str | None = None) -> None:
    """Queue the e-mail with USER's confirmation link (leading on to NEXT_PATH, when given, after signing in)."""
    queue_mail(
        to=user.email,
        subject=_l("【つどい】メールアドレスの確認"),
        template="accounts/confirm",
        language=user.preferred_language,
        user=user,
        confirm_url=_external("accounts.confirm_email", token=make_confirmation_token(user), next=next_path),
    )


def confirm_email(token: str) -> User:
    """Mark the account in TOKEN confirmed (idempotent)."""
    data = _load("confirm-email", token, current_app.config["EMAIL_TOKEN_MAX_AGE_S"])
    user = db.session.get(User, data.get("uid"))
    if user is None or user.email != data.get("email"):
        raise InvalidLink(_l("リンクが正しくありません。メールのリンクをそのまま開いてください。"))
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        record_audit("account.confirmed", actor_id=user.id, target_type="user", target_id=user.id)
    return user


# --- login and sessions -----------------------------------------------------------------------------


def authenticate(*, email: str, password: str) -> User:
    """The user for EMAIL and PASSWORD; records the failure in the audit log and raises when wrong."""
    user = get_user_by_email(email)
    if not verify_password(user, password) or user is None or not user.is_active:
        record_audit(
            "login.failed",
            actor_id=user.id if user else None,
            target_type="user",
            target_id=user.id if user else None,
            details={"email": normalize_email(email)[:320]},
        )
        raise InvalidCredentials(_l("メールアドレスまたはパスワードが違います。"))
    if not user.is_confirmed:
        raise EmailNotConfirmed(
            _l("メールアドレスの確認がまだです。届いたメールのリンクを開いてください。")
        )
    return user


def _session_cutoff() -> datetime:
    """Sessions created before this instant have expired."""
    return utcnow() - timedelta(seconds=current_app.config["USER_SESSION_MAX_AGE_S"])


def start_session(user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Create a server-side session for USER and return its token (kept in the signed cookie)."""
    # Tidy up USER's expired sessions while we are here; they can no longer sign anyone in.
    db.session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id, UserSession.created_at < _session_cutoff())
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(user=user, token_hash=_sha256(token), ip=ip, user_agent=(user_agent or "")[:200] or None)
    )
    user.last_login_at = utcnow()
    user.session_token = token
    record_audit("login.succeeded", actor_id=user.id, target_type="user", target_id=user.id)
    return token


def load_session_user(token: str | None) -> User | None:
    """The user of a live session token, or None (revoked, expired, unknown, disabled)."""
    if not token:
        return None
    row = db.session.execute(
        sa.select(UserSession, User)
        .join(User, UserSession.user_id == User.id)
        .where(UserSession.token_hash == _sha256(token), UserSession.created_at >= _session_cutoff())
    ).first()
    if row is None or not row.User.is_active:
        return None
    row.User.session_token = token
    return row.User


def end_session(token: str | None) -> None:
    """Revoke one session (logout)."""
    if token:
        db.session.execute(sa.delete(UserSession).where(UserSession.token_hash == _sha256(token)))


def revoke_all_sessions(user: User) -> None:
    """Revoke every browser session of USER."""
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))


def revoke_all_api_tokens(user: User) -> int:
    """Revoke every live API token of USER (a token is a session without a browser); returns how many."""
    result = db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


# --- passwords --------------------------------------------------------------------------------------


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    """Change USER's password after checking the current one; every session and API token is revoked."""
    if not verify_password(user, current_password):
        raise InvalidCredentials(_l("現在のパスワードが違います。"))
    _set_password(user, new_password)


def _set_password(user: User, new_password: str) -> None:
    check_password_strength(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    revoke_all_sessions(user)
    # A token copied by whoever knew the old password must not outlive it either.
    revoked_tokens = revoke_all_api_tokens(user)
    record_audit("password.changed", actor_id=user.id, target_type="user", target_id=user.id,
                 details={"api_tokens_revoked": revoked_tokens} if revoked_tokens else None)
    queue_mail(
        to=user.email,
        subject=_l("【つどい】パスワードが変更されました"),
        template="accounts/password_changed",
        language=user.preferred_language,
        user=user,
        reset_url=_external("accounts.forgot_password"),
    )


def request_password_reset(email: str) -> None:
    """Queue a reset link when EMAIL has an account; say nothing either way."""
    user = get_user_by_email(email)
    if user is None or not user.is_active:
        return
    queue_mail(
        to=user.email,
        subject=_l("【つどい】パスワードの再設定"),
        template="accounts/reset",
        language=user.preferred_language,
        user=user,
        reset_url=_external("accounts.reset_password", token=make_reset_token(user)),
    )
    record_audit("password.reset_requested", actor_id=user.id, target_type="user", target_id=user.id)


def user_for_reset_token(token: str) -> User:
    """The user a reset link belongs to; the link dies once the password changes."""
    data = _load("reset-password", token, current_app.config["PASSWORD_RESET_MAX_AGE_S"])
    user = db.session.get(User, data.get("uid"))
    if user is None or _sha256(user.password_hash)[:16] != data.get("pw"):
        raise InvalidLink(_l("このリンクは使用済みか、正しくありません。もう一度手続きしてください。"))
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; the address is thereby confirmed too."""
    user = user_for_reset_token(token)
    _set_password(user, new_password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    return user


# --- profile, deletion, roles -----------------------------------------------------------------------


def update_profile(user: User, *, display_name: str, language: str) -> None:
    """Change the display name and preferred language."""
    user.display_name = display_name.strip()
    user.preferred_language = normalize_language(language) or user.preferred_language


def request_deletion(user: User) -> None:
    """Record a deletion request; staff erase the account after checking open bookings and duties."""
    if user.deletion_requested_at is None:
        user.deletion_requested_at = utcnow()
        record_audit("account.deletion_requested", actor_id=user.id, target_type="user", target_id=user.id)


def cancel_deletion_request(user: User) -> None:
    """Withdraw a pending deletion request."""
    if user.deletion_requested_at is not None:
        user.deletion_requested_at = None
        record_audit("account.deletion_cancelled", actor_id=user.id, target_type="user", target_id=user.id)


def set_role(user: User, role: Role, *, actor_id: int | None) -> None:
    """Give USER a global role (audited)."""
    if user.role != role:
        record_audit(
            "role.changed",
            actor_id=actor_id,
            target_type="user",
            target_id=user.id,
            details={"from": user.role.value, "to": role.value},
        )
        user.role = role


def create_user(*, email: str, password: str, role: Role, display_name: str | None = None) -> User:
    """Create a confirmed account (CLI and demo data)."""
    email = normalize_email(email)
    check_email_shape(email)  # the CLI has no form to check it
    if get_user_by_email(email) is not None:
        raise DomainError(_l("このメールアドレスは登録済みです。"))
    check_password_strength(password, email=email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=display_name or email.split("@")[0],
        role=role,
        email_confirmed_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    record_audit("account.created", target_type="user", target_id=user.id, details={"role": role.value})
    return user


# --- API tokens -------------------------------------------------------------------------------------

TOKEN_PREFIX = "tsd_"  # noqa: S105 - a public prefix, not a secret


MAX_TOKEN_DAYS = 3650


def issue_api_token(user: User, *, name: str, scope: str = TOKEN_SCOPE_FULL,
                    expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new bearer token for USER; the secret is returned once and stored only hashed.

    SCOPE "read" allows reads only; EXPIRES_IN_DAYS (1..3650) ends it by itself, None keeps it until revoked.
    """
    if scope not in TOKEN_SCOPES:
        raise DomainError(_l("トークンの権限は「読み取りのみ」か「すべて」から選んでください。"))
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise DomainError(_l("有効期限は1日から3650日のあいだで選んでください。"))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip()[:80] or "API", token_hash=_sha256(secret), prefix=secret[:10],
                     scope=scope,
                     expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None)
    db.session.add(token)
    db.session.flush()
    record_audit("api_token.issued", actor_id=user.id, target_type="api_token", target_id=token.id,
                 details={"scope": scope, "expires_in_days": expires_in_days})
    return token, secret


def user_for_api_token(secret: str) -> tuple[User, ApiToken] | None:
    """The user and token for a bearer secret that is live, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(
        sa.select(ApiToken, User)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _sha256(secret), ApiToken.revoked_at.is_(None),
               sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))
    ).first()
    if row is None or not row.User.is_active:
        return None
    return row.User, row.ApiToken


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of USER's tokens; False when it is not theirs or already revoked."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    record_audit("api_token.revoked", actor_id=user.id, target_type="api_token", target_id=token.id)
    return True
