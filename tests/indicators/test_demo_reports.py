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
