"""Audit rows for logins, role and password changes (with the client's IP), and the `flask users` CLI."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import verify_password
from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.extensions import db
from tests.factories import DEFAULT_PASSWORD, login_from, make_user, post_form

IP = "203.0.113.24"


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _login_from(client, email: str, password: str, ip: str = IP):
    return login_from(client, email, password, ip=ip)


def test_login_success_is_audited_with_ip(app, client):
    user = make_user()
    assert _login_from(client, user.email, DEFAULT_PASSWORD).status_code == 303
    [event] = _events(app, "login.succeeded")
    assert (event.actor_id, event.target_type, event.target_id, event.ip) == (user.id, "user", str(user.id), IP)
    assert event.occurred_at.tzinfo is not None


def test_login_failure_is_audited_with_ip_and_without_the_password(app, client):
    user = make_user()
    assert _login_from(client, user.email.upper(), "wrong-password-1").status_code == 401
    assert _login_from(client, "nobody@example.jp", "wrong-password-2").status_code == 401
    known, unknown = _events(app, "login.failed")
    assert (known.actor_id, known.target_id, known.ip) == (user.id, str(user.id), IP)
    assert known.details == {"email": user.email}
    assert (unknown.actor_id, unknown.target_id, unknown.ip) == (None, None, IP)
    assert unknown.details == {"email": "nobody@example.jp"}
    assert "wrong-password" not in repr(known.details) + repr(unknown.details)
    assert _events(app, "login.succeeded") == []


def test_password_change_is_audited_with_ip(app, client):
    user = make_user()
    _login_from(client, user.email, DEFAULT_PASSWORD)
    new = "another-good-pass-9"
    response = post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": new, "password_confirm": new},
        page="/account/profile",
        environ_base={"REMOTE_ADDR": IP},
    )
    assert response.status_code == 303
    [event] = _events(app, "password.changed")
    assert (event.actor_id, event.target_id, event.ip) == (user.id, str(user.id), IP)


def test_role_change_through_the_cli_is_audited(app):
    user = make_user()
    result = app.test_cli_runner().invoke(args=["users", "set-role", user.email.upper(), "ward_staff"])
    assert result.exit_code == 0, result.output
    assert "ward_staff" in result.output
    [event] = _events(app, "role.changed")
    assert event.target_id == str(user.id)
    assert event.details == {"from": "resident", "to": "ward_staff"}
    assert event.actor_id is None and event.ip is None  # a command line has neither
    with app.app_context():
        assert db.session.get(User, user.id).role is Role.WARD_STAFF

    # Setting the same role again changes nothing and records nothing.
    app.test_cli_runner().invoke(args=["users", "set-role", user.email, "ward_staff"])
    assert len(_events(app, "role.changed")) == 1


def test_set_role_for_an_unknown_address(app):
    result = app.test_cli_runner().invoke(args=["users", "set-role", "ghost@example.jp", "admin"])
    assert result.exit_code != 0
    assert "ghost@example.jp" in result.output


def test_set_role_rejects_an_unknown_role(app):
    user = make_user()
    result = app.test_cli_runner().invoke(args=["users", "set-role", user.email, "superuser"])
    assert result.exit_code == 2
    assert "superuser" in result.output


def test_cli_create_reads_the_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Staff@Example.jp", "--role", "facility_staff"],
        input="minato-shiba-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert "staff@example.jp" in result.output
    assert "minato-shiba-2026" not in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="staff@example.jp"))
        assert user.role is Role.FACILITY_STAFF
        assert user.is_confirmed
        assert verify_password(user, "minato-shiba-2026")
    [event] = _events(app, "account.created")
    assert event.details == {"role": "facility_staff"}


def test_cli_create_refuses_a_weak_password(app):
    for weak, words in (("password123", "推測されやすい"), ("short", "10文字以上"), ("", "10文字以上")):
        result = app.test_cli_runner().invoke(args=["users", "create", "weak@example.jp"], input=weak + "\n")
        assert result.exit_code == 1, result.output
        assert words in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).filter_by(email="weak@example.jp")) is None


def test_cli_create_refuses_a_duplicate_address(app):
    user = make_user()
    result = app.test_cli_runner().invoke(
        args=["users", "create", user.email.upper(), "--role", "admin"], input="minato-shiba-2026\n"
    )
    assert result.exit_code == 1
    assert "登録済み" in result.output
    with app.app_context():
        assert db.session.get(User, user.id).role is Role.RESIDENT
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_cli_create_rejects_an_invalid_address(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "not-an-address"], input="minato-shiba-2026\n")
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
