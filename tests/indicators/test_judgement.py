"""進捗率, judgements and the pace line: exact Decimal arithmetic, direction-aware, None when unknown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.indicators.judgement import Judgement, JudgementRule, Scheme, judge, pace_value, progress_rate, reaches
from app.indicators.models import Direction

D = Decimal
ABC = JudgementRule(scheme=Scheme.ABC)


def test_progress_rate_is_exact():
    # 区民参画会議の参加者数: 当初 179, 中間実績 280, 目標 308 -> 101/129, not a rounded float.
    assert progress_rate(D("280"), D("179"), D("308")) == D(101) / D(129)
    assert progress_rate(D("33.2"), D("22.2"), D("35.8")) == D("11.0") / D("13.6")
    assert progress_rate(D("76.8"), D("55.6"), D("76.8")) == 1
    assert progress_rate(D("55.6"), D("55.6"), D("76.8")) == 0


def test_progress_rate_for_a_lower_is_better_indicator_and_overshoot():
    assert progress_rate(D("8"), D("10"), D("6")) == D("0.5")  # going down toward a lower target
    assert progress_rate(D("12"), D("10"), D("6")) == D("-0.5")  # moving away
    assert progress_rate(D("350"), D("106"), D("180")) == D(244) / D(74)  # past the target: above 1


@pytest.mark.parametrize(
    ("actual", "baseline", "target"),
    [(None, D("1"), D("2")), (D("1"), None, D("2")), (D("1"), D("2"), None), (D("3"), D("2"), D("2"))],
)
def test_progress_rate_is_none_when_unknown_or_undefined(actual, baseline, target):
    assert progress_rate(actual, baseline, target) is None


def test_default_judgement_follows_the_direction():
    assert judge(D("280"), D("258"), Direction.HIGHER) == Judgement.ACHIEVED
    assert judge(D("47.0"), D("47.0"), Direction.HIGHER) == Judgement.ACHIEVED  # reaching is enough
    assert judge(D("2"), D("7"), Direction.HIGHER) == Judgement.NOT_ACHIEVED
    assert judge(D("5"), D("6"), Direction.LOWER) == Judgement.ACHIEVED
    assert judge(D("7"), D("6"), Direction.LOWER) == Judgement.NOT_ACHIEVED


def test_judgement_unknown_when_a_value_or_the_direction_is_unknown():
    assert judge(None, D("7"), Direction.HIGHER) is None
    assert judge(D("7"), None, Direction.HIGHER) is None
    assert judge(D("7"), D("6"), Direction.UNKNOWN) is None
    assert reaches(D("7"), D("6"), Direction.UNKNOWN) is None


def test_abc_scheme():
    assert judge(D("30"), D("30"), Direction.HIGHER, baseline=D("11"), rule=ABC) == Judgement.A
    assert judge(D("60"), D("75"), Direction.HIGHER, baseline=D("53"), rule=ABC) == Judgement.C  # 7/22
    assert judge(D("70"), D("75"), Direction.HIGHER, baseline=D("53"), rule=ABC) == Judgement.B  # 17/22
    assert judge(D("64"), D("75"), Direction.HIGHER, baseline=D("53"), rule=ABC) == Judgement.B  # exactly 0.5
    assert judge(D("8"), D("6"), Direction.LOWER, baseline=D("10"), rule=ABC) == Judgement.B
    assert judge(D("11"), D("6"), Direction.LOWER, baseline=D("10"), rule=ABC) == Judgement.C
    # Not reached and no baseline: B or C cannot be told.
    assert judge(D("60"), D("75"), Direction.HIGHER, rule=ABC) is None
    strict = JudgementRule(scheme=Scheme.ABC, b_threshold=D("0.8"))
    assert judge(D("70"), D("75"), Direction.HIGHER, baseline=D("53"), rule=strict) == Judgement.C


def test_pace_line():
    # From 55.6% in FY2020 to 82.9% in FY2026: 4.55 points a year.
    assert pace_value(D("55.6"), 2020, D("82.9"), 2026, 2023) == D("69.25")
    assert pace_value(D("55.6"), 2020, D("82.9"), 2026, 2026) == D("82.9")
    assert pace_value(None, 2020, D("82.9"), 2026, 2023) is None
    assert pace_value(D("1"), 2026, D("2"), 2026, 2026) is None


def test_rule_from_config():
    from app.indicators.judgement import DEFAULT_RULE, rule_from_config

    assert rule_from_config({}) == DEFAULT_RULE
    rule = rule_from_config({"INDICATOR_JUDGEMENT_SCHEME": "abc", "INDICATOR_JUDGEMENT_B_THRESHOLD": 0.6})
    assert rule == JudgementRule(scheme=Scheme.ABC, b_threshold=D("0.6"))
    with pytest.raises(ValueError):
        rule_from_config({"INDICATOR_JUDGEMENT_SCHEME": "stars"})
