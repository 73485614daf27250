"""Baseline: the home page, the login page and a signed-in profile page against /healthz."""

from __future__ import annotations

from bench.scenarios import Route, insert_users

DEFAULT_SIZE = 1
RESIDENT = "bench-resident@example.jp"

ROUTES = [
    Route("/"),
    Route("/account/login"),
    Route("/account/profile", login=RESIDENT),
]


def generate(app, size: int) -> None:
    """One resident to sign in as; SIZE - 1 more residents so that the users table is not trivially small."""
    insert_users([(RESIDENT, "resident")] + [(f"bench-user{n}@example.jp", "resident") for n in range(1, size)])
