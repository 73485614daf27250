"""API test helpers: tokens issued through the service, and the Authorization header that carries them."""

from __future__ import annotations

from datetime import datetime

from app.accounts import services as account_services
from app.accounts.models import ApiToken, User
from app.extensions import db
from tests.factories import app_context


def make_token(user: User, *, name: str = "テスト", last_used_at: datetime | None = None) -> tuple[int, str]:
    """A committed API token for USER: (token id, secret)."""
    with app_context():
        owner = db.session.get(User, user.id)
        token, secret = account_services.issue_api_token(owner, name=name)
        token.last_used_at = last_used_at
        db.session.commit()
        return token.id, secret


def get_token(token_id: int) -> ApiToken:
    """The token row as stored now (detached)."""
    with app_context():
        token = db.session.get(ApiToken, token_id)
        db.session.expunge(token)
        return token


def bearer(secret: str) -> dict[str, str]:
    """Headers authenticating with SECRET."""
    return {"Authorization": f"Bearer {secret}"}
