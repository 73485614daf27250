"""Optional mail queue (RQ): with REDIS_URL set and MAIL_QUEUE=rq, a request that queued mail enqueues one RQ job
that delivers the outbox at once, instead of waiting for the next `flask jobs run-due` minute.

The outbox table stays the single source of truth: the RQ job only calls app.core.mail.send_pending, which
claims each message with a row lock and marks it sent, so a job run twice, a job racing `run-due`, or a lost
Redis never sends a message twice nor loses one (run-due still delivers what the queue did not). Nothing requires
Redis: when it is unset or does not answer, mail goes out through run-due as before.

Worker: `rq worker --url "$REDIS_URL" tsudoi-mail` in the app directory with the app's environment (see
docs/jobs.md); each job builds the app once per worker process (create_app reads the same settings).
"""

from __future__ import annotations

from flask import current_app, g, has_app_context

from app.core.mail import send_pending

_worker_app = None  # the app of a worker process, built on its first job


def enabled(app) -> bool:
    """True when mail should go through the RQ queue."""
    return bool(app.config.get("REDIS_URL")) and app.config.get("MAIL_QUEUE") == "rq"


def queue(app):
    """The RQ queue mail jobs go to (MAIL_RQ_QUEUE, default 'tsudoi-mail')."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
    return Queue(app.config.get("MAIL_RQ_QUEUE") or "tsudoi-mail", connection=connection)


def deliver_outbox() -> int:
    """The RQ job: deliver waiting outbox messages (in the worker's app, or the current one in tests)."""
    global _worker_app

    if has_app_context():
        return send_pending()
    if _worker_app is None:
        from app import create_app  # late: the RQ worker builds its own app; the factory imports this module

        _worker_app = create_app()
    with _worker_app.app_context():
        return send_pending()


def enqueue_delivery(app) -> bool:
    """Enqueue one delivery job; False (and a log line) when Redis does not answer: run-due delivers later."""
    try:
        queue(app).enqueue(deliver_outbox, job_timeout=600, result_ttl=0, failure_ttl=86400)
    except Exception:  # noqa: BLE001 - Redis is an accelerator only; the outbox keeps the message
        app.logger.warning("mail queue unavailable; the outbox waits for run-due", exc_info=True)
        return False
    return True


def init_app(app) -> None:
    """After a successful request that queued mail, enqueue its delivery (when the queue is enabled)."""
    if not enabled(app):
        return

    @app.after_request
    def _enqueue_mail(response):
        if g.get("mail_queued") and response.status_code < 400 and not current_app.config.get(
                "MAIL_SEND_AFTER_REQUEST"):
            g.mail_queued = False
            enqueue_delivery(current_app._get_current_object())
        return response
