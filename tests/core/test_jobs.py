"""The job runner: schedules, one run per due key, retries and dead runs, the CLI, and parallel runners
(threads and real `flask jobs run-due` processes) that never run a job twice nor send a mail twice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.bookings import services as booking_services
from app.bookings.models import BookingState
from app.core.jobs import DailyAt, Every, Job, JobRegistry, JobRun, JobRunStatus, registry, run_due
from app.core.mail import OutboxMessage, queue_mail
from app.core.time import today_tokyo, utcnow
from app.extensions import db
from app.facilities.models import UserCategory
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 28, 9, 17, 30, tzinfo=UTC)  # 18:17:30 in Tokyo


class Counter:
    """A job that counts its calls (thread-safe) and can be slow enough for runners to overlap."""

    def __init__(self, *, delay: float = 0.0, fail_times: int = 0):
        self.calls = 0
        self.delay = delay
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def __call__(self, *, now):
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.delay:
            time_module.sleep(self.delay)
        if call <= self.fail_times:
            raise RuntimeError(f"failure {call}")
        return call


def _registry(*jobs: Job) -> JobRegistry:
    jobs_registry = JobRegistry()
    for job in jobs:
        jobs_registry.add(job)
    return jobs_registry


def _runs(app) -> list[tuple[str, str, str, int]]:
    with app.app_context():
        return [(r.job_name, r.due_key, r.status.value, r.attempts)
                for r in db.session.scalars(sa.select(JobRun).order_by(JobRun.job_name, JobRun.due_key))]


def _queue(app, count: int) -> None:
    with app.test_request_context():
        for n in range(count):
            queue_mail(to=f"resident{n}@example.jp", subject=f"お知らせ {n}", template="accounts/password_changed",
                       language="ja", user=type("U", (), {"display_name": f"利用者{n}"})(),
                       reset_url="http://localhost/account/forgot")
        db.session.commit()


# --- schedules -------------------------------------------------------------------------------------------


def test_every_keys_on_interval_starts_in_utc():
    five = Every(timedelta(minutes=5))
    assert five.due_key(NOW) == "2026-11-28T09:15Z"
    assert five.due_key(NOW + timedelta(minutes=2, seconds=29)) == "2026-11-28T09:15Z"
    assert five.due_key(NOW + timedelta(minutes=2, seconds=30)) == "2026-11-28T09:20Z"
    assert Every(timedelta(minutes=1)).due_key(NOW) == "2026-11-28T09:17Z"
    with pytest.raises(ValueError):
        Every(timedelta(seconds=30))


def test_daily_due_key_edges():
    daily = DailyAt(time(9, 0))
    assert daily.due_key(datetime(2026, 11, 28, 23, 59, tzinfo=UTC)) is None  # 08:59 JST on the 29th
    assert daily.due_key(datetime(2026, 11, 29, 0, 0, tzinfo=UTC)) == "2026-11-29"  # 09:00 JST
    assert daily.due_key(datetime(2026, 11, 29, 14, 59, tzinfo=UTC)) == "2026-11-29"  # 23:59 JST
    assert daily.due_key(datetime(2026, 11, 29, 15, 0, tzinfo=UTC)) is None  # 00:00 JST on the 30th


def test_registry_refuses_a_second_job_of_the_same_name():
    jobs = JobRegistry()
    first = Counter()
    jobs.add(Job("a", Every(timedelta(minutes=1)), first))
    jobs.add(Job("a", Every(timedelta(minutes=1)), first))  # the same job again (a re-import) is harmless
    with pytest.raises(ValueError):
        jobs.add(Job("a", Every(timedelta(minutes=1)), Counter()))
    assert len(jobs) == 1


def test_the_application_registers_expiry_mail_and_pruning_in_that_order():
    import app.jobs  # noqa: F401 - registers the jobs (create_app imports it; alone, this test must)

    names = [job.name for job in registry]
    assert names.index("bookings.expire-tentative") < names.index("mail.send-pending")
    assert "jobs.prune-runs" in names


# --- one run per due key ---------------------------------------------------------------------------------


def test_a_due_job_runs_once_per_key(app):
    counter = Counter()
    jobs = _registry(Job("count", Every(timedelta(minutes=5)), counter),
                     Job("daily", DailyAt(time(23, 0)), Counter()))
    with app.app_context():
        first = run_due(now=NOW, jobs=jobs)
        again = run_due(now=NOW + timedelta(minutes=2), jobs=jobs)  # same 5-minute interval
        later = run_due(now=NOW + timedelta(minutes=5), jobs=jobs)
    assert [(o.job, o.status) for o in first] == [("count", "succeeded"), ("daily", "not due")]
    assert first[0].result == "1"
    assert [(o.job, o.status) for o in again] == [("count", "already claimed"), ("daily", "not due")]
    assert [(o.job, o.due_key, o.status) for o in later][0] == ("count", "2026-11-28T09:20Z", "succeeded")
    assert counter.calls == 2
    assert _runs(app) == [("count", "2026-11-28T09:15Z", "succeeded", 1),
                          ("count", "2026-11-28T09:20Z", "succeeded", 1)]


def test_only_runs_the_named_jobs(app):
    a, b = Counter(), Counter()
    jobs = _registry(Job("a", Every(timedelta(minutes=1)), a), Job("b", Every(timedelta(minutes=1)), b))
    with app.app_context():
        outcomes = run_due(now=NOW, jobs=jobs, only={"b"})
    assert [o.job for o in outcomes] == ["b"]
    assert (a.calls, b.calls) == (0, 1)


def test_a_failing_job_is_rolled_back_recorded_retried_and_does_not_stop_the_others(app):
    def failing(*, now):
        db.session.add(OutboxMessage(recipient="x@example.jp", subject="s", body_text="b", language="ja"))
        db.session.flush()
        raise RuntimeError("boom")

    after = Counter()
    jobs = _registry(Job("failing", Every(timedelta(minutes=1)), failing, max_attempts=2),
                     Job("after", Every(timedelta(minutes=1)), after))
    with app.app_context():
        outcomes = run_due(now=NOW, jobs=jobs)
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0  # its write was rolled back
        db.session.rollback()  # end this read: on SQLite its transaction would hold the write lock
        retried = run_due(now=NOW, jobs=jobs)  # a later runner, same key: the failed run is tried again
        exhausted = run_due(now=NOW, jobs=jobs)
        error = db.session.scalar(sa.select(JobRun.error).where(JobRun.job_name == "failing"))
    assert [(o.job, o.status) for o in outcomes] == [("failing", "failed"), ("after", "succeeded")]
    assert outcomes[0].result == "RuntimeError: boom"
    assert [o.status for o in retried] == ["failed", "already claimed"]
    assert [o.status for o in exhausted] == ["already claimed", "already claimed"]  # max_attempts=2 spent
    assert after.calls == 1
    assert error == "RuntimeError: boom"
    assert ("failing", "2026-11-28T09:17Z", "failed", 2) in _runs(app)


def test_a_run_whose_runner_died_is_taken_over_after_its_lease_only(app):
    counter = Counter()
    job = Job("count", Every(timedelta(minutes=1)), counter, lease=timedelta(minutes=10))
    key = job.schedule.due_key(NOW)
    with app.app_context():
        db.session.add(JobRun(job_name="count", due_key=key, status=JobRunStatus.RUNNING, runner="dead:1",
                              started_at=utcnow() - timedelta(minutes=9)))
        db.session.commit()
        assert run_due(now=NOW, jobs=_registry(job))[0].status == "already claimed"  # may still be running
        db.session.execute(sa.update(JobRun).values(started_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
        assert run_due(now=NOW, jobs=_registry(job))[0].status == "succeeded"
    assert counter.calls == 1
    assert _runs(app) == [("count", key, "succeeded", 2)]


def test_pruning_keeps_recent_and_running_runs(app):
    old = utcnow() - timedelta(days=40)
    with app.app_context():
        db.session.add_all([
            JobRun(job_name="a", due_key="old", status=JobRunStatus.SUCCEEDED, runner="r", started_at=old),
            JobRun(job_name="a", due_key="stuck", status=JobRunStatus.RUNNING, runner="r", started_at=old),
            JobRun(job_name="a", due_key="new", status=JobRunStatus.FAILED, runner="r", started_at=utcnow()),
        ])
        db.session.commit()
        outcomes = run_due(now=datetime(2026, 11, 28, 20, 0, tzinfo=UTC), only={"jobs.prune-runs"})  # 05:00 JST
    assert [(o.job, o.status, o.result) for o in outcomes] == [("jobs.prune-runs", "succeeded", "1")]
    assert [(name, key) for name, key, _, _ in _runs(app)] == [("a", "new"), ("a", "stuck"),
                                                           ("jobs.prune-runs", "2026-11-29")]


def test_the_registered_jobs_expire_bookings_and_send_mail(app, outbox):
    center = make_center(tentative_hold_days=3)
    user_id = make_user().id
    with app.app_context():
        from app.accounts.models import User

        booking = booking_services.book_slots(
            user=db.session.get(User, user_id), room_id=center.meeting_id, day=today_tokyo() + timedelta(days=30),
            unit_keys=[f"s{center.slot_ids['morning']}"], attendees=5, category=UserCategory.RESIDENT,
            purpose="町会の会議")
        db.session.commit()
        booking_id = booking.id
        assert booking.state == BookingState.TENTATIVE
    _queue(app, 2)
    with app.app_context():
        # Booking may queue its own mail too (a confirmation): every waiting message must go.
        waiting = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None)))
        db.session.rollback()
        outcomes = run_due(now=utcnow() + timedelta(days=4), only={"bookings.expire-tentative", "mail.send-pending"})
        state = db.session.get(type(booking), booking_id).state
    assert waiting >= 2
    assert [(o.job, o.status, o.result) for o in outcomes] == [
        ("bookings.expire-tentative", "succeeded", "1"), ("mail.send-pending", "succeeded", str(waiting))]
    assert state == BookingState.EXPIRED
    assert len(outbox) == waiting
    assert {"お知らせ 0", "お知らせ 1"} <= {m["Subject"] for m in outbox}


# --- the CLI ---------------------------------------------------------------------------------------------


def test_cli_runs_due_jobs_lists_them_and_refuses_unknown_names(app, outbox):
    _queue(app, 1)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run-due", "--job", "mail.send-pending"])
    assert result.exit_code == 0, result.output
    assert "mail.send-pending [" in result.output and "succeeded -> 1" in result.output
    assert len(outbox) == 1
    listing = runner.invoke(args=["jobs", "list"])
    assert "mail.send-pending: every 1 min; last " in listing.output and "succeeded" in listing.output
    assert "jobs.prune-runs: daily from 03:30 Asia/Tokyo; never run" in listing.output
    bad = runner.invoke(args=["jobs", "run-due", "--job", "nope"])
    assert bad.exit_code == 2 and "unknown job(s): nope" in bad.output


def test_cli_exits_1_when_a_job_failed(app, monkeypatch):
    def broken(*, now):
        raise RuntimeError("smtp down")

    monkeypatch.setitem(registry._jobs, "test.broken", Job("test.broken", Every(timedelta(minutes=1)), broken))
    result = app.test_cli_runner().invoke(args=["jobs", "run-due", "--job", "test.broken"])
    assert result.exit_code == 1
    assert "test.broken" in result.output and "failed -> RuntimeError: smtp down" in result.output


# --- parallel runners ------------------------------------------------------------------------------------


def _in_parallel(app, target, count: int = 2) -> list:
    results, errors = at_once_in_app(app, [target] * count)
    assert errors == []
    return results


def test_parallel_runners_never_run_a_job_twice_nor_send_a_mail_twice(app, outbox):
    from app.core.mail import send_pending

    _queue(app, 20)
    slow = Counter(delay=0.3)  # still running when the other runner reaches it
    jobs = _registry(Job("slow", Every(timedelta(minutes=1)), slow),
                     Job("mail", Every(timedelta(minutes=1)), lambda *, now: send_pending()))
    outcomes = _in_parallel(app, lambda: run_due(now=NOW, jobs=jobs), count=3)
    statuses = sorted((o.job, o.status) for run in outcomes for o in run)
    assert statuses == [("mail", "already claimed"), ("mail", "already claimed"), ("mail", "succeeded"),
                        ("slow", "already claimed"), ("slow", "already claimed"), ("slow", "succeeded")]
    assert slow.calls == 1
    assert sorted(m["To"] for m in outbox) == sorted(f"resident{n}@example.jp" for n in range(20))


def test_control_without_the_claim_the_same_job_runs_twice(app):
    """Shows the parallel test can see a double run: two runners calling the job directly both run it."""
    slow = Counter(delay=0.3)
    _in_parallel(app, lambda: slow(now=NOW), count=2)
    assert slow.calls == 2


@pytest.mark.slow
def test_two_cli_processes_at_once_send_each_mail_once(app, tmp_path):
    _queue(app, 12)
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(FLASK_APP="wsgi.py", TSUDOI_ENV="development", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               SECRET_KEY="jobs-test-secret-key-0123456789", TSUDOI_INSTANCE_DIR=str(tmp_path / "instance"),
               MAIL_BACKEND="console", PYTHONUNBUFFERED="1")
    flask = [sys.executable, "-m", "flask", "jobs", "run-due"]
    processes = [subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    mail_log = "".join(err for _, err in outputs)
    recipients = sorted(line.split(": ", 1)[1] for line in mail_log.splitlines() if line.startswith("To: "))
    assert recipients == sorted(f"resident{n}@example.jp" for n in range(12))  # each exactly once
    # Each (job, due key) succeeded in one process; the other process skipped it (unless a minute turned).
    runs = _runs(app)
    assert stdout.count("mail.send-pending [") == 2
    assert all(status == "succeeded" and attempts == 1 for _, _, status, attempts in runs)
    assert len(runs) == len({(name, key) for name, key, _, _ in runs})
    assert stdout.count("succeeded") == len(runs)
