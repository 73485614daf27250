"""`flask indicators load` and the demo loader: the catalog in the database, idempotent, exact values."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.indicators import services
from app.indicators.catalog import read_catalog
from app.indicators.models import Indicator, ManualValue, PlanValue, PlanValueKind, SourceKind


def _counts():
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Indicator)),
        db.session.scalar(sa.select(sa.func.count()).select_from(PlanValue)),
    )


def test_cli_load_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["indicators", "load"])
    assert first.exit_code == 0, first.output
    assert "40 added, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(args=["indicators", "load"])
    assert "0 added, 0 updated, 40 unchanged" in second.output
    with app.app_context():
        # 6 policy indicators with 5 columns, 34 measure indicators with 4.
        assert _counts() == (40, 6 * 5 + 34 * 4)


def test_values_round_trip_exactly(app_ctx):
    services.load_catalog()
    db.session.commit()
    db.session.expire_all()
    indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-02-2"))
    assert indicator.name == "安全で安心なまちづくりに向けた活動参加者数"
    assert indicator.source_kind == SourceKind.PARTICIPANT_SUM
    assert indicator.plan_value(PlanValueKind.MIDTERM_TARGET).value == Decimal("15781")
    assert indicator.plan_value(PlanValueKind.MIDTERM_TARGET).printed == "15,781 人"
    assert indicator.plan_value(PlanValueKind.MIDTERM_ACTUAL).is_estimate
    utilization = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-04-1"))
    final = utilization.plan_value(PlanValueKind.FINAL_TARGET)
    assert final.value == Decimal("82.9") and isinstance(final.value, Decimal)
    assert (final.fiscal_year, final.year_label) == (2026, "令和8年度末")
    garbled = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P10-00-1"))
    assert garbled.plan_value(PlanValueKind.FINAL_TARGET).value is None
    assert garbled.midterm_status is None
    assert garbled.plan_value(PlanValueKind.BASELINE).value == Decimal("31.2")


def test_reload_applies_a_corrected_value_and_keeps_manual_values(app_ctx):
    services.load_catalog()
    indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-01-1"))
    db.session.add(
        ManualValue(indicator_id=indicator.id, fiscal_year=2024, value=Decimal("48.5"), source_document="区民意識調査")
    )
    db.session.commit()

    specs = read_catalog()
    spec = next(s for s in specs if s.code == "P09-01-1")
    final = spec.plan_value(PlanValueKind.FINAL_TARGET)
    corrected = dataclasses.replace(final, printed="51.0%", value=Decimal("51.0"))
    specs[specs.index(spec)] = dataclasses.replace(
        spec, plan_values=tuple(corrected if v is final else v for v in spec.plan_values)
    )
    result = services.load_catalog(specs)
    db.session.commit()
    assert result.updated == ["P09-01-1"] and len(result.unchanged) == 39
    db.session.expire_all()
    indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-01-1"))
    assert indicator.plan_value(PlanValueKind.FINAL_TARGET).value == Decimal("51")
    assert [v.value for v in indicator.manual_values] == [Decimal("48.5")]
    assert _counts() == (40, 6 * 5 + 34 * 4)


def test_demo_loader_registers_the_catalog(app_ctx):
    from app.demo.loaders import DemoReport, registered_loaders

    loader = next(loader for loader in registered_loaders() if loader.name == "indicators")
    report = DemoReport()
    loader.function(db.session, report)
    db.session.commit()
    loader.function(db.session, report)
    assert report.added["indicators"] == 40
    assert report.existing["indicators"] == 40
