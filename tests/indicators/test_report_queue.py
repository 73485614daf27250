"""The report queue says what approving each report feeds: the indicators whose rules take the event, or that it
counts in none (approving it would otherwise change nothing, silently)."""

from __future__ import annotations

import re

from app.indicators.models import MatchKind
from app.indicators.sources import Rule
from tests.factories import login
from tests.indicators.test_sources import _set_rules
from tests.participation.factories import ended, make_organized, make_report, move_occurrence


def test_each_waiting_report_says_which_indicators_it_feeds(client, staff_user):
    _set_rules("P11-03-1", [Rule(MatchKind.CATEGORY, "safety")])
    counted = make_organized(category="safety")
    uncounted = make_organized(category="other")
    for org in (counted, uncounted):
        move_occurrence(org.occurrence_id, ended())
        make_report(org, 5, approve=False)
    login(client, staff_user.email)
    page = client.get("/participation/staff/reports").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<tr id="report-(\d+)">(.*?)</tr>', page, re.S)}
    assert len(rows) == 2
    first, second = (rows[key] for key in sorted(rows, key=int))
    assert 'href="/staff/indicators/P11-03-1"' in first and "どの成果指標にも数えられません" not in first
    assert "どの成果指標にも数えられません" in second and "/staff/indicators/" not in second


def test_a_waiting_report_shows_its_breakdown_and_notes(client, staff_user):
    from app.extensions import db
    from app.participation.models import ParticipationReport
    from tests.factories import app_context

    org = make_organized()
    move_occurrence(org.occurrence_id, ended())
    make_report(org, 9, approve=False)
    with app_context():
        report = db.session.query(ParticipationReport).one()
        report.age_children, report.notes = 4, "雨でも集まりました"
        db.session.commit()
    login(client, staff_user.email)
    page = client.get("/participation/staff/reports").get_data(as_text=True)
    details = re.search(r"<details><summary>内訳.*?</details>", page, re.S).group(0)
    assert "<dt>子ども</dt><dd>4</dd>" in details and "<dt>若者</dt><dd>—</dd>" in details  # unknown, not 0
    assert "雨でも集まりました" in details
