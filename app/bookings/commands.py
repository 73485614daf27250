"""CLI: `flask bookings expire` ends 仮予約 past their deadline (safe to run repeatedly, e.g. from cron)."""

from __future__ import annotations

import click
from flask import Blueprint

from app.bookings import services
from app.extensions import db

bp = Blueprint("booking_commands", __name__, cli_group="bookings")


@bp.cli.command("expire")
def expire() -> None:
    """Expire tentative bookings whose hold has passed and release their slots."""
    count = services.expire_tentative()
    db.session.commit()
    click.echo(f"expired {count} tentative booking(s)")
