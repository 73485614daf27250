"""Ward staff send an overdue report's reminder from the queue: to the group's officers, once a day, audited."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.core.time import utcnow
from app.extensions import db
from app.participation.models import ReportReminder
from tests.factories import app_context, login, make_user, post_form
from tests.participation.factories import make_organized, make_report


def test_staff_remind_the_officers_once_a_day(client, outbox):
    staff = make_user(role=Role.WARD_STAFF)
    make_user(role=Role.WARD_STAFF)  # make_report's approver, unused here
    org = make_organized(starts_at=utcnow() - timedelta(days=20))
    login(client, staff.email)
    page = client.get("/participation/staff/reports").get_data(as_text=True)
    url = f"/participation/occurrences/{org.occurrence_id}/remind"
    assert f'action="{url}"' in page
    response = post_form(client, url, {}, page="/participation/staff/reports")
    assert response.status_code == 303
    assert [m["To"] for m in outbox] == [org.officer_email]
    again = post_form(client, url, {}, page="/participation/staff/reports", follow_redirects=True)
    assert "今日はもう催促のメールを送りました" in again.get_data(as_text=True)
    assert len(outbox) == 1
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportReminder)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "report.reminded")) == 1


def test_a_submitted_or_future_report_is_not_reminded(client, outbox):
    staff = make_user(role=Role.WARD_STAFF)
    future = make_organized()  # ten days ahead
    done = make_organized(starts_at=utcnow() - timedelta(days=20))
    make_report(done, 5, approve=False)  # submitted: with the ward now
    login(client, staff.email)
    page = client.get("/participation/staff/reports").get_data(as_text=True)
    assert f"/participation/occurrences/{done.occurrence_id}/remind" not in page
    for org in (future, done):
        response = post_form(client, f"/participation/occurrences/{org.occurrence_id}/remind", {},
                             page="/participation/staff/reports", follow_redirects=True)
        assert "いま催促するものではありません" in response.get_data(as_text=True)
    assert outbox == []
