"""CLI: `flask users create` and `flask users set-role`."""

from __future__ import annotations

import sys

import click
from flask import Blueprint

from app.accounts import services
from app.core.errors import DomainError
from app.core.permissions import Role
from app.extensions import db

bp = Blueprint("users", __name__, cli_group="users")
ROLE_CHOICE = click.Choice([r.value for r in Role])


@bp.cli.command("create")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, default=Role.RESIDENT.value, show_default=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the address's local part).")
def create(email: str, role: str, display_name: str | None) -> None:
    """Create a confirmed account; the password is read from stdin, or prompted for on a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = services.create_user(email=email, password=password, role=Role(role), display_name=display_name)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from None
    db.session.commit()
    click.echo(f"created user {user.id} <{user.email}> as {user.role.value}")


@bp.cli.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
def set_role(email: str, role: str) -> None:
    """Give an existing account a global role (audited)."""
    user = services.get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    services.set_role(user, Role(role), actor_id=None)
    db.session.commit()
    click.echo(f"{user.email} is now {user.role.value}")
