"""One-line fields whose values reach mail (the organizer's subject, a guest's name) refuse CR/LF (#20)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.mail import OutboxMessage
from app.events import registrations as registration_services
from app.events.errors import InvalidEvent
from app.events.models import EventOccurrence
from app.extensions import db
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization

REFUSED = "改行などの特別な文字は使えません"
HOSTILE = ["持ち物\r\nBcc: everyone@example.jp", "持ち物\nのお知らせ", "持ち物\rのお知らせ", "持ち物\x0bです",
           "持ち物\x85です", "持ち物\u2028です"]


def _outbox_rows() -> int:
    with app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))


@pytest.fixture
def occurrence(app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=5)
    occurrence_id = occurrence_ids(series.id)[0]
    registrant = make_user(email="in@example.jp")
    browser = app.test_client()
    login(browser, registrant.email)
    post_form(browser, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    return editor, occurrence_id


@pytest.mark.parametrize("subject", HOSTILE)
def test_a_subject_with_a_line_break_is_refused_on_the_form(client, outbox, occurrence, subject):
    editor, occurrence_id = occurrence
    outbox.clear()
    before = _outbox_rows()
    login(client, editor.email)
    page = f"/events/occurrences/{occurrence_id}/registrations"
    response = post_form(client, f"/events/occurrences/{occurrence_id}/message",
                         {"subject": subject, "body": "軍手をお持ちください"}, page=page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert REFUSED in html and "メールを送りました" not in html
    assert "軍手をお持ちください" in html  # the organizer's text is kept
    assert outbox == [] and _outbox_rows() == before  # nothing queued to die with a header error


def test_the_service_refuses_a_subject_with_a_line_break_too(app_ctx, occurrence):
    editor, occurrence_id = occurrence
    occurrence_row = db.session.get(EventOccurrence, occurrence_id)
    from app.accounts.models import User

    with pytest.raises(InvalidEvent) as caught:
        registration_services.message_registrants(
            occurrence_row, actor=db.session.get(User, editor.id), subject="a\r\nBcc: x@example.jp", body="b",
            include_waitlisted=False)
    assert caught.value.field == "subject"


@pytest.mark.parametrize("name", ["山田\r\nBcc: x@example.jp", "山田\n太郎", "山田\t太郎"])
def test_a_guest_name_with_a_line_break_is_refused(client, outbox, occurrence, name):
    _editor, occurrence_id = occurrence
    outbox.clear()
    response = post_form(client, f"/events/occurrences/{occurrence_id}/guest",
                         {"name": name, "email": "guest@example.jp"})
    assert response.status_code == 422
    assert REFUSED in response.get_data(as_text=True)
    assert outbox == []
