"""Read-side queries: the catalog per policy and one indicator's summary (printed values, latest value, 進捗率)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.core.time import FiscalYear, fiscal_year, to_tokyo, utcnow
from app.extensions import db
from app.indicators import cache
from app.indicators.judgement import (
    Judgement,
    Scheme,
    judge,
    pace_value,
    progress_is_meaningful,
    progress_rate,
    reaches,
    rule_from_config,
)
from app.indicators.models import Direction, FrozenYear, Indicator, PlanValue, PlanValueKind, Snapshot, SourceKind
from app.indicators.sources import YearValue, compute_year
from app.indicators.texts import policy_texts

# The policies' titles as printed (data/policies.csv; their English and easy versions: texts.policy_title).
POLICY_TITLES = {number: texts.ja for number, texts in policy_texts().items()}


@dataclass(frozen=True)
class Summary:
    """An indicator with its printed values, its yearly values (computed, entered or frozen) and the latest
    one judged against the final target."""

    indicator: Indicator
    baseline: PlanValue | None
    midterm_target: PlanValue | None
    midterm_actual: PlanValue | None
    interim_target: PlanValue | None
    final_target: PlanValue | None
    latest: YearValue | None
    progress: Decimal | None  # 進捗率 of the latest value toward the final target
    judgement: Judgement | None
    years: dict[int, YearValue] = None  # fiscal year -> value, the years asked for
    previous: YearValue | None = None  # the value of the year before the latest (for the trend)
    pending: bool = False  # the latest value is year to date and has not reached the target: judged at year end
    target: PlanValue | None = None  # the printed target that applies to the latest value's year (target_for)
    pace_now: Decimal | None = None  # what the target implies for the latest value: by today (年度途中) or
    # for its year on the line from the baseline (a year before the target's); None when judged finally
    on_pace: bool | None = None  # the latest value reached pace_now in the indicator's direction

    @property
    def final_judgement(self) -> bool:
        """The latest value is a whole year at or after its target's year: judged, not paced."""
        return (self.latest is not None and self.target is not None and not self.latest.partial
                and self.latest.fiscal_year >= self.target.fiscal_year)

    @property
    def trend(self) -> Decimal | None:
        """Latest minus the year before (None when either is unknown)."""
        if self.latest is None or self.previous is None or self.previous.value is None:
            return None
        return self.latest.value - self.previous.value

    def pace(self, year: int) -> Decimal | None:
        """The value expected in YEAR on the straight line from the baseline to the final target."""
        if self.baseline is None or self.final_target is None:
            return None
        return pace_value(self.baseline.value, self.baseline.fiscal_year, self.final_target.value,
                          self.final_target.fiscal_year, year)


def _query():
    return sa.select(Indicator).options(
        selectinload(Indicator.plan_values), selectinload(Indicator.manual_values), selectinload(Indicator.rules)
    ).order_by(Indicator.policy, Indicator.sort_order, Indicator.code)


def year_values(indicators: list[Indicator], years: list[int], *, now=None,
                cached: bool = True) -> dict[int, dict[int, YearValue]]:
    """indicator id -> fiscal year -> value, for YEARS: frozen years from their snapshots, the others computed
    (computed indicators) or as entered (manual ones). Computed values come from app.indicators.cache while
    their sources have not changed (one signature statement), else a fixed number of statements per year.
    CACHED=False always recomputes (benchmarks)."""
    now = now or utcnow()
    current = fiscal_year(now)
    frozen = set(db.session.scalars(sa.select(FrozenYear.fiscal_year).where(FrozenYear.fiscal_year.in_(years))))
    result: dict[int, dict[int, YearValue]] = {i.id: {} for i in indicators}
    if frozen:
        ids = [i.id for i in indicators]
        for snap in db.session.scalars(sa.select(Snapshot).where(Snapshot.fiscal_year.in_(frozen),
                                                                 Snapshot.indicator_id.in_(ids))):
            details = snap.details or {}
            result[snap.indicator_id][snap.fiscal_year] = YearValue(
                snap.fiscal_year, snap.value, "snapshot", ended=snap.ended, reported=snap.reported, frozen=True,
                source_document=details.get("source_document"), details=details)
    computed = [i for i in indicators if i.source_kind != SourceKind.MANUAL]
    live_years = [y for y in years if y not in frozen and y <= current] if computed else []
    stamp = cache.stamp(db.session) if cached and live_years else None
    for year in live_years:
        if stamp is None:
            values = compute_year(year, computed, now=now)
        else:
            values = cache.computed_values(
                db.session, year, computed, now=now, stamp=stamp,
                compute=lambda missing, year=year: compute_year(year, missing, now=now))
        for indicator_id, value in values.items():
            result[indicator_id][year] = value
    for indicator in indicators:
        if indicator.source_kind != SourceKind.MANUAL:
            continue
        # Every entered year, also outside YEARS: the latest survey is the latest value even if years old.
        for manual in indicator.manual_values:
            if manual.fiscal_year not in frozen:
                result[indicator.id][manual.fiscal_year] = YearValue(
                    manual.fiscal_year, manual.value, "manual", source_document=manual.source_document,
                    source_date=manual.source_date)
    return result


TARGET_KINDS = (PlanValueKind.MIDTERM_TARGET, PlanValueKind.INTERIM_TARGET, PlanValueKind.FINAL_TARGET)
# Values that add up over the year (people, bookings, partners): by a day of the year, the target implies the
# elapsed share of it. The others are levels (rates, survey shares, counts of a registry): the target itself.
ACCUMULATING = (SourceKind.PARTICIPANT_SUM, SourceKind.PARTNER_ORGANIZATIONS, SourceKind.BOOKING_COUNT)


def target_for(indicator: Indicator, year: int) -> PlanValue | None:
    """The printed target that applies to fiscal YEAR: the plan's target for that year (中間 目標, 令和7年度 of the
    policy-level indicators, 令和8年度末), else the next one after it, else the last one; None when none is known."""
    targets = sorted((pv for pv in (indicator.plan_value(kind) for kind in TARGET_KINDS)
                      if pv is not None and pv.value is not None), key=lambda pv: pv.fiscal_year)
    return next((pv for pv in targets if pv.fiscal_year >= year), targets[-1] if targets else None)


def _elapsed_share(value: YearValue, now) -> Decimal:
    """The share of VALUE's fiscal year counted: up to `through` (booking figures) or today."""
    fy = FiscalYear(value.fiscal_year)
    last = value.through or to_tokyo(now or utcnow()).date()
    days = (fy.end_day - fy.first_day).days
    return Decimal(min(max((last - fy.first_day).days + 1, 0), days)) / Decimal(days)


def summarize(indicator: Indicator, years: dict[int, YearValue] | None = None, *, now=None) -> Summary:
    """The summary of one loaded indicator; YEARS (from year_values) default to its manual values.

    The latest value is set against the target that applies to its year (target_for). A whole year at or after
    that target's year is judged (達成 / 未達成, or A/B/C). A year-to-date value (年度途中) is not judged but paced:
    the target's share by today for values that add up over the year, the target itself for levels such as a
    rate; only a value that adds up and already reached its target is judged 達成 early. A closed year before
    its target's year is paced on the line from the baseline to the target (A/B/C still grade it; 達成 when it
    already reached the target, never 未達成). 進捗率 = (actual − baseline) ÷ (target − baseline), only where
    progress_is_meaningful, and not for a year-to-date value that adds up (it is compared with the pace)."""
    values = {kind: indicator.plan_value(kind) for kind in PlanValueKind}
    if years is None:
        years = {m.fiscal_year: YearValue(m.fiscal_year, m.value, "manual", source_document=m.source_document,
                                          source_date=m.source_date)
                 for m in indicator.manual_values}
    known = [years[y] for y in sorted(years) if years[y].value is not None]
    latest = known[-1] if known else None
    previous = years.get(latest.fiscal_year - 1) if latest else None
    baseline, final = values[PlanValueKind.BASELINE], values[PlanValueKind.FINAL_TARGET]
    progress = judgement = pace_now = on_pace = None
    pending = False
    target = target_for(indicator, latest.fiscal_year) if latest is not None else None
    if latest is not None and target is not None:
        baseline_value = baseline.value if baseline else None
        adds_up = indicator.source_kind in ACCUMULATING
        if progress_is_meaningful(baseline_value, target.value, indicator.direction) and not (
                latest.partial and adds_up):
            progress = progress_rate(latest.value, baseline_value, target.value)
        rule = rule_from_config(current_app.config)
        judgement = judge(latest.value, target.value, indicator.direction, baseline=baseline_value, rule=rule)
        reached = judgement in (Judgement.ACHIEVED, Judgement.A)
        if latest.partial:
            pace_now = target.value
            if target.fiscal_year > latest.fiscal_year and baseline is not None:  # a later target: its line
                pace_now = pace_value(baseline_value, baseline.fiscal_year, target.value, target.fiscal_year,
                                      latest.fiscal_year) or target.value
            if adds_up:
                pace_now = pace_now * _elapsed_share(latest, now)
            # Only a value that adds up keeps what it reached; a rate so far may still fall by the year's end.
            if not (adds_up and indicator.direction == Direction.HIGHER and reached) and judgement is not None:
                judgement, pending = None, True
        elif latest.fiscal_year < target.fiscal_year:
            if baseline is not None:
                pace_now = pace_value(baseline_value, baseline.fiscal_year, target.value, target.fiscal_year,
                                      latest.fiscal_year)
            if rule.scheme == Scheme.ACHIEVED and not reached:
                judgement = None  # not 未達成 before the target's year: the pace says how it goes
        if pace_now is not None:
            on_pace = reaches(latest.value, pace_now, indicator.direction)
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
        years=years,
        previous=previous,
        pending=pending,
        target=target,
        pace_now=pace_now.quantize(Decimal("0.1")) if pace_now is not None else None,
        on_pace=on_pace,
    )


def dashboard_years(now=None) -> list[int]:
    """The years the dashboard shows: last fiscal year and this one (year to date)."""
    current = fiscal_year(now or utcnow())
    return [current - 1, current]


def summaries_by_policy(years: list[int] | None = None, *, now=None) -> list[tuple[int, list[Summary]]]:
    """Every indicator's summary with its values for YEARS (default: last year and this one), per policy."""
    indicators = db.session.scalars(_query()).all()
    values = year_values(list(indicators), years or dashboard_years(now), now=now)
    return [(policy, [summarize(i, values[i.id]) for i in group])
            for policy, group in groupby(indicators, key=lambda i: i.policy)]


def chart_years(indicator: Indicator, now=None) -> list[int]:
    """The years of an indicator's chart: from its baseline year to the later of its final target and today."""
    current = fiscal_year(now or utcnow())
    years = [v.fiscal_year for v in indicator.plan_values] + [current]
    return list(range(min(years), max(years) + 1))


def summary_with_history(indicator: Indicator, *, now=None) -> Summary:
    """One indicator with a value for every year of its chart."""
    years = chart_years(indicator, now)
    return summarize(indicator, year_values([indicator], years, now=now)[indicator.id])


def get_by_codes(codes: list[str]) -> list[Indicator]:
    """The indicators with CODES (those that exist) with their printed values only, in two statements."""
    return list(db.session.scalars(sa.select(Indicator).options(selectinload(Indicator.plan_values))
                                   .where(Indicator.code.in_(codes))))


def get_by_code(code: str) -> Indicator | None:
    """The indicator with CODE, its values loaded."""
    return db.session.scalar(_query().where(Indicator.code == code))
