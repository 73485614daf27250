"""CLI: `flask mail send-pending`."""

from __future__ import annotations

import click
from flask import Blueprint

from app.core.mail import send_pending

bp = Blueprint("mail", __name__, cli_group="mail")


@bp.cli.command("send-pending")
@click.option("--limit", default=500, show_default=True, help="Most messages to send in this run.")
def send_pending_command(limit: int) -> None:
    """Deliver e-mails waiting in the outbox (safe to run from several machines at once)."""
    click.echo(f"sent {send_pending(limit=limit)}")
