"""CLI: `flask organizations expire` marks groups whose verification term has ended (run daily)."""

from __future__ import annotations

import click
from flask import Blueprint

from app.extensions import db
from app.organizations import services

bp = Blueprint("organizations_cli", __name__, cli_group="organizations")


@bp.cli.command("expire")
def expire() -> None:
    """Expire verifications whose term ended before today (Tokyo)."""
    count = services.expire_verifications()
    db.session.commit()
    click.echo(f"expired: {count}")
