"""Background jobs: a registry of named jobs with schedules, and a runner that claims each due run once.

`flask jobs run-due` (from cron or a systemd timer, on one machine or several) asks every registered job for
its *due key* at this instant: a string naming the run that is due now ("2026-11-28T18:15Z" for a job due
every minute, the Tokyo date for a daily job), or None when nothing is due. The runner then claims
(job name, due key) by inserting a row in `job_runs`, whose UNIQUE constraint lets exactly one runner win,
on PostgreSQL (the second insert waits for the first to commit, then fails) and on SQLite (writers are
serialised by BEGIN IMMEDIATE). Only the winner runs the job; the others skip it.

A failed run may be claimed again by a later runner (up to `max_attempts`), and a run still marked
"running" after its `lease` is taken to be dead (its runner crashed) and may be claimed again: both take
over with one conditional UPDATE, so again only one runner wins. Jobs must therefore be idempotent: a job
that is run again after a crash half-way must not repeat what it already did (the mail outbox marks each
message sent as it goes; booking expiry only touches bookings still tentative).

Missed runs are not replayed one by one: when cron was stopped for an hour, the next run-due runs each job
once for the current key. Jobs are written to catch up by themselves (send everything waiting, expire
everything past its deadline).
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import write_intent
from app.core.time import to_tokyo, utcnow
from app.extensions import db


class Schedule(Protocol):
    """When a job is due: the key of the run due at NOW, or None."""

    def due_key(self, now: datetime) -> str | None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Every:
    """Due once per INTERVAL; intervals are aligned on the Unix epoch in UTC, the key is the interval's start."""

    interval: timedelta

    def __post_init__(self):
        if self.interval < timedelta(minutes=1) or self.interval.total_seconds() % 60:
            raise ValueError("an interval is a whole number of minutes, at least one")

    def due_key(self, now: datetime) -> str:
        """The start of the interval NOW falls in, e.g. '2026-11-28T18:15Z'."""
        seconds = int(self.interval.total_seconds())
        start = int(now.timestamp()) // seconds * seconds
        return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%MZ")

    def describe(self) -> str:
        """Human-readable schedule for `flask jobs list`."""
        return f"every {int(self.interval.total_seconds() // 60)} min"


@dataclass(frozen=True)
class DailyAt:
    """Due once per Tokyo day, from the Tokyo wall-clock time AT on; the key is the Tokyo date."""

    at: time

    def due_key(self, now: datetime) -> str | None:
        """The Tokyo date once its AT has passed, else None (not yet due today)."""
        local = to_tokyo(now)
        return local.date().isoformat() if local.time().replace(tzinfo=None) >= self.at else None

    def describe(self) -> str:
        """Human-readable schedule for `flask jobs list`."""
        return f"daily from {self.at:%H:%M} Asia/Tokyo"


JobFunc = Callable[..., object]  # called as func(now=now); returns a short result (a count) or None


@dataclass(frozen=True)
class Job:
    """A named job: what runs, when, and how long a run may take before it counts as dead."""

    name: str
    schedule: Schedule
    func: JobFunc
    description: str = ""
    lease: timedelta = timedelta(minutes=30)
    max_attempts: int = 3


@dataclass
class JobRegistry:
    """The jobs known to the runner, in registration order (earlier jobs run first in a run-due)."""

    _jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, job: Job) -> Job:
        """Register JOB; registering the same name twice with another function is an error."""
        existing = self._jobs.get(job.name)
        if existing is not None and existing.func is not job.func:
            raise ValueError(f"job {job.name!r} is already registered")
        self._jobs[job.name] = job
        return job

    def job(self, name: str, schedule: Schedule, **options) -> Callable[[JobFunc], JobFunc]:
        """Decorator form of add(): `@registry.job("bookings.expire", Every(timedelta(minutes=1)))`."""

        def decorate(func: JobFunc) -> JobFunc:
            self.add(Job(name=name, schedule=schedule, func=func, description=(func.__doc__ or "").strip(),
                         **options))
            return func

        return decorate

    def get(self, name: str) -> Job:
        """The job called NAME (KeyError when unknown)."""
        return self._jobs[name]

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)


registry = JobRegistry()  # the application's jobs; app/jobs.py registers every domain's


class JobRunStatus(enum.StrEnum):
    """State of one claimed run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(db.Model):
    """One claimed run of a job for one due key; UNIQUE (job_name, due_key) makes the claim exclusive."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(sa.String(100))
    due_key: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[JobRunStatus] = mapped_column(
        sa.Enum(JobRunStatus, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    runner: Mapped[str] = mapped_column(sa.String(200))  # host:pid of the process that claimed it last
    attempts: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("job_name", "due_key", name="uq_job_runs_job_name_due_key"),)


@dataclass(frozen=True)
class RunOutcome:
    """What run-due did with one job: ran it (succeeded/failed), or skipped it and why."""

    job: str
    due_key: str | None
    status: str  # "succeeded", "failed", "not due", "already claimed"
    result: str | None = None


def runner_name() -> str:
    """This process, as recorded on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _claim(session: Session, job: Job, due_key: str, *, runner: str) -> bool:
    """Claim (job, due key) for this runner in its own committed transaction; True if this runner won."""
    started = utcnow()
    session.add(JobRun(job_name=job.name, due_key=due_key, status=JobRunStatus.RUNNING, runner=runner,
                       attempts=1, started_at=started))
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
    # Someone claimed it before. Take it over only if that run failed (attempts left) or died (lease over):
    # one conditional UPDATE, so of several runners trying at once exactly one matches the row.
    table = JobRun.__table__
    taken = session.execute(
        sa.update(table)
        .where(table.c.job_name == job.name, table.c.due_key == due_key)
        .where(sa.or_(
            sa.and_(table.c.status == JobRunStatus.FAILED.value, table.c.attempts < job.max_attempts),
            sa.and_(table.c.status == JobRunStatus.RUNNING.value, table.c.started_at < started - job.lease),
        ))
        .values(status=JobRunStatus.RUNNING.value, runner=runner, attempts=table.c.attempts + 1,
                started_at=started, finished_at=None, error=None, result=None)
    ).rowcount
    session.commit()
    return taken == 1


def _finish(session: Session, job: Job, due_key: str, *, status: JobRunStatus, result: str | None,
            error: str | None) -> None:
    table = JobRun.__table__
    session.execute(
        sa.update(table)
        .where(table.c.job_name == job.name, table.c.due_key == due_key)
        .values(status=status.value, finished_at=utcnow(), result=result, error=error)
    )
    session.commit()


def run_due(*, now: datetime | None = None, jobs: JobRegistry | None = None,
            only: set[str] | frozenset[str] | None = None) -> list[RunOutcome]:
    """Run every job due at NOW that no other runner has claimed; safe to call from several processes at once.

    Each job runs in the app's session, committed after it returns (rolled back if it raises); one failing
    job does not stop the others. ONLY restricts the run to the named jobs. Call it with no transaction open
    in the app's session (as the CLI does): on SQLite that transaction would hold the write lock the claims need.
    """
    now = now or utcnow()
    jobs = registry if jobs is None else jobs
    runner = runner_name()
    outcomes: list[RunOutcome] = []
    # Claims write: on SQLite they must begin IMMEDIATE even if this thread last served a GET.
    intent = write_intent.set(True)
    try:
        with Session(db.engine) as claims:
            for job in jobs:
                if only is not None and job.name not in only:
                    continue
                due_key = job.schedule.due_key(now)
                if due_key is None:
                    outcomes.append(RunOutcome(job.name, None, "not due"))
                    continue
                if not _claim(claims, job, due_key, runner=runner):
                    outcomes.append(RunOutcome(job.name, due_key, "already claimed"))
                    continue
                try:
                    value = job.func(now=now)
                    db.session.commit()
                except Exception as exc:  # noqa: BLE001 - recorded on the run; the other jobs still run
                    db.session.rollback()
                    current_app.logger.exception("job %s (%s) failed", job.name, due_key)
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                    _finish(claims, job, due_key, status=JobRunStatus.FAILED, result=None, error=error)
                    outcomes.append(RunOutcome(job.name, due_key, "failed", error))
                    continue
                result = None if value is None else str(value)[:200]
                _finish(claims, job, due_key, status=JobRunStatus.SUCCEEDED, result=result, error=None)
                outcomes.append(RunOutcome(job.name, due_key, "succeeded", result))
    finally:
        write_intent.reset(intent)
    return outcomes


def prune_runs(*, now: datetime, keep: timedelta = timedelta(days=30)) -> int:
    """Delete finished job runs older than KEEP (the table would otherwise grow by one row per job and run)."""
    table = JobRun.__table__
    return db.session.execute(
        sa.delete(table).where(table.c.started_at < now - keep, table.c.status != JobRunStatus.RUNNING.value)
    ).rowcount
