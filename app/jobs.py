"""Registers every domain's background jobs with the runner (`flask jobs run-due`); imported by create_app.

Jobs call the domains' services: the rules stay in the domain, this file only says when they run. Order
matters a little: jobs that queue mail come before the mail sender, so their messages leave in the same run.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.alerts import reminders
from app.alerts import services as alerts
from app.alerts.services import url_context
from app.bookings import services as booking_services
from app.core.jobs import DailyAt, Every, Job, prune_runs, registry
from app.core.mail import send_pending
from app.core.time import to_tokyo
from app.extensions import db
from app.lottery import entries
from app.lottery import services as lottery_services
from app.organizations import services as organization_services
from app.participation import reports
from app.utilization import rollup


def _expire_tentative_bookings(*, now: datetime) -> int:
    """Expire 仮予約 past their deadline and release their slots."""
    return booking_services.expire_tentative(now=now)


def _draw_due_lotteries(*, now: datetime) -> int:
    """Draw committed lottery periods whose draw date has come (result e-mails are queued with the draw)."""
    return lottery_services.draw_due_periods(now=now)


def _release_unconfirmed_lottery_awards(*, now: datetime) -> int:
    """Release lottery awards not confirmed by their deadline (the entrant is e-mailed; idempotent)."""
    return entries.release_expired_awards(now=now)


def _open_lottery_leftovers(*, now: datetime) -> int:
    """Mark lottery periods whose leftovers opened first-come and announce their released slots (once)."""
    return entries.open_due_leftovers(now=now)


def _remind_overdue_reports(*, now: datetime) -> int:
    """E-mail organizers whose participation report is overdue (one reminder per occurrence and due key)."""
    return reports.send_overdue_reminders(now=now)


def _notify_freed_slots(*, now: datetime) -> int:
    """E-mail the watchers of slots freed since the last run that are still free (each freed slot once)."""
    with alerts.url_context():
        return alerts.notify_freed_slots(now=now)


def _remind_registrants(*, now: datetime) -> int:
    """Remind confirmed registrants the day before their event (once each, with a one-click cancel link)."""
    with url_context():
        return reminders.send_event_reminders(now=now)


def _remind_bookings(*, now: datetime) -> int:
    """Remind bookers the day before use and before a 仮予約's payment deadline (once each, with a cancel link)."""
    with url_context():
        return reminders.send_booking_reminders(now=now)


def _prune_alerts(*, now: datetime) -> int:
    """Delete slot watches and freed-slot records of past days."""
    return alerts.prune(now=now)


def _send_pending_mail(*, now: datetime) -> int:
    """Deliver e-mails waiting in the outbox (each message is claimed with a row lock as it goes)."""
    return send_pending()


def _extend_utilization_rollup(*, now: datetime) -> int:
    """Build the utilization rollup if nobody did, and extend it to the end of next fiscal year."""
    return rollup.extend(db.session, now=now)


def _settle_stale_utilization(*, now: datetime) -> int:
    """Recompute the utilization rollup keys requests left stale (normally settled right after each response)."""
    return rollup.settle_stale(db.session)


def _expire_organization_verifications(*, now: datetime) -> int:
    """Mark groups whose verification term ended before today (Tokyo) as expired; their officers are e-mailed."""
    return organization_services.expire_verifications(today=to_tokyo(now).date())


def _prune_job_runs(*, now: datetime) -> int:
    """Delete records of job runs older than 30 days."""
    return prune_runs(now=now)


registry.add(Job("bookings.expire-tentative", Every(timedelta(minutes=1)), _expire_tentative_bookings,
                 _expire_tentative_bookings.__doc__ or ""))
registry.add(Job("lottery.draw-due", DailyAt(time(10, 0)), _draw_due_lotteries, _draw_due_lotteries.__doc__ or ""))
registry.add(Job("lottery.release-unconfirmed", Every(timedelta(minutes=1)), _release_unconfirmed_lottery_awards,
                 _release_unconfirmed_lottery_awards.__doc__ or ""))
registry.add(Job("lottery.open-leftovers", Every(timedelta(minutes=1)), _open_lottery_leftovers,
                 _open_lottery_leftovers.__doc__ or ""))
registry.add(Job("participation.remind-overdue-reports", DailyAt(time(9, 0)), _remind_overdue_reports,
                 _remind_overdue_reports.__doc__ or ""))
registry.add(Job("alerts.freed-slots", Every(timedelta(minutes=1)), _notify_freed_slots,
                 _notify_freed_slots.__doc__ or ""))
registry.add(Job("alerts.remind-registrants", Every(timedelta(minutes=15)), _remind_registrants,
                 _remind_registrants.__doc__ or ""))
registry.add(Job("alerts.remind-bookings", Every(timedelta(minutes=15)), _remind_bookings,
                 _remind_bookings.__doc__ or ""))
registry.add(Job("organizations.expire-verifications", DailyAt(time(0, 10)), _expire_organization_verifications,
                 _expire_organization_verifications.__doc__ or ""))
registry.add(Job("mail.send-pending", Every(timedelta(minutes=1)), _send_pending_mail,
                 _send_pending_mail.__doc__ or ""))
registry.add(Job("alerts.prune", DailyAt(time(3, 45)), _prune_alerts, _prune_alerts.__doc__ or ""))
registry.add(Job("utilization.extend-rollup", DailyAt(time(2, 30)), _extend_utilization_rollup,
                 _extend_utilization_rollup.__doc__ or ""))
registry.add(Job("utilization.settle-stale", Every(timedelta(minutes=1)), _settle_stale_utilization,
                 _settle_stale_utilization.__doc__ or ""))
registry.add(Job("jobs.prune-runs", DailyAt(time(3, 30)), _prune_job_runs, _prune_job_runs.__doc__ or ""))
