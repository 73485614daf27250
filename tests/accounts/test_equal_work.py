"""Sign-up and forgot-password do the same expensive work for a new and a registered address (#20).

Timing is not measured (noisy on a shared machine): the test counts the argon2 operations, which are nearly all of
the time a request takes, on both paths.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.factories import post_form

PASSWORD = "minato-shiba-2026"


@pytest.fixture
def argon2_calls(app, monkeypatch):
    """Counts PasswordHasher.hash and .verify calls (after the dummy hash is built and cached)."""
    with app.app_context():
        from app.accounts.services import _hasher

        _hasher()
    calls = []
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def hash_(self, *args, **kwargs):
        calls.append("hash")
        return real_hash(self, *args, **kwargs)

    def verify(self, *args, **kwargs):
        calls.append("verify")
        return real_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", hash_)
    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return calls


def _signup(client, email):
    return post_form(client, "/account/signup", {
        "email": email, "display_name": "港", "password": PASSWORD, "password_confirm": PASSWORD, "language": "ja"})


def test_signup_hashes_once_for_a_new_and_for_a_registered_address(app, client, outbox, argon2_calls):
    assert _signup(client, "new@example.jp").status_code == 303
    new_path = list(argon2_calls)
    argon2_calls.clear()
    assert _signup(app.test_client(), "new@example.jp").status_code == 303  # now registered
    registered_path = list(argon2_calls)
    assert new_path == registered_path == ["hash"]
    assert len(outbox) == 2  # a confirmation, then an "already registered" notice


def test_forgot_password_does_the_same_work_for_a_known_and_an_unknown_address(app, client, argon2_calls):
    from tests.factories import make_user

    user = make_user()
    argon2_calls.clear()
    assert post_form(client, "/account/forgot", {"email": user.email}).status_code == 200
    known = list(argon2_calls)
    argon2_calls.clear()
    assert post_form(app.test_client(), "/account/forgot", {"email": "nobody@example.jp"}).status_code == 200
    assert known == list(argon2_calls)
