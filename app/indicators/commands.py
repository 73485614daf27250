"""CLI: `flask indicators load` upserts the plan's indicator catalog from app/indicators/data/indicators.csv."""

from __future__ import annotations

import click
from flask import Blueprint

from app.extensions import db
from app.indicators import services

bp = Blueprint("indicators_cli", __name__, cli_group="indicators")


@bp.cli.command("load")
def load() -> None:
    """Load or update the indicator catalog (safe to run again)."""
    result = services.load_catalog()
    db.session.commit()
    click.echo(
        f"indicators: {len(result.added)} added, {len(result.updated)} updated, {len(result.unchanged)} unchanged"
    )
