"""Benchmark scenarios: one module per scenario, and the helpers they share.

A scenario is a module ``bench/scenarios/<name>.py`` (run it with ``bench/run.py --scenario <name>``) with:

- a module docstring (printed as its description);
- ``ROUTES``: a list of :class:`Route`, or a function ``routes(app) -> list[Route]`` called after
  ``generate`` when the paths depend on generated rows (e.g. ``/events/<id>``);
- optionally ``DEFAULT_SIZE`` (int, default 1) and ``generate(app, size)``, called once inside an app context
  on the fresh, migrated database before the server starts. Generate in bulk with SQLAlchemy core inserts
  (``db.session.execute(sa.insert(Model), rows)`` in chunks of a few thousand, see :func:`chunks`), not one
  ORM object at a time; the harness commits afterwards.

The harness always measures ``/healthz`` too and prints each route's requests per second as a ratio of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import sqlalchemy as sa

# The password of every user a scenario creates with insert_users(); routes with `login=` sign in with it.
BENCH_PASSWORD = "bench-Minato-password-2026"  # noqa: S105 - throwaway databases only


@dataclass(frozen=True)
class Route:
    """A GET route to measure. LOGIN: e-mail of a user created by generate() to sign in as first."""

    path: str
    login: str | None = None
    expect: int = 200
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or (f"{self.path} (as {self.login})" if self.login else self.path)


def load_scenario(name: str) -> ModuleType:
    """Import bench/scenarios/NAME.py and check it has routes."""
    if not name.isidentifier():
        raise ValueError(f"bad scenario name {name!r}")
    module = importlib.import_module(f"bench.scenarios.{name}")
    if not hasattr(module, "ROUTES") and not hasattr(module, "routes"):
        raise ValueError(f"scenario {name!r} defines neither ROUTES nor routes(app)")
    return module


def chunks(rows: Iterable[dict], size: int = 5000) -> Iterator[list[dict]]:
    """Split ROWS into lists of SIZE for executemany-style inserts."""
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@cache
def _bench_password_hash() -> str:
    from app.accounts.services import hash_password

    return hash_password(BENCH_PASSWORD)  # argon2 is slow on purpose: hash once, share it


def insert_users(emails_and_roles: Iterable[tuple[str, str]], *, language: str = "ja") -> int:
    """Insert confirmed users with BENCH_PASSWORD in bulk (inside an app context); returns how many."""
    from app.accounts.models import User
    from app.core.permissions import Role
    from app.core.time import utcnow
    from app.extensions import db

    now = utcnow()
    rows = [
        {
            "email": email.lower(),
            "password_hash": _bench_password_hash(),
            "display_name": email.split("@")[0][:80],
            "preferred_language": language,
            "role": Role(role),
            "created_at": now,
            "email_confirmed_at": now,
            "password_changed_at": now,
        }
        for email, role in emails_and_roles
    ]
    for batch in chunks(rows):
        db.session.execute(sa.insert(User), batch)
    return len(rows)
