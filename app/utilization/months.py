"""Whole months as the rollup counts them: the first day of a month, month keys (year * 100 + month)."""

from __future__ import annotations

from datetime import date


def month_floor(day: date) -> date:
    """The first day of DAY's month."""
    return day.replace(day=1)


def month_ceiling(day: date) -> date:
    """DAY if it is the first of a month, else the first day of the next month."""
    return day if day.day == 1 else add_months(month_floor(day), 1)


def add_months(first: date, n: int) -> date:
    """The first day of the month N months after FIRST's month."""
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_key(day: date) -> int:
    """DAY's month as the rollup tables key it: year * 100 + month."""
    return day.year * 100 + day.month
