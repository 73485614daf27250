"""Judgements use the target that applies to the year (令和7年度 for FY2025 where printed, 令和8年度末 for FY2026);
a year-to-date value is paced, a rate is not judged 達成 before its year ends; 進捗率 only where it means
something."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.indicators import queries
from app.indicators.judgement import progress_is_meaningful
from app.indicators.models import Direction, PlanValue, PlanValueKind
from app.indicators.sources import YearValue
from tests.factories import app_context, login, post_form

D = Decimal
HALF = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 1 October 2026 in Tokyo: day 184 of 365 of 令和8年度


def _summary(code, year, value, *, partial=False, now=None):
    indicator = queries.get_by_code(code)
    return queries.summarize(indicator, {year: YearValue(year, D(value), "computed", partial=partial)}, now=now)


def test_fy2025_uses_the_reiwa7_target_and_fy2026_the_final_one(staff_user):
    with app_context():
        # P09-00-1: 当初 22.2%, 令和7年度 35.2%, 令和8年度末 35.8%.
        fy2025 = _summary("P09-00-1", 2025, "35.3")
        assert fy2025.target.year_label == "令和7年度" and fy2025.target.value == D("35.2")
        assert fy2025.judgement.value == "achieved"  # against the final 35.8 it would be 未達成
        assert fy2025.progress == (D("35.3") - D("22.2")) / (D("35.2") - D("22.2"))
        fy2026 = _summary("P09-00-1", 2026, "35.3")
        assert fy2026.target.year_label == "令和8年度末" and fy2026.judgement.value == "not_achieved"
        # Without a 令和7年度 target (P09-01-1), FY2025 is paced toward 令和8年度末 and not called 未達成.
        before = _summary("P09-01-1", 2025, "48.0")
        assert before.target.year_label == "令和8年度末" and before.judgement is None and not before.pending
        assert before.pace_now == D("49.3") and before.on_pace is False  # 45.8 + 4.2 x 5 / 6


def test_a_rate_so_far_is_never_judged_achieved_before_the_year_ends(staff_user):
    with app_context():
        rate = _summary("P09-04-1", 2026, "90.0", partial=True, now=HALF)  # 区民センター利用率, target 82.9%
        assert rate.judgement is None and rate.pending
        assert rate.pace_now == D("82.9") and rate.on_pace is True  # a rate's pace is the target itself
        count = _summary("P09-04-2", 2026, "200", partial=True, now=HALF)  # 350 件 a year
        assert count.pending and count.pace_now == D("176.4") and count.on_pace is True  # 350 x 184 / 365
        assert count.progress is None  # a count so far against a whole year's target would mislead
        done = _summary("P09-04-2", 2026, "351", partial=True, now=HALF)
        assert done.judgement.value == "achieved"  # bookings made cannot be unmade from a count of the past


@pytest.mark.parametrize(("baseline", "target", "direction", "meaningful"), [
    ("55.6", "82.9", Direction.HIGHER, True),
    ("10", "6", Direction.LOWER, True),
    ("55.6", "55.6", Direction.HIGHER, False),  # target = baseline: undefined
    ("55.6", "50.0", Direction.HIGHER, False),  # a 'higher' target below the baseline
    ("10", "12", Direction.LOWER, False),
    ("1", "2", Direction.UNKNOWN, False),
    (None, "2", Direction.HIGHER, False),
])
def test_progress_only_where_baseline_and_target_make_it_meaningful(baseline, target, direction, meaningful):
    assert progress_is_meaningful(None if baseline is None else D(baseline), D(target), direction) is meaningful


def test_progress_is_hidden_when_the_target_is_on_the_wrong_side_and_pages_say_how_it_is_computed(
        client, staff_user):
    with app_context():
        final = db.session.scalar(sa.select(PlanValue).join(PlanValue.indicator).where(
            PlanValue.kind == PlanValueKind.FINAL_TARGET, PlanValue.indicator.has(code="P09-01-1")))
        final.value = D("40.0")  # below the 45.8 baseline of a 'higher is better' indicator
        db.session.commit()
        assert _summary("P09-01-1", 2026, "48.5").progress is None
    login(client, staff_user.email)
    page = "/staff/indicators/P09-01-1"
    post_form(client, f"{page}/values", {"fiscal_year": "2025", "value": "48.5", "source_document": "調査"},
              page=page)
    html = client.get(page).get_data(as_text=True)
    assert '<dd class="ind-progress">計算できません</dd>' in html
    assert "進捗率 = (実績 − 当初値) ÷ (目標値 − 当初値)" in html and "今日までの目安" in html
    listing = client.get("/staff/indicators").get_data(as_text=True)
    assert "進捗率・判定・目安の計算" in listing
