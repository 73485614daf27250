"""CLI: `flask mail send-pending`, `flask jobs run-due` and `flask jobs list`."""

from __future__ import annotations

import click
from flask import Blueprint

from app.core.jobs import JobRun, registry, run_due
from app.core.mail import send_pending
from app.extensions import db

bp = Blueprint("mail", __name__, cli_group="mail")


@bp.cli.command("send-pending")
@click.option("--limit", default=500, show_default=True, help="Most messages to send in this run.")
def send_pending_command(limit: int) -> None:
    """Deliver e-mails waiting in the outbox (safe to run from several machines at once)."""
    click.echo(f"sent {send_pending(limit=limit)}")


jobs_bp = Blueprint("jobs", __name__, cli_group="jobs")


@jobs_bp.cli.command("run-due")
@click.option("--job", "only", multiple=True, metavar="NAME", help="Run only this job (repeatable).")
def run_due_command(only: tuple[str, ...]) -> None:
    """Run every due job once (safe from cron on several machines at once); exit 1 if a job failed."""
    unknown = set(only) - {job.name for job in registry}
    if unknown:
        raise click.BadParameter(f"unknown job(s): {', '.join(sorted(unknown))}", param_hint="--job")
    outcomes = run_due(only=set(only) if only else None)
    for outcome in outcomes:
        detail = f" -> {outcome.result}" if outcome.result is not None else ""
        click.echo(f"{outcome.job} [{outcome.due_key or '-'}] {outcome.status}{detail}")
    if any(outcome.status == "failed" for outcome in outcomes):
        raise SystemExit(1)


@jobs_bp.cli.command("list")
def list_command() -> None:
    """Show the registered jobs, their schedule, and their last run."""
    import sqlalchemy as sa


    for job in registry:
        last = db.session.scalars(
            sa.select(JobRun).where(JobRun.job_name == job.name).order_by(JobRun.started_at.desc()).limit(1)
        ).first()
        when = f"last {last.due_key} {last.status.value} ({last.runner})" if last else "never run"
        click.echo(f"{job.name}: {job.schedule.describe()}; {when}")
