"""Pure functions on indicator values: 進捗率, judgements (達成/未達成 or A/B/C) and the pace toward a target."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.indicators.models import Direction


class Judgement(enum.StrEnum):
    """A judgement of an actual value against its target."""

    ACHIEVED = "achieved"  # 達成
    NOT_ACHIEVED = "not_achieved"  # 未達成
    A = "A"
    B = "B"
    C = "C"

    @property
    def label(self):
        return JUDGEMENT_LABELS[self]


JUDGEMENT_LABELS = {
    Judgement.ACHIEVED: _l("達成"),
    Judgement.NOT_ACHIEVED: _l("未達成"),
    Judgement.A: _l("A(目標達成)"),
    Judgement.B: _l("B(概ね順調)"),
    Judgement.C: _l("C(遅れている)"),
}


class Scheme(enum.StrEnum):
    """How values are judged: 達成/未達成 (the plan's own wording), or three grades."""

    ACHIEVED = "achieved"
    ABC = "abc"


@dataclass(frozen=True)
class JudgementRule:
    """A judgement configuration; B needs at least `b_threshold` of the way from baseline to target."""

    scheme: Scheme = Scheme.ACHIEVED
    b_threshold: Decimal = Decimal("0.5")


DEFAULT_RULE = JudgementRule()


def rule_from_config(config) -> JudgementRule:
    """The judgement rule of the app's config: INDICATOR_JUDGEMENT_SCHEME ("achieved" or "abc") and
    INDICATOR_JUDGEMENT_B_THRESHOLD (the 進捗率 a B needs, default 0.5); the default rule when unset."""
    return JudgementRule(
        scheme=Scheme(config.get("INDICATOR_JUDGEMENT_SCHEME", DEFAULT_RULE.scheme.value)),
        b_threshold=Decimal(str(config.get("INDICATOR_JUDGEMENT_B_THRESHOLD", DEFAULT_RULE.b_threshold))),
    )


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def progress_is_meaningful(baseline, target, direction: Direction) -> bool:
    """進捗率 means something only when both printed values are known, differ, and the target lies on the
    indicator's better side of the baseline (a 'higher is better' target above it, a 'lower' one below)."""
    baseline, target = _decimal(baseline), _decimal(target)
    if baseline is None or target is None or target == baseline:
        return False
    if direction == Direction.HIGHER:
        return target > baseline
    if direction == Direction.LOWER:
        return target < baseline
    return False


def progress_rate(actual, baseline, target) -> Decimal | None:
    """進捗率 = (actual - baseline) / (target - baseline) as an exact Decimal (1 = on target).

    None when any value is unknown or the target equals the baseline (the rate is undefined). Going away
    from the target gives a negative rate; passing it gives more than 1.
    """
    actual, baseline, target = _decimal(actual), _decimal(baseline), _decimal(target)
    if actual is None or baseline is None or target is None or target == baseline:
        return None
    return (actual - baseline) / (target - baseline)


def reaches(actual, target, direction: Direction) -> bool | None:
    """Whether ACTUAL reaches TARGET in DIRECTION; None when a value or the direction is unknown."""
    actual, target = _decimal(actual), _decimal(target)
    if actual is None or target is None:
        return None
    if direction == Direction.HIGHER:
        return actual >= target
    if direction == Direction.LOWER:
        return actual <= target
    return None


def judge(
    actual, target, direction: Direction, *, baseline=None, rule: JudgementRule = DEFAULT_RULE
) -> Judgement | None:
    """The judgement of ACTUAL against TARGET, or None when it cannot be made from what is known.

    Default scheme: 達成 when the actual reaches the target in the indicator's direction, else 未達成.
    A/B/C: A when reached; B when the 進捗率 from BASELINE is at least the rule's threshold; C otherwise.
    """
    reached = reaches(actual, target, direction)
    if reached is None:
        return None
    if rule.scheme == Scheme.ACHIEVED:
        return Judgement.ACHIEVED if reached else Judgement.NOT_ACHIEVED
    if reached:
        return Judgement.A
    rate = progress_rate(actual, baseline, target)
    if rate is None:
        return None
    return Judgement.B if rate >= rule.b_threshold else Judgement.C


def pace_value(baseline, baseline_year: int, target, target_year: int, year: int) -> Decimal | None:
    """The value expected in YEAR on a straight line from the baseline to the target (the pace line)."""
    baseline, target = _decimal(baseline), _decimal(target)
    if baseline is None or target is None or target_year <= baseline_year:
        return None
    return baseline + (target - baseline) * Decimal(year - baseline_year) / Decimal(target_year - baseline_year)
