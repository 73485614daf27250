"""Users, their server-side sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.permissions import Role
from app.core.time import utcnow
from app.extensions import db


class User(db.Model):
    """A person with an account. Everyone is a resident; `role` may add a staff role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(80))
    preferred_language: Mapped[str] = mapped_column(sa.String(16), default="ja")
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        default=Role.RESIDENT,
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    email_confirmed_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    deletion_requested_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login. get_id() returns the server-side session token, not the user id: deleting the session
    # row (logout, password change) makes a copied cookie worthless.
    session_token = None  # set per request by the loader; not a column

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(db.Model):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))

    user: Mapped[User] = relationship(back_populates="sessions")


TOKEN_SCOPE_READ = "read"  # noqa: S105 - a scope's name, not a secret
TOKEN_SCOPE_FULL = "full"  # noqa: S105 - a scope's name, not a secret
TOKEN_SCOPES = (TOKEN_SCOPE_READ, TOKEN_SCOPE_FULL)


class ApiToken(db.Model):
    """A bearer token for the JSON API; revocable; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))  # shown on the profile to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: until revoked
    # "read": GET and HEAD only (and revoking itself); "full": everything its owner may do.
    scope: Mapped[str] = mapped_column(sa.String(8), default=TOKEN_SCOPE_FULL, server_default=TOKEN_SCOPE_FULL)

    user: Mapped[User] = relationship(back_populates="api_tokens")

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def read_only(self) -> bool:
        return self.scope != TOKEN_SCOPE_FULL
