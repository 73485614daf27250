"""Helpers for tests that build a second app (production config, another database, Redis rate limits)."""

from __future__ import annotations

from contextlib import contextmanager

from app import create_app
from app.extensions import api, db, limiter


@contextmanager
def extra_app(config_name: str = "testing", **overrides):
    """Yield a new app and afterwards give the shared extensions back to the session's test app.

    Flask-Limiter and flask-smorest keep one state per extension object, not per app: the last app created
    wins its storage. Without this, a test that builds an app on Redis would leave every later test's login
    counters in Redis.
    """
    saved_limiter = (limiter._storage, limiter._limiter)
    saved_api = (api._app, api.spec)
    try:
        new_app = create_app(config_name, **overrides)
        try:
            yield new_app
        finally:
            with new_app.app_context():
                db.engine.dispose()  # no connection left open on the session's database
    finally:
        limiter._storage, limiter._limiter = saved_limiter
        api._app, api.spec = saved_api
