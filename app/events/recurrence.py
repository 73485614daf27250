"""Pure recurrence rules: which days a series happens on. No database, no Flask."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

MAX_OCCURRENCES = 200


class Kind(enum.StrEnum):
    """The repeat patterns the plan's groups use (mirrors app.events.models.Frequency)."""

    ONCE = "once"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY_NTH_WEEKDAY = "monthly_nth_weekday"
    DATES = "dates"


class RecurrenceError(ValueError):
    """The rule cannot be expanded (no end, end before start, too many dates, no dates)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Rule:
    """A recurrence rule.

    ONCE: FIRST only. WEEKLY / BIWEEKLY: every 7 / 14 days from FIRST up to UNTIL (inclusive).
    MONTHLY_NTH_WEEKDAY: the NTH (1-5, or -1 for the last) WEEKDAY (0=Monday) of each month from FIRST's month,
    on or after FIRST and up to UNTIL; months without a 5th such weekday are skipped. DATES: exactly DATES.
    """

    kind: Kind
    first: date
    until: date | None = None
    nth: int | None = None
    weekday: int | None = None
    dates: tuple[date, ...] = field(default=())

    def to_dict(self) -> dict:
        """A JSON-able form, stored with the series."""
        return {
            "kind": self.kind.value,
            "first": self.first.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "nth": self.nth,
            "weekday": self.weekday,
            "dates": [d.isoformat() for d in self.dates],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Rule:
        """The inverse of to_dict."""
        return cls(
            kind=Kind(data["kind"]),
            first=date.fromisoformat(data["first"]),
            until=date.fromisoformat(data["until"]) if data.get("until") else None,
            nth=data.get("nth"),
            weekday=data.get("weekday"),
            dates=tuple(date.fromisoformat(d) for d in data.get("dates") or ()),
        )


def nth_weekday_of_month(year: int, month: int, weekday: int, nth: int) -> date | None:
    """The NTH WEEKDAY of a month (nth=-1: the last one), or None when the month has no such day."""
    if nth == -1:
        following = date(year + (month == 12), month % 12 + 1, 1)
        last = following - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    return day if day.month == month else None


def expand(rule: Rule, *, limit: int = MAX_OCCURRENCES) -> list[date]:
    """The days of RULE in order, without duplicates. Raises RecurrenceError for rules that cannot be used."""
    if rule.kind == Kind.ONCE:
        return [rule.first]
    if rule.kind == Kind.DATES:
        days = sorted(set(rule.dates))
        if not days:
            raise RecurrenceError("no_dates")
        if len(days) > limit:
            raise RecurrenceError("too_many")
        return days
    if rule.until is None:
        raise RecurrenceError("no_until")
    if rule.until < rule.first:
        raise RecurrenceError("until_before_first")
    result: list[date] = []
    if rule.kind in (Kind.WEEKLY, Kind.BIWEEKLY):
        step = timedelta(days=7 if rule.kind == Kind.WEEKLY else 14)
        current = rule.first
        while current <= rule.until:
            result.append(current)
            if len(result) > limit:
                raise RecurrenceError("too_many")
            current += step
        return result
    if rule.kind == Kind.MONTHLY_NTH_WEEKDAY:
        if rule.nth not in (1, 2, 3, 4, 5, -1) or rule.weekday not in range(7):
            raise RecurrenceError("bad_nth")
        year, month = rule.first.year, rule.first.month
        while date(year, month, 1) <= rule.until:
            day = nth_weekday_of_month(year, month, rule.weekday, rule.nth)
            if day is not None and rule.first <= day <= rule.until:
                result.append(day)
                if len(result) > limit:
                    raise RecurrenceError("too_many")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if not result:
            raise RecurrenceError("no_dates")
        return result
    raise RecurrenceError("unknown_kind")
