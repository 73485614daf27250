"""The demo's participation reports: most ended demo occurrences reported and approved, once; indicators have
computed values with a completeness below 100%."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.time import fiscal_year, utcnow
from app.extensions import db
from app.indicators import queries
from app.participation.models import ParticipationReport, ReportStatus


def _load(app):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output + repr(result.exception)


def test_demo_reports_are_added_once_and_feed_the_indicators(app):
    _load(app)
    with app.app_context():
        reports = db.session.scalar(sa.select(sa.func.count()).select_from(ParticipationReport))
        assert reports > 5
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ParticipationReport).where(
            ParticipationReport.status != ReportStatus.APPROVED)) == 0
    _load(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ParticipationReport)) == reports
        indicator = queries.get_by_code("P09-02-2")  # 防災訓練 and clean-ups (safety) happened in the past
        current = fiscal_year(utcnow())
        values = queries.year_values([indicator], [current - 1, current])[indicator.id]
        computed = [v for v in values.values() if v.value is not None]
        assert computed and all(v.reported <= v.ended for v in computed)


def test_the_demo_marks_events_the_city_works_with_and_p09_05_1_counts_them(app):
    """地域と連携・協働、支援しているイベントの参加者数 has a value in the demo: its marked events were held."""
    from app.events.models import EventSeries, WardRelation

    _load(app)
    with app.app_context():
        marks = dict(db.session.execute(sa.select(EventSeries.title_ja, EventSeries.ward_relation)
                                        .where(EventSeries.ward_relation.is_not(None))).all())
        assert marks["赤坂こども食堂"] == WardRelation.SUPPORT and len(marks) == 3
        indicator = queries.get_by_code("P09-05-1")
        current = fiscal_year(utcnow())
        values = queries.year_values([indicator], [current - 1, current])[indicator.id]
        assert any(v.value for v in values.values())
