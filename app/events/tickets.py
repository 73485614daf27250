"""Tickets of event registrations: the short check-in code (unique within an occurrence), the QR that holds it,
and the signed ticket link for people without an account. Checking people in with them: app/participation/."""

from __future__ import annotations

import io
import secrets
import unicodedata

import segno
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.core.errors import Conflict
from app.core.mail import Attachment
from app.events.models import (
    CheckinCode,
    Registration,
    RegistrationStatus,
)
from app.extensions import db

# Letters and digits that cannot be mistaken for one another when read aloud or typed on a phone.
CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"
CODE_LENGTH = 6
QR_PREFIX = "TSUDOI-CHECKIN"


# ---------------------------------------------------------------- codes


def normalize_code(text: str) -> str:
    """A typed or scanned code in canonical form: full-width folded, upper-cased, separators dropped."""
    text = unicodedata.normalize("NFKC", text or "").strip().upper()
    return "".join(ch for ch in text if ch.isalnum())


def format_code(code: str) -> str:
    """The code as shown to people: ABC-DEF."""
    return f"{code[:3]}-{code[3:]}" if len(code) == CODE_LENGTH else code


def qr_payload(occurrence_id: int, code: str) -> str:
    """What the QR code holds: the occurrence and the code (no personal data)."""
    return f"{QR_PREFIX}:{occurrence_id}:{code}"


def code_of(registration_id: int) -> str | None:
    """The registration's code, if it has one yet."""
    return db.session.scalar(sa.select(CheckinCode.code).where(CheckinCode.registration_id == registration_id))


def ensure_code(registration: Registration) -> str:
    """The registration's code, created on first use (unique within the occurrence; retried on a collision)."""
    for _attempt in range(10):
        existing = code_of(registration.id)
        if existing:
            return existing
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with db.session.begin_nested():
                db.session.add(CheckinCode(registration_id=registration.id,
                                           occurrence_id=registration.occurrence_id, code=code))
        except IntegrityError:
            continue  # another registration of this occurrence has that code, or a parallel request won
        return code
    raise Conflict(_l("受付番号を作れませんでした。もう一度お試しください。"))


def qr_png(registration: Registration) -> bytes:
    """The registration's QR code (occurrence and code, no personal data) as a PNG for e-mails."""
    code = ensure_code(registration)
    buffer = io.BytesIO()
    segno.make(qr_payload(registration.occurrence_id, code), error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def qr_svg(occurrence_id: int, code: str) -> bytes:
    """The QR code as a standalone SVG document for <img> (segno's svg_inline leaves out the SVG namespace, and
    browsers then refuse to draw it): the namespace, width, height and a viewBox, no XML declaration or script."""
    qr = segno.make(qr_payload(occurrence_id, code), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=False, svgns=True,
              title=format_code(code), svgclass=None, lineclass=None)
    svg = buffer.getvalue()
    if b"viewBox" not in svg:
        side = qr.symbol_size(scale=6, border=4)[0]
        svg = svg.replace(b"<svg ", f'<svg viewBox="0 0 {side} {side}" '.encode(), 1)
    return svg


def qr_attachment(registration: Registration):
    """The QR code as an inline image part of the confirmation e-mail (the text link stays in the body)."""
    return Attachment(filename=f"checkin-{format_code(ensure_code(registration))}.png", mimetype="image/png",
                      content=qr_png(registration), content_id=f"checkin-qr-{registration.id}@tsudoi")


def ticket_token(registration_id: int) -> str:
    """A signed token naming a registration, for the ticket link in e-mails (guests have no account)."""
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="participation-ticket").dumps(
        {"r": registration_id})


def registration_for_ticket(token: str) -> Registration | None:
    """The confirmed registration a ticket token names, or None (bad signature, cancelled, waitlisted)."""
    from itsdangerous import BadSignature, URLSafeSerializer

    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="participation-ticket").loads(token)
    except BadSignature:
        return None
    registration_id = data.get("r") if isinstance(data, dict) else None
    registration = db.session.get(Registration, registration_id) if isinstance(registration_id, int) else None
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return None
    return registration


def ticket_url(registration: Registration) -> str:
    """The absolute ticket link for e-mails ('' unless the registration is confirmed)."""
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return ""
    return f"{current_app.config['BASE_URL']}/participation/tickets/{ticket_token(registration.id)}"
