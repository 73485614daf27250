"""Mail delivery through a real SMTP server on 127.0.0.1 (aiosmtpd), failures, the CLI, and no double sends."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.core.i18n import use_language
from app.core.mail import OutboxMessage, queue_mail, send_pending
from app.extensions import db
from tests.concurrency import at_once_in_app
from tests.factories import make_user, post_form


class Recorder:
    """An SMTP handler that keeps what it receives; DELAY makes each delivery slow enough to overlap."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class Refuser:
    """An SMTP server that refuses every recipient."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return "550 5.1.1 Mailbox unavailable"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app, monkeypatch):
    """Start an SMTP server on 127.0.0.1 and point the app's mail settings at it."""
    servers = []

    def start(handler):
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
        controller.start()
        servers.append(controller)
        monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
        monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
        monkeypatch.setitem(app.config, "MAIL_USE_SSL", False)
        monkeypatch.setitem(app.config, "MAIL_USERNAME", None)
        return handler

    yield start
    for controller in servers:
        controller.stop()


def _queue(app, count: int, *, to: str = "resident@example.jp", language: str = "ja") -> list[int]:
    with app.test_request_context():
        ids = []
        for n in range(count):
            message = queue_mail(
                to=to, subject=f"お知らせ {n}", template="accounts/password_changed", language=language,
                user=type("U", (), {"display_name": f"利用者{n}"})(), reset_url="http://localhost/account/forgot",
            )
            db.session.flush()
            ids.append(message.id)
        db.session.commit()
        return ids


def _outbox_rows(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_reset_mail_reaches_the_smtp_server_in_the_users_language(app, client, smtp_server):
    server = smtp_server(Recorder())
    user = make_user(email="emily@example.com", language="en")
    response = post_form(client, "/account/forgot", {"email": "Emily@Example.com"})
    assert response.status_code == 200
    [received] = server.messages
    assert received["To"] == "emily@example.com"
    assert server.envelopes[0][1] == ["emily@example.com"]
    assert received["From"] == app.config["MAIL_DEFAULT_SENDER"]
    with app.test_request_context(), use_language("en"):
        from flask_babel import gettext

        english_subject = gettext("【つどい】パスワードの再設定")
    assert received["Subject"] == english_subject
    assert "【つどい】" not in received["Subject"] or english_subject.startswith("【つどい】")
    body = received.get_body(preferencelist=("plain",)).get_content()
    assert "http://localhost/account/reset/" in body
    assert user.display_name in body
    [row] = _outbox_rows(app)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None


def test_a_failing_smtp_server_leaves_the_message_waiting(app, smtp_server):
    smtp_server(Refuser())
    [message_id] = _queue(app, 1)
    with app.app_context():
        assert send_pending() == 0
    [row] = _outbox_rows(app)
    assert row.id == message_id
    assert row.sent_at is None
    assert row.attempts == 1
    assert "SMTPRecipientsRefused" in row.last_error

    # The next run, with a working server, delivers it and clears the error.
    server = smtp_server(Recorder())
    with app.app_context():
        assert send_pending() == 1
    [row] = _outbox_rows(app)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None
    assert len(server.messages) == 1


def test_an_unreachable_server_counts_attempts_up_to_the_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", _free_port())  # nobody listens there
    _queue(app, 1)
    for _ in range(app.config["MAIL_MAX_ATTEMPTS"] + 2):
        with app.app_context():
            assert send_pending() == 0
    [row] = _outbox_rows(app)
    assert row.attempts == app.config["MAIL_MAX_ATTEMPTS"]
    assert "ConnectionRefusedError" in row.last_error and row.sent_at is None


def test_a_message_that_cannot_be_built_does_not_block_the_others(app, smtp_server):
    server = smtp_server(Recorder())
    first, second = _queue(app, 2)
    with app.app_context():
        db.session.get(OutboxMessage, first).attachments = [["x.ics", "no-slash-mimetype", "x"]]
        db.session.commit()
        assert send_pending() == 1
    rows = {row.id: row for row in _outbox_rows(app)}
    assert rows[first].sent_at is None and rows[first].attempts == 1 and rows[first].last_error
    assert rows[second].sent_at is not None
    assert len(server.messages) == 1


def test_send_pending_cli(app, outbox):
    _queue(app, 3)
    result = app.test_cli_runner().invoke(args=["mail", "send-pending", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert len(outbox) == 2
    result = app.test_cli_runner().invoke(args=["mail", "send-pending"])
    assert "sent 1" in result.output
    assert [m["Subject"] for m in outbox] == ["お知らせ 0", "お知らせ 1", "お知らせ 2"]
    assert all(row.sent_at for row in _outbox_rows(app))


def test_parallel_runs_never_send_a_message_twice(app, smtp_server):
    server = smtp_server(Recorder(delay=0.01))
    ids = _queue(app, 30)
    results, errors = at_once_in_app(app, [send_pending, send_pending])
    assert errors == []
    subjects = [m["Subject"] for m in server.messages]
    assert sorted(subjects) == sorted(f"お知らせ {n}" for n in range(30))  # each exactly once
    assert sum(results) == 30
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # With row locks both workers take part; on SQLite one may do everything (writers are serialised).
        assert min(results) > 0, results
    rows = _outbox_rows(app)
    assert [row.id for row in rows] == ids
    assert all(row.sent_at and row.attempts == 1 for row in rows)
