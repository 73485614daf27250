"""Mail through an outbox: rows written with the change that causes them, delivered after the commit."""

from __future__ import annotations

import base64
import smtplib
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app, g, render_template
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import write_intent
from app.core.i18n import plain, use_language
from app.core.time import utcnow
from app.extensions import db


class OutboxMessage(db.Model):
    """An e-mail waiting for delivery (or delivered: sent_at set)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    language: Mapped[str] = mapped_column(sa.String(16))
    # Attachments are small (an .ics file, a QR code image): kept as (filename, mime type, text content), or
    # (filename, mime type, base64 text, "base64", content id) for binary ones.
    attachments: Mapped[list | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


def has_control_characters(text: str) -> bool:
    """True when TEXT holds a line break or another control character (C0, DEL, C1, U+2028/U+2029).

    Such text cannot go into a mail header (the message would die in the outbox with a header error) and has
    no place in a one-line value such as a name or a subject.
    """
    return any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in text)


@dataclass(frozen=True)
class Attachment:
    """An attachment for an e-mail: text (an .ics file) or bytes (a PNG); CONTENT_ID makes it an inline part."""

    filename: str
    mimetype: str
    content: str | bytes
    content_id: str | None = None

    def stored(self) -> list:
        """The JSON form kept in the outbox row."""
        if isinstance(self.content, bytes):
            return [self.filename, self.mimetype, base64.b64encode(self.content).decode("ascii"), "base64",
                    self.content_id]
        return [self.filename, self.mimetype, self.content]


def queue_mail(
    *,
    to: str,
    subject,
    template: str,
    language: str | None,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
    **context,
) -> OutboxMessage:
    """Render an e-mail in the recipient's language and add it to the outbox in the current transaction.

    SUBJECT may be a lazy string; it is resolved in the recipient's language.
    """
    with use_language(language) as lang:
        # Plain text mail: furigana markup from やさしい日本語 messages must never show as tags.
        body = plain(render_template(f"mail/{template}.txt", **context))
        subject_text = plain(str(subject))
    message = OutboxMessage(
        recipient=to,
        subject=subject_text[:300],
        body_text=body,
        language=lang.code,
        attachments=[a.stored() for a in attachments] or None,
    )
    db.session.add(message)
    g.mail_queued = True
    return message


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="tsudoi.local")
    email.set_content(message.body_text)
    for filename, mimetype, content, *binary in message.attachments or ():
        maintype, subtype = mimetype.split("/", 1)
        if binary and binary[0] == "base64":
            cid = binary[1] if len(binary) > 1 else None
            # Inline (shown in the message by mail readers) when it has a content id, else a plain attachment.
            email.add_attachment(base64.b64decode(content), maintype=maintype, subtype=subtype, filename=filename,
                                 disposition="inline" if cid else "attachment", cid=f"<{cid}>" if cid else None)
            continue
        # Text attachments (.ics) are UTF-8: say so, or readers decode Japanese as Latin-1.
        params = {"charset": "utf-8"} if maintype == "text" else None
        email.add_attachment(content.encode("utf-8"), maintype=maintype, subtype=subtype, filename=filename,
                             params=params)
    return email


def _deliver(email: EmailMessage) -> None:
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "console":
        print(f"\n----- mail -----\n{email}\n----- end -----", file=sys.stderr)
    elif backend in {"outbox", "memory"}:
        current_app.extensions.setdefault("mail_delivered", []).append(email)
    elif backend == "smtp":
        cfg = current_app.config
        smtp_cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
            smtp.send_message(email)
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def send_pending(*, limit: int = 500) -> int:
    """Deliver waiting messages one by one; safe to run in several processes at once. Returns the count sent.

    Each message is claimed with a row lock (SKIP LOCKED on PostgreSQL; SQLite serialises writers), marked
    sent and committed before the next, so no message goes out twice. A failed message is tried once per
    run, so MAIL_MAX_ATTEMPTS spreads over runs instead of being spent in one outage.
    """
    sent = 0
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    # This claims rows and writes: on SQLite its transactions must begin IMMEDIATE even when called after a
    # GET request (a deferred transaction could not upgrade its lock once another writer committed).
    intent = write_intent.set(True)
    try:
        failed: list[int] = []  # tried once in this run: the next try waits for the next run
        with Session(db.engine) as session:
            for _ in range(limit):
                message = session.scalars(
                    sa.select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < max_attempts)
                    .where(OutboxMessage.id.not_in(failed))
                    .order_by(OutboxMessage.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if message is None:
                    session.rollback()
                    break
                message.attempts += 1
                try:
                    _deliver(_build(message))
                except Exception as exc:  # noqa: BLE001 - any failure must be recorded, not block the queue
                    # Not only SMTP errors: a message that cannot even be built would otherwise be retried
                    # first on every run, its attempt never counted, and hold up every message behind it.
                    current_app.logger.warning("mail %s not sent: %s", message.id, exc)
                    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    failed.append(message.id)
                    session.commit()
                    continue
                message.sent_at = utcnow()
                message.last_error = None
                session.commit()
                sent += 1
    finally:
        write_intent.reset(intent)
    return sent


def init_app(app) -> None:
    """In development (and tests) deliver queued mail right after the request that queued it."""
    if not app.config.get("MAIL_SEND_AFTER_REQUEST"):
        return

    @app.after_request
    def _send_after_request(response):
        if g.pop("mail_queued", False) and response.status_code < 400:
            # The view has committed, but reading an expired attribute afterwards (login_user, templates)
            # opens a new transaction on the request's connection; on SQLite a POST's transaction begins
            # IMMEDIATE and holds the write lock, so send_pending's own connection would wait for it until
            # the busy timeout and fail. End that transaction first.
            db.session.rollback()
            try:
                send_pending()
            except Exception:  # noqa: BLE001 - the user's change is committed; mail waits for the CLI run
                current_app.logger.exception("sending mail after the request failed")
        return response
