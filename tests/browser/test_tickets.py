"""The check-in QR code is drawn by a real browser (issue 16): on the ticket page and in "my events".

An SVG served without its namespace is a broken image in every browser although the response looks fine to a
test client; only a browser's naturalWidth tells the two apart.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.accounts.models import User
from app.core.time import utcnow
from app.demo.accounts import DEMO_ACCOUNTS
from app.events import tickets
from app.events.models import EventOccurrence, OccurrenceStatus, Registration, RegistrationStatus
from app.extensions import db
from tests.browser.conftest import LANGS

pytestmark = pytest.mark.browser


def _confirmed_registration(live, key: str) -> int:
    """A confirmed registration (with its code) of demo account KEY at an upcoming occurrence it had none for."""
    def create():
        user = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS[key].email))
        registered = sa.select(Registration.occurrence_id).where(Registration.user_id == user.id)
        occurrence_id = db.session.scalar(
            sa.select(EventOccurrence.id)
            .where(EventOccurrence.starts_at > utcnow(), EventOccurrence.status == OccurrenceStatus.SCHEDULED,
                   EventOccurrence.id.not_in(registered))
            .order_by(EventOccurrence.starts_at).limit(1))
        registration = Registration(occurrence_id=occurrence_id, user_id=user.id,
                                    status=RegistrationStatus.CONFIRMED)
        db.session.add(registration)
        db.session.flush()
        tickets.ensure_code(registration)
        return registration.id

    return live.run(create)


def _natural_width(image) -> int:
    image.evaluate("img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })")
    return image.evaluate("img => img.naturalWidth")


@pytest.mark.parametrize("lang", LANGS)
def test_the_ticket_qr_code_is_drawn(live, demo_user, lang):
    registration_id = _confirmed_registration(live, "resident")
    page = demo_user("resident", lang)

    page.goto(f"/participation/registrations/{registration_id}/ticket")
    expect(page).to_have_title(live.title_re(lang, "受付用のQRコード"))
    image = page.locator("img.ticket-qr")
    expect(image).to_be_visible()
    assert _natural_width(image) > 0

    page.goto("/events/mine")
    thumb = page.locator(f"a[href$='/participation/registrations/{registration_id}/ticket'] img")
    thumb.scroll_into_view_if_needed()  # loading="lazy"
    assert _natural_width(thumb) > 0
