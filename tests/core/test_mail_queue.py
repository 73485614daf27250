"""Optional RQ mail queue: with REDIS_URL and MAIL_QUEUE=rq a request enqueues one delivery job; a burst worker
delivers the outbox once; without the setting (or without Redis) nothing is enqueued and run-due still delivers."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.core import mail_queue
from app.core.mail import OutboxMessage
from app.extensions import db
from tests.apps import extra_app
from tests.factories import make_user, post_form
from tests.redis_server import TEST_REDIS_URL, redis_or_skip

REDIS_URL = TEST_REDIS_URL


def _redis():
    return redis_or_skip(REDIS_URL)  # skipped without Redis, except with CI=true: a failure there


def _waiting(queued_app) -> int:
    with queued_app.app_context():
        return db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None)))


def test_a_request_enqueues_delivery_and_a_burst_worker_sends_each_mail_once(app):
    from rq import Queue, SimpleWorker

    connection = _redis()
    name = f"tsudoi-test-mail-{uuid.uuid4().hex}"
    user = make_user()
    with extra_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                   RATELIMIT_STORAGE_URI="memory://", REDIS_URL=REDIS_URL, MAIL_QUEUE="rq", MAIL_RQ_QUEUE=name,
                   MAIL_SEND_AFTER_REQUEST=False) as queued_app:
        queue = Queue(name, connection=connection)
        try:
            client = queued_app.test_client()
            response = post_form(client, "/account/forgot", {"email": user.email})
            assert response.status_code == 200
            assert queue.count == 1  # one delivery job for the request
            assert _waiting(queued_app) == 1  # nothing sent yet: the worker sends
            delivered = queued_app.extensions.setdefault("mail_delivered", [])
            queue.enqueue(mail_queue.deliver_outbox)  # a duplicate job (a retry) must not send twice
            with queued_app.app_context():
                SimpleWorker([queue], connection=connection).work(burst=True)
            assert [m["To"] for m in delivered] == [user.email]
            assert _waiting(queued_app) == 0
            assert queue.count == 0
        finally:
            queue.delete(delete_jobs=True)


def test_without_the_setting_or_without_redis_nothing_is_enqueued(app):
    assert not mail_queue.enabled(app)  # the test app: outbox + run-due only
    with extra_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                   RATELIMIT_STORAGE_URI="memory://", REDIS_URL="redis://127.0.0.1:1/0", MAIL_QUEUE="rq",
                   MAIL_SEND_AFTER_REQUEST=False) as queued_app:
        assert mail_queue.enabled(queued_app)
        user = make_user()
        response = post_form(queued_app.test_client(), "/account/forgot", {"email": user.email})
        assert response.status_code == 200  # Redis down: the request still succeeds, the mail waits in the outbox
        assert _waiting(queued_app) == 1
