"""CLI: `flask demo load` fills an empty database with realistic Minato data, idempotently."""

from __future__ import annotations

import click
from flask import Blueprint, current_app

from app.demo.loaders import DemoReport, registered_loaders
from app.extensions import db

bp = Blueprint("demo", __name__, cli_group="demo")


def _summary(counter) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counter.items()) if n) or "nothing"


@bp.cli.command("load")
def load() -> None:
    """Load the demo data (safe to run again: what is already there is left alone)."""
    if current_app.config.get("ENV_NAME") == "production":
        # The demo accounts have published passwords, an administrator among them.
        raise click.ClickException("refusing to load demo data with TSUDOI_ENV=production")
    report = DemoReport()
    loaders = registered_loaders()
    with click.progressbar(
        loaders, label="demo data", item_show_func=lambda loader: loader.name if loader else None
    ) as bar:
        for loader in bar:
            try:
                loader.function(db.session, report)
                db.session.commit()
            except Exception:
                db.session.rollback()
                click.echo(f"\ndemo loader {loader.name!r} failed; the loaders before it are saved", err=True)
                raise
    if report.added_anything:
        click.echo(f"demo data added: {_summary(report.added)}")
        if any(report.existing.values()):
            click.echo(f"already there: {_summary(report.existing)}")
    else:
        click.echo(f"demo data already loaded: nothing added ({_summary(report.existing)} already there)")
    if report.accounts:
        click.echo("\nDemo accounts (email / password / role):")
        width = max(len(account.email) for account in report.accounts)
        pw_width = max(len(account.password) for account in report.accounts)
        for account in report.accounts:
            click.echo(
                f"  {account.email:<{width}}  {account.password:<{pw_width}}  {account.role:<15} {account.description}"
            )
