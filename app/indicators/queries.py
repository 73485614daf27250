"""Read-side queries: the catalog per policy and one indicator's summary (printed values, latest value, 進捗率)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.indicators.judgement import Judgement, judge, progress_rate, rule_from_config
from app.indicators.models import Indicator, ManualValue, PlanValue, PlanValueKind

POLICY_TITLES = {
    9: "参画と協働により地域を支える多様なコミュニティをつくる",
    10: "豊かな国際性を生かした多文化共生社会をつくる",
    11: "伝統と最先端技術が融合した区内産業を支援する",
    12: "港区の特性を生かした個性ある商業集積の形成を支援する",
    13: "港区ならではの魅力を生かした都市観光を展開する",
    14: "豊かで多様な文化に包まれたまちづくりを進める",
}


@dataclass(frozen=True)
class Summary:
    """An indicator with its printed values and its latest staff-entered value judged against the final target."""

    indicator: Indicator
    baseline: PlanValue | None
    midterm_target: PlanValue | None
    midterm_actual: PlanValue | None
    interim_target: PlanValue | None
    final_target: PlanValue | None
    latest: ManualValue | None
    progress: Decimal | None  # 進捗率 of the latest value toward the final target
    judgement: Judgement | None


def _query():
    return sa.select(Indicator).options(
        selectinload(Indicator.plan_values), selectinload(Indicator.manual_values)
    ).order_by(Indicator.policy, Indicator.sort_order, Indicator.code)


def summarize(indicator: Indicator) -> Summary:
    """The summary of one loaded indicator (its plan and manual values already loaded)."""
    values = {kind: indicator.plan_value(kind) for kind in PlanValueKind}
    latest = indicator.manual_values[-1] if indicator.manual_values else None
    baseline, final = values[PlanValueKind.BASELINE], values[PlanValueKind.FINAL_TARGET]
    progress = judgement = None
    if latest is not None and final is not None:
        baseline_value = baseline.value if baseline else None
        progress = progress_rate(latest.value, baseline_value, final.value)
        judgement = judge(latest.value, final.value, indicator.direction, baseline=baseline_value,
                          rule=rule_from_config(current_app.config))
    return Summary(
        indicator=indicator,
        baseline=baseline,
        midterm_target=values[PlanValueKind.MIDTERM_TARGET],
        midterm_actual=values[PlanValueKind.MIDTERM_ACTUAL],
        interim_target=values[PlanValueKind.INTERIM_TARGET],
        final_target=final,
        latest=latest,
        progress=progress,
        judgement=judgement,
    )


def summaries_by_policy() -> list[tuple[int, list[Summary]]]:
    """Every indicator's summary, grouped by policy (9 to 14) in the plan's order."""
    indicators = db.session.scalars(_query()).all()
    return [(policy, [summarize(i) for i in group]) for policy, group in groupby(indicators, key=lambda i: i.policy)]


def get_by_code(code: str) -> Indicator | None:
    """The indicator with CODE, its values loaded."""
    return db.session.scalar(_query().where(Indicator.code == code))
