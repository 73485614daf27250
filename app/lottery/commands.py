"""CLI: `flask lottery commit PERIOD`, `flask lottery draw PERIOD`, `flask lottery verify PERIOD` (re-runs a
drawn lottery from its seed and entries and compares the results) and `flask lottery export PERIOD` (the public
record, which `python app/lottery/draw.py verify FILE` re-runs without the app)."""

from __future__ import annotations

import json

import click
from flask import Blueprint

from app.core.errors import DomainError
from app.extensions import db
from app.lottery import services as lottery_services
from app.lottery.models import LotteryDraw, LotteryPeriod

bp = Blueprint("lottery_commands", __name__, cli_group="lottery")


def _period(period_id: int) -> LotteryPeriod:
    period = db.session.get(LotteryPeriod, period_id)
    if period is None:
        raise click.ClickException(f"no lottery period {period_id}")
    return period


@bp.cli.command("commit")
@click.argument("period_id", metavar="PERIOD", type=int)
@click.option("--entries-per-group", type=click.IntRange(min=1), required=True, help="Entries each group may make.")
@click.option("--max-preferences", type=click.IntRange(min=1), required=True, help="Ranked preferences per entry.")
def commit(period_id: int, entries_per_group: int, max_preferences: int) -> None:
    """Open PERIOD for entries with a fresh secret seed; prints the seed's SHA-256 to publish now."""
    try:
        draw = lottery_services.commit_seed(_period(period_id), entries_per_group=entries_per_group,
                                            max_preferences=max_preferences)
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    click.echo(f"period {period_id}: publish this seed commitment (SHA-256): {draw.seed_commitment}")


@bp.cli.command("draw")
@click.argument("period_id", metavar="PERIOD", type=int)
def draw_command(period_id: int) -> None:
    """Draw PERIOD over its free lottery slots, store the result and queue the result e-mails."""
    period = _period(period_id)
    try:
        result = lottery_services.run_draw(period, available=lottery_services.lottery_slots(period))
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    db.session.commit()
    draw = db.session.query(LotteryDraw).filter_by(period_id=period_id).one()
    click.echo(f"period {period_id}: {len(result.order)} entries, {len(draw.available_slots or ())} slots, "
               f"{len(result.awards)} won")
    click.echo(f"seed (publish now): {draw.seed}")
    click.echo(f"result digest: {draw.result_digest}")


@bp.cli.command("verify")
@click.argument("period_id", metavar="PERIOD", type=int)
@click.option("--seed", default=None, help="Check this seed (as published) instead of the stored one.")
def verify(period_id: int, seed: str | None) -> None:
    """Reproduce the draw of lottery period PERIOD; exit 1 if the seed or the result does not match."""
    period = _period(period_id)
    try:
        report = lottery_services.verify_period(period, seed=seed)
    except lottery_services.NotOpen as exc:
        raise click.ClickException(f"period {period_id} has not been drawn") from exc
    draw = db.session.query(LotteryDraw).filter_by(period_id=period_id).one()
    click.echo(f"period {period_id}: {len(report.result.order)} entries, {len(draw.available_slots or ())} slots, "
               f"{len(report.result.awards)} won")
    click.echo(f"seed commitment (SHA-256): {draw.seed_commitment}")
    click.echo(f"seed: {seed if seed is not None else draw.seed}")
    click.echo(f"seed matches commitment: {'yes' if report.seed_matches_commitment else 'NO'}")
    click.echo(f"result digest: stored {draw.result_digest}, recomputed {report.result.digest()}")
    for entry_id, (published, recomputed) in report.differences.items():
        click.echo(f"  entry {entry_id}: stored {published.token() if published else '-'}, "
                   f"recomputed {recomputed.token() if recomputed else '-'}")
    ok = report.ok and draw.result_digest == report.result.digest()
    click.echo("OK: the draw reproduces" if ok else "MISMATCH: the draw does not reproduce")
    if not ok:
        raise SystemExit(1)


@bp.cli.command("export")
@click.argument("period_id", metavar="PERIOD", type=int)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
def export(period_id: int, output) -> None:
    """Write the public record of drawn PERIOD as JSON (entries by number, groups pseudonymous, seed, result)."""
    try:
        document = lottery_services.export_period(_period(period_id))
    except DomainError as exc:
        raise click.ClickException(str(exc.message)) from exc
    json.dump(document, output, ensure_ascii=False, indent=1)
    output.write("\n")
