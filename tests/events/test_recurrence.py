"""Recurrence rules against a brute-force oracle that checks every day of the range."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.events.recurrence import Kind, RecurrenceError, Rule, expand, nth_weekday_of_month

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


def _oracle(rule: Rule) -> list[date]:
    """Walk every day from FIRST to UNTIL and keep those the rule describes, straight from its definition."""
    out = []
    day = rule.first
    while day <= rule.until:
        delta = (day - rule.first).days
        if rule.kind == Kind.WEEKLY:
            keep = delta % 7 == 0
        elif rule.kind == Kind.BIWEEKLY:
            keep = delta % 14 == 0
        else:
            same_weekday = day.weekday() == rule.weekday
            index = (day.day - 1) // 7 + 1
            is_last = (day + timedelta(days=7)).month != day.month
            keep = same_weekday and (index == rule.nth or (rule.nth == -1 and is_last))
        if keep:
            out.append(day)
        day += timedelta(days=1)
    return out


@settings(max_examples=300, deadline=None)
@given(first=DAYS, span=st.integers(0, 400), kind=st.sampled_from([Kind.WEEKLY, Kind.BIWEEKLY]))
def test_weekly_and_biweekly_match_oracle(first, span, kind):
    rule = Rule(kind=kind, first=first, until=first + timedelta(days=span))
    assert expand(rule, limit=1000) == _oracle(rule)


@settings(max_examples=300, deadline=None)
@given(first=DAYS, span=st.integers(0, 800), nth=st.sampled_from([1, 2, 3, 4, 5, -1]), weekday=st.integers(0, 6))
def test_monthly_nth_weekday_matches_oracle(first, span, nth, weekday):
    rule = Rule(kind=Kind.MONTHLY_NTH_WEEKDAY, first=first, until=first + timedelta(days=span), nth=nth,
                weekday=weekday)
    expected = _oracle(rule)
    if not expected:
        with pytest.raises(RecurrenceError):
            expand(rule)
    else:
        assert expand(rule, limit=1000) == expected


@given(days=st.lists(DAYS, min_size=1, max_size=30))
def test_dates_are_sorted_and_unique(days):
    rule = Rule(kind=Kind.DATES, first=min(days), dates=tuple(days))
    assert expand(rule) == sorted(set(days))


@given(rule_first=DAYS)
def test_round_trip_through_dict(rule_first):
    rule = Rule(kind=Kind.MONTHLY_NTH_WEEKDAY, first=rule_first, until=rule_first + timedelta(days=90), nth=2,
                weekday=3, dates=(rule_first,))
    assert Rule.from_dict(rule.to_dict()) == rule


def test_known_dates():
    # 2026-11: Sundays are 1, 8, 15, 22, 29.
    assert nth_weekday_of_month(2026, 11, 6, 1) == date(2026, 11, 1)
    assert nth_weekday_of_month(2026, 11, 6, 5) == date(2026, 11, 29)
    assert nth_weekday_of_month(2026, 11, 6, -1) == date(2026, 11, 29)
    assert nth_weekday_of_month(2026, 2, 0, 5) is None
    assert expand(Rule(kind=Kind.ONCE, first=date(2026, 12, 1))) == [date(2026, 12, 1)]


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        (Rule(kind=Kind.WEEKLY, first=date(2026, 1, 1)), "no_until"),
        (Rule(kind=Kind.WEEKLY, first=date(2026, 1, 1), until=date(2025, 1, 1)), "until_before_first"),
        (Rule(kind=Kind.WEEKLY, first=date(2026, 1, 1), until=date(2036, 1, 1)), "too_many"),
        (Rule(kind=Kind.DATES, first=date(2026, 1, 1)), "no_dates"),
    ],
)
def test_unusable_rules_are_refused(rule, code):
    with pytest.raises(RecurrenceError) as info:
        expand(rule)
    assert info.value.code == code
