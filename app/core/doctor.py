"""`flask doctor`: check a deployment's settings and say what to do about each problem.

Each check prints OK, WARN or FAIL with what was found and, when not OK, what to do. The command exits 1 when
any check FAILs (so a deploy script can stop), 0 otherwise. It reads the configuration of the app it runs in
(the same environment as the web workers: run it with the service's environment file) and touches the
database, Redis and the mail server only to see that they answer. docs/deploy.md explains the set-up it checks.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Blueprint, current_app

from app.core.jobs import JobRun, JobRunStatus
from app.core.time import utcnow
from app.extensions import db

OK, WARN, FAIL = "OK", "WARN", "FAIL"
# Secrets that ship in the code or in examples: never a production secret.
KNOWN_SECRETS = {"test-secret-key-not-for-production", "change-me", "changeme", "secret", "dev", "development"}
MIN_SECRET_LENGTH = 32
SECRET_TODO = ("set SECRET_KEY to a long random value: "  # noqa: S105 - advice, not a secret
               "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
# `flask jobs run-due` runs every minute; mail and expiries wait for it.
JOBS_STALE_AFTER = timedelta(minutes=10)
NETWORK_TIMEOUT_S = 3

bp = Blueprint("doctor", __name__, cli_group=None)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: STATUS (OK, WARN, FAIL), what was found, and what to do when not OK."""

    check: str
    status: str
    found: str
    todo: str = ""


def _production() -> bool:
    return current_app.config.get("ENV_NAME") == "production"


def _bad(check: str, found: str, todo: str) -> Finding:
    """FAIL in production, WARN elsewhere (a developer's machine need not be deployable)."""
    return Finding(check, FAIL if _production() else WARN, found, todo)


def check_secret() -> Finding:
    key = current_app.config.get("SECRET_KEY") or ""
    if key in KNOWN_SECRETS:
        return _bad("secret", "SECRET_KEY is a value known from the code or examples",
                    SECRET_TODO)
    if len(key) < MIN_SECRET_LENGTH:
        return _bad("secret", f"SECRET_KEY has {len(key)} characters, fewer than {MIN_SECRET_LENGTH}",
                    SECRET_TODO)
    return Finding("secret", OK, f"SECRET_KEY set ({len(key)} characters)")


def check_database() -> list[Finding]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = db.engine.url
    findings = []
    if url.get_backend_name() == "sqlite":
        findings.append(_bad("database-kind", "SQLite", "use PostgreSQL in production: DATABASE_URL=postgresql://..."))
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # noqa: BLE001 - any failure to connect (or a missing driver) is the finding
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0][:200]
        findings.append(Finding("database", FAIL, f"cannot connect to {url.render_as_string(hide_password=True)}: "
                                f"{reason}", "start the database or correct DATABASE_URL"))
        return findings
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    if current != heads:
        findings.append(Finding(
            "migrations", FAIL,
            f"database at {', '.join(sorted(current)) or 'no revision'}, code at {', '.join(sorted(heads))}",
            "run `flask db upgrade heads` (after a backup: see docs/deploy.md)"))
    else:
        findings.append(Finding("database", OK, f"{url.get_backend_name()} answers; migrations at head"))
    return findings


def check_redis() -> Finding:
    uri = str(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if uri.startswith("memory://"):
        return Finding("redis", WARN, "no REDIS_URL: rate limits are kept in each process's memory, so N workers "
                       "allow N times the login attempts",
                       "set REDIS_URL (required in production unless TSUDOI_ALLOW_MEMORY_LIMITS=1 and one process "
                       "serves)")
    import redis

    parts = urlsplit(uri)
    shown = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=NETWORK_TIMEOUT_S, socket_timeout=NETWORK_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, ValueError) as error:
        return Finding("redis", FAIL, f"{shown} does not answer: {error}", "start Redis or correct REDIS_URL")
    return Finding("redis", OK, f"{shown} answers; rate limits are shared by every process")


def check_proxy() -> Finding:
    count = int(current_app.config.get("PROXY_FIX_X_FOR") or 0)
    if count == 0:
        if _production():
            return Finding("proxy", WARN, "PROXY_FIX_X_FOR=0: X-Forwarded-For is ignored",
                           "behind nginx set PROXY_FIX_X_FOR=1 (one per proxy in front of gunicorn): otherwise every "
                           "client has the proxy's address and shares one login limit")
        return Finding("proxy", OK, "PROXY_FIX_X_FOR=0: client addresses taken from the connection")
    return Finding("proxy", OK if count == 1 else WARN,
                   f"PROXY_FIX_X_FOR={count}: the last {count} X-Forwarded-For entries are trusted",
                   "" if count == 1 else
                   f"check that exactly {count} proxies stand in front of gunicorn: one too many lets clients choose "
                   "their address (and escape the per-address login limit)")


def check_mail() -> Finding:
    config = current_app.config
    backend = config.get("MAIL_BACKEND")
    if backend != "smtp":
        return _bad("mail", f"MAIL_BACKEND={backend}: mail is not delivered",
                    "set MAIL_BACKEND=smtp and MAIL_SERVER, MAIL_PORT (and MAIL_USERNAME, MAIL_PASSWORD)")
    sender = str(config.get("MAIL_DEFAULT_SENDER") or "")
    server, port = config.get("MAIL_SERVER"), int(config.get("MAIL_PORT") or 25)
    try:
        socket.create_connection((server, port), timeout=NETWORK_TIMEOUT_S).close()
    except OSError as error:
        return Finding("mail", FAIL, f"SMTP server {server}:{port} does not answer: {error}",
                       "start the mail relay or correct MAIL_SERVER / MAIL_PORT")
    if sender.endswith(("example.jp>", "example.jp")):
        return _bad("mail", f"MAIL_DEFAULT_SENDER={sender!r} is the example address",
                    "set MAIL_DEFAULT_SENDER to the ward's sending address")
    return Finding("mail", OK, f"SMTP server {server}:{port} answers; sender {sender}")


def check_base_url() -> Finding:
    url = str(current_app.config.get("BASE_URL") or "")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return Finding("base-url", FAIL, f"BASE_URL={url!r} is not an absolute address",
                       "set BASE_URL to the public address, e.g. https://tsudoi.example.city.minato.tokyo.jp")
    if _production() and (parts.scheme != "https" or parts.hostname in {"localhost", "127.0.0.1", "::1"}):
        return Finding("base-url", FAIL, f"BASE_URL={url} is not a public https address: links in mail would be "
                       "wrong or insecure", "set BASE_URL to the public https address")
    return Finding("base-url", OK, f"BASE_URL={url}")


def check_jobs() -> Finding:
    try:
        last = db.session.scalar(sa.select(sa.func.max(JobRun.started_at)))
        since = utcnow() - timedelta(days=1)
        failed = sorted(set(db.session.scalars(sa.select(JobRun.job_name).where(
            JobRun.status == JobRunStatus.FAILED, JobRun.started_at >= since))))
    except Exception:  # noqa: BLE001 - a database that fails here was reported by check_database
        db.session.rollback()
        return Finding("jobs", FAIL, "cannot read job_runs", "fix the database and its migrations first")
    todo = "run `flask jobs run-due` every minute (deploy/tsudoi-jobs.timer; docs/deploy.md)"
    if last is None:
        return _bad("jobs", "`flask jobs run-due` has never run: mail stays in the outbox", todo)
    age = utcnow() - last
    if age > JOBS_STALE_AFTER:
        return _bad("jobs", f"the last job ran {int(age.total_seconds() // 60)} minutes ago: mail and expiries wait",
                    todo)
    if failed:
        return Finding("jobs", WARN, f"failed in the last day: {', '.join(failed)}",
                       "see `flask jobs list` and the error column of job_runs")
    return Finding("jobs", OK, f"last run {int(age.total_seconds())} s ago")


CHECKS: tuple[Callable[[], Finding | list[Finding]], ...] = (
    check_secret, check_database, check_redis, check_proxy, check_mail, check_base_url, check_jobs,
)


def run_checks() -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        result = check()
        findings.extend(result if isinstance(result, list) else [result])
    return findings


@bp.cli.command("doctor")
def doctor_command() -> None:
    """Check this deployment's settings (secret, database, Redis, proxy, mail, base URL, jobs); exit 1 on FAIL."""
    findings = run_checks()
    for finding in findings:
        line = f"{finding.status:<4} {finding.check}: {finding.found}"
        if finding.todo and finding.status != OK:
            line += f"\n     -> {finding.todo}"
        click.echo(line)
    failed = sum(f.status == FAIL for f in findings)
    warned = sum(f.status == WARN for f in findings)
    click.echo(f"{failed} failed, {warned} warnings, {len(findings) - failed - warned} ok")
    if failed:
        raise SystemExit(1)
