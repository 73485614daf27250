"""Participation reports: pre-filled totals, bad input, amendments with history, staff approval, the staff
list, overdue reminders, and participant sums per fiscal year for the plan's indicators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.permissions import Role
from app.core.time import to_tokyo, utcnow
from app.extensions import db
from app.participation.models import ParticipationReport, ReportReminder, ReportStatus
from tests.factories import app_context, login, make_user, post_form
from tests.participation.factories import (
    ended,
    make_organized,
    make_registration,
    make_report,
    move_occurrence,
    today,
)

VALID = {"total": "120", "counting_method": "head_count", "age_children": "30", "age_seniors": "50",
         "residents": "100", "commuters": "20", "first_time": "12", "notes": "雨でした"}


def _reports(occurrence_id):
    with app_context():
        return [(r.revision, r.total, r.status, r.is_latest) for r in db.session.scalars(
            sa.select(ParticipationReport).where(ParticipationReport.occurrence_id == occurrence_id)
            .order_by(ParticipationReport.revision))]


def _url(occurrence_id):
    return f"/participation/occurrences/{occurrence_id}/report"


def test_report_page_prefills_check_ins_plus_walk_ins(client):
    org = make_organized(starts_at=today())  # the door is open on the day only; the report comes after the end
    registration_id, _u, _e = make_registration(org.occurrence_id)
    make_registration(org.occurrence_id)
    login(client, org.officer_email)
    door = f"/participation/occurrences/{org.occurrence_id}/checkin"
    post_form(client, f"/participation/registrations/{registration_id}/checkin", {}, page=door)
    for _ in range(3):
        post_form(client, f"/participation/occurrences/{org.occurrence_id}/walkins", {"delta": "1"}, page=door)
    move_occurrence(org.occurrence_id, ended())
    html = client.get(_url(org.occurrence_id)).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="total"[^>]*value="4"', html)
    assert "受付済み 1人、当日参加 3人" in html


def test_valid_report_is_saved_waiting_for_staff_and_accepts_a_festival_sized_total(client):
    org = make_organized(starts_at=ended())
    login(client, org.officer_email)
    response = post_form(client, _url(org.occurrence_id), {**VALID, "total": "30,000", "residents": "２９０００"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert _reports(org.occurrence_id) == [(1, 30000, ReportStatus.SUBMITTED, True)]
    with app_context():
        report = db.session.scalar(sa.select(ParticipationReport))
        assert (report.residents, report.age_children, report.age_youth, report.notes) == (29000, 30, None, "雨でした")


def test_bad_input_is_a_clear_422_that_keeps_what_was_typed_and_saves_nothing(client):
    org = make_organized(starts_at=ended())
    login(client, org.officer_email)
    url = _url(org.occurrence_id)
    cases = [
        ({"total": "たくさん"}, "人数は数字で入力してください。"),
        ({"total": "-5"}, "参加者数は0以上の整数で入力してください。"),
        ({"total": "9223372036854775808"}, "参加者数は100万人以下で入力してください。"),  # overflowed SQLite: a 500
        ({"total": "1000001"}, "参加者数は100万人以下で入力してください。"),
        ({"volunteers": "-1"}, "人数は0以上の整数で入力してください。"),
        ({"age_youth": "60"}, "年代別の人数の合計(140人)が参加者数(120人)を超えています。"),
        ({"outside_ward": "1"}, "区民・在勤在学・区外の人数の合計(121人)が参加者数(120人)を超えています。"),
        ({"first_time": "121"}, "内訳の人数(121人)が参加者数(120人)を超えています。"),
        ({"counting_method": "guess"}, None),
    ]
    for change, message in cases:
        response = post_form(client, url, {**VALID, **change})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, change
        if message:
            assert message in html, change
        assert "雨でした" in html  # nothing typed is lost
        for value in change.values():
            if value != "guess":
                assert f'value="{value}"' in html, change
    assert _reports(org.occurrence_id) == []


def test_no_report_before_the_event_ends(client):
    org = make_organized(starts_at=utcnow() - timedelta(hours=1))  # still running
    login(client, org.officer_email)
    html = client.get(_url(org.occurrence_id)).get_data(as_text=True)
    assert "イベントが終わってから送れます" in html
    response = post_form(client, _url(org.occurrence_id), VALID)
    assert response.status_code == 422
    assert "イベントが終わってから送ってください" in response.get_data(as_text=True)
    assert _reports(org.occurrence_id) == []


def test_amendments_keep_history_and_the_latest_counts(client, app):
    org = make_organized(starts_at=ended())
    login(client, org.officer_email)
    post_form(client, _url(org.occurrence_id), VALID)
    staff = app.test_client()
    login(staff, make_user(role=Role.WARD_STAFF).email)
    with app_context():
        first_id = db.session.scalar(sa.select(ParticipationReport.id))
    post_form(staff, f"/participation/reports/{first_id}/approve", {}, page="/participation/staff/reports")
    # The amendment starts from the latest values and replaces them (a new revision, waiting again).
    assert 'value="120"' in client.get(_url(org.occurrence_id)).get_data(as_text=True)
    assert post_form(client, _url(org.occurrence_id), {**VALID, "total": "150"}).status_code == 303
    assert _reports(org.occurrence_id) == [(1, 120, ReportStatus.APPROVED, False),
                                           (2, 150, ReportStatus.SUBMITTED, True)]
    html = client.get(_url(org.occurrence_id)).get_data(as_text=True)
    assert "報告の履歴" in html and "修正前" in html
    # An old revision can no longer be reviewed.
    response = post_form(staff, f"/participation/reports/{first_id}/return", {"comment": "x"},
                         page="/participation/staff/reports")
    assert response.status_code == 409


def test_staff_approve_or_return_and_others_cannot(client, app):
    org = make_organized(starts_at=ended())
    login(client, org.officer_email)
    post_form(client, _url(org.occurrence_id), VALID)
    with app_context():
        report_id = db.session.scalar(sa.select(ParticipationReport.id))
    # The organizer is not staff.
    assert client.get("/participation/staff/reports").status_code == 403
    assert post_form(client, f"/participation/reports/{report_id}/approve", {}, page="/").status_code == 403
    staff = app.test_client()
    login(staff, make_user(role=Role.WARD_STAFF).email)
    html = staff.get("/participation/staff/reports").get_data(as_text=True)
    assert "防災訓練" in html and "承認待ち" in html
    # Returning needs a reason; the page comes back with the message.
    response = post_form(staff, f"/participation/reports/{report_id}/return", {"comment": ""},
                         page="/participation/staff/reports")
    assert response.status_code == 422 and "入力してください" in response.get_data(as_text=True)
    post_form(staff, f"/participation/reports/{report_id}/return", {"comment": "年代別を確認してください"},
              page="/participation/staff/reports")
    assert _reports(org.occurrence_id) == [(1, 120, ReportStatus.RETURNED, True)]
    assert "年代別を確認してください" in client.get(_url(org.occurrence_id)).get_data(as_text=True)
    post_form(client, _url(org.occurrence_id), VALID)
    with app_context():
        second_id = db.session.scalar(sa.select(ParticipationReport.id).where(ParticipationReport.revision == 2))
    post_form(staff, f"/participation/reports/{second_id}/approve", {}, page="/participation/staff/reports")
    assert _reports(org.occurrence_id)[-1] == (2, 120, ReportStatus.APPROVED, True)
    with app_context():
        from app.core.audit import AuditEvent

        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.target_type == "participation_report").order_by(AuditEvent.id)))
    assert actions == ["participation_report.return", "participation_report.approve"]
    assert "防災訓練" not in staff.get("/participation/staff/reports").get_data(as_text=True)


def test_verified_groups_reports_count_on_submission_when_configured(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PARTICIPATION_VERIFIED_REPORTS_COUNT_ON_SUBMISSION", True)
    verified = make_organized(starts_at=ended())
    unverified = make_organized(starts_at=ended(), verified=False)
    for org in (verified, unverified):
        c = app.test_client()
        login(c, org.officer_email)
        assert post_form(c, _url(org.occurrence_id), VALID).status_code == 303
    assert _reports(verified.occurrence_id)[0][2] == ReportStatus.APPROVED
    assert _reports(unverified.occurrence_id)[0][2] == ReportStatus.SUBMITTED


def test_staff_list_shows_ended_occurrences_without_an_approved_report(client):
    missing = make_organized(starts_at=ended())
    make_organized(starts_at=utcnow() + timedelta(days=3))  # not yet held: not listed
    login(client, make_user(role=Role.WARD_STAFF).email)
    html = client.get("/participation/staff/reports").get_data(as_text=True)
    assert f'id="occurrence-{missing.occurrence_id}"' in html and "未提出" in html
    assert html.count('id="occurrence-') == 1


def test_overdue_reminders_are_sent_once_per_due_key(app, outbox):
    from app.core.jobs import registry, run_due
    from app.participation import reports

    overdue = make_organized(starts_at=utcnow() - timedelta(days=8, hours=3))
    recent = make_organized(starts_at=utcnow() - timedelta(days=2))  # not due yet (due in five days)
    reported = make_organized(starts_at=utcnow() - timedelta(days=9))
    with app.app_context():
        from app.accounts.models import User
        from app.events.models import EventOccurrence

        reports.submit_report(occurrence=db.session.get(EventOccurrence, reported.occurrence_id),
                                    actor=db.session.get(User, reported.officer_id),
                                    data=reports.ReportInput(total=5, counting_method="estimate"))
        db.session.commit()
        assert "participation.remind-overdue-reports" in {job.name for job in registry}
        now = utcnow()
        assert reports.send_overdue_reminders(now=now) == 1
        db.session.commit()
        assert reports.send_overdue_reminders(now=now + timedelta(hours=1)) == 0  # same key: nothing
        db.session.commit()
        # A week later the second reminder is due; the job runner runs it once for its day.
        later = to_tokyo(now + timedelta(days=7)).replace(hour=12).astimezone(UTC)  # after the job's 9:00
        outcomes = run_due(now=later, only={"participation.remind-overdue-reports", "mail.send-pending"})
        assert [(o.status, o.result) for o in outcomes if o.job == "participation.remind-overdue-reports"] \
            == [("succeeded", "2")]  # the overdue one's second reminder, the recent one's first
        again = run_due(now=later + timedelta(minutes=5), only={"participation.remind-overdue-reports"})
        assert [o.status for o in again] == ["already claimed"]
        keys = sorted(db.session.scalars(sa.select(ReportReminder.due_key)
                                         .where(ReportReminder.occurrence_id == overdue.occurrence_id)))
    mails = [m for m in outbox if m["To"] == overdue.officer_email]
    assert keys == ["reminder-1", "reminder-2"]
    assert len(mails) == 2 and "参加報告" in mails[0]["Subject"]
    assert f"/participation/occurrences/{overdue.occurrence_id}/report" in mails[0].get_content()
    assert not [m for m in outbox if m["To"] == reported.officer_email]
    assert len([m for m in outbox if m["To"] == recent.officer_email]) == 1


JST = timedelta(hours=9)


def _jst(*args):
    return datetime(*args, tzinfo=UTC) - JST


def _catalog():
    """The plan's indicators with their default mapping rules (safety -> P09-02-2, tourism -> P13-03-1 ...)."""
    from app.indicators import services as indicator_services

    with app_context():
        indicator_services.load_catalog()
        db.session.commit()


def test_participant_sums_per_fiscal_year_with_boundary_and_completeness(app):
    from app.indicators import participants

    _catalog()
    make_user(role=Role.WARD_STAFF)
    last_minute = make_organized(category="safety")
    move_occurrence(last_minute.occurrence_id, _jst(2026, 3, 31, 23, 59), hours=1)  # 令和7年度
    first_minute = make_organized(category="safety")
    move_occurrence(first_minute.occurrence_id, _jst(2026, 4, 1, 0, 0), hours=1)  # 令和8年度
    amended = make_organized(category="safety")
    move_occurrence(amended.occurrence_id, _jst(2026, 5, 10, 10, 0))
    waiting = make_organized(category="safety")
    move_occurrence(waiting.occurrence_id, _jst(2026, 6, 1, 10, 0))
    unreported = make_organized(category="safety")
    move_occurrence(unreported.occurrence_id, _jst(2026, 7, 1, 10, 0))
    tour = make_organized(category="tourism")
    move_occurrence(tour.occurrence_id, _jst(2026, 8, 1, 10, 0))
    other = make_organized(category="other")  # mapped to no indicator
    move_occurrence(other.occurrence_id, _jst(2026, 8, 2, 10, 0))
    make_report(last_minute, 7)
    make_report(first_minute, 11)
    make_report(amended, 100, amend_to=40)  # the amendment replaces, it does not add
    make_report(waiting, 1000, approve=False)  # not approved: not counted
    make_report(tour, 25)
    make_report(other, 9)
    now = _jst(2026, 11, 28, 12, 0)
    with app.app_context():
        year = participants.participant_sums(2026, now=now)
        previous = participants.participant_sums(2025, now=now)
    safety = year["P09-02-2"]
    assert (safety.participants, safety.ended_occurrences, safety.approved_reports) == (51, 4, 2)
    assert safety.completeness == 0.5
    assert (year["P13-03-1"].participants, year["P13-03-1"].completeness) == (25, 1.0)
    assert year["P09-02-1"].participants == 0 and year["P09-02-1"].completeness is None
    assert previous["P09-02-2"].participants == 7 and previous["P09-02-2"].approved_reports == 1
    assert sum(s.participants for s in year.values()) == 76  # the unmapped event counts nowhere


def test_staff_page_of_participant_sums_with_provenance(client, app):
    _catalog()
    make_user(role=Role.WARD_STAFF)
    start = utcnow() - timedelta(days=1)
    counted = make_organized(category="tourism", starts_at=start)
    missing = make_organized(category="tourism", starts_at=start)
    make_report(counted, 1234)
    with app_context():
        from app.core.time import fiscal_year

        year = fiscal_year(start)
    login(client, make_user(role=Role.WARD_STAFF).email)
    html = client.get(f"/participation/staff/participants?year={year}").get_data(as_text=True)
    row = re.search(r"<tr><td>P13-03-1.*?</tr>", html, re.S).group(0)
    assert "1,234" in row and "1 / 2" in row and "50.0%" in row
    assert html.count(f'/events/{missing.series_id}"') == 1 and "未提出" in html
    assert client.get("/participation/staff/participants?year=abc").status_code == 200
    assert client.get("/participation/staff/participants?year=1900").status_code == 200
    organizer = app.test_client()
    login(organizer, counted.officer_email)
    assert organizer.get("/participation/staff/participants").status_code == 403


def test_organizer_sees_the_groups_ended_events_and_their_reports(client, app):
    make_user(role=Role.WARD_STAFF)
    org = make_organized(starts_at=ended())
    future = make_organized(starts_at=utcnow() + timedelta(days=5))
    login(client, org.officer_email)
    url = f"/participation/organizations/{org.organization_id}/reports"
    assert url in client.get(f"/events/organizations/{org.organization_id}/manage").get_data(as_text=True)
    html = client.get(url).get_data(as_text=True)
    assert "未提出" in html and f"/participation/occurrences/{org.occurrence_id}/report" in html
    make_report(org, 42)
    html = client.get(url).get_data(as_text=True)
    assert "42人" in html and "承認済み" in html and "未提出" not in html
    assert client.get(f"/participation/organizations/{future.organization_id}/reports").status_code == 403
    assert client.get("/participation/organizations/999999/reports").status_code == 404


def test_participant_sum_indicators_link_to_the_computed_sums(client):
    from app.indicators import services as indicator_services

    with app_context():
        indicator_services.load_catalog()
        db.session.commit()
    login(client, make_user(role=Role.WARD_STAFF).email)
    computed = client.get("/staff/indicators/P13-03-1").get_data(as_text=True)
    assert "/participation/staff/participants" in computed
    manual = client.get("/staff/indicators/P09-00-1").get_data(as_text=True)
    assert "/participation/staff/participants" not in manual


def test_an_event_mapped_to_two_indicators_counts_once_in_each(app):
    from app.indicators import participants
    from app.indicators import services as indicator_services
    from app.indicators.models import Indicator, MatchKind
    from app.indicators.sources import Rule

    _catalog()
    with app_context():
        community = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-05-1"))
        indicator_services.save_rules(community, [Rule(MatchKind.CATEGORY, "safety"),
                                                  Rule(MatchKind.CATEGORY, "community")], actor_id=None)
        db.session.commit()
    make_user(role=Role.WARD_STAFF)
    drill = make_organized(category="safety")
    move_occurrence(drill.occurrence_id, _jst(2026, 9, 1, 10, 0))
    festival = make_organized(category="community")
    move_occurrence(festival.occurrence_id, _jst(2026, 9, 2, 10, 0))
    make_report(drill, 30)
    make_report(festival, 500)
    with app.app_context():
        sums = participants.participant_sums(2026, now=_jst(2027, 1, 1, 0, 0))
    assert sums["P09-02-2"].participants == 30
    assert sums["P09-05-1"].participants == 530 and sums["P09-05-1"].ended_occurrences == 2
