"""CLI: `flask demo load` fills an empty database with realistic Minato data, idempotently."""

from __future__ import annotations

import click
from flask import Blueprint

bp = Blueprint("demo", __name__, cli_group="demo")


@bp.cli.command("load")
def load() -> None:
    """Load the demo data (safe to run again)."""
    click.echo("demo data: nothing yet")
