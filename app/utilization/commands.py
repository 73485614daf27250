"""CLI: `flask utilization rebuild` recomputes the utilization rollup from the bookings (idempotent)."""

from __future__ import annotations

from datetime import date

import click
from flask import Blueprint

from app.extensions import db
from app.utilization import rollup

bp = Blueprint("utilization_commands", __name__, cli_group="utilization")


def _date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@bp.cli.command("rebuild")
@click.option("--from", "first", callback=_date, help="first day (rounded down to its month); default: the "
              "fiscal year of the first booking")
@click.option("--to", "end", callback=_date, help="end day, exclusive (rounded up to a month); default: the end of "
              "next fiscal year")
def rebuild(first: date | None, end: date | None) -> None:
    """Recompute the utilization rollup for whole months from templates, closures and bookings."""
    try:
        first, end, rows = rollup.rebuild(db.session, first=first, end=end)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    db.session.commit()
    click.echo(f"utilization rollup rebuilt for {first.isoformat()} .. {end.isoformat()} (exclusive): {rows} rows")
