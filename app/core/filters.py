"""Jinja filters: dates and times in the user's language, with 和暦 beside western years in Japanese.

English shows the western year alone: an era year ("Reiwa 8") means nothing to most English readers and
only lengthens the date (docs/i18n.md)."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import format_date, format_datetime, format_time
from flask_babel import gettext as _

from app.core.i18n import current_language
from app.core.time import format_wareki, format_wareki_year, to_tokyo


def _is_japanese() -> bool:
    # やさしい日本語 has no Babel locale of its own: it shares "ja" dates and numbers.
    return current_language().locale == "ja"


def _era_of(day: date) -> str | None:
    try:
        return format_wareki(day)
    except ValueError:  # before the eras we know: show the western year alone
        return None


def date_long(value: date | datetime | None) -> str:
    """'2026年11月28日(土)(令和8年)' in Japanese, 'Sat, Nov 28, 2026' in English (Tokyo day)."""
    if value is None:
        return ""
    day = to_tokyo(value).date() if isinstance(value, datetime) else value
    if not _is_japanese():
        return format_date(day, "EEE, MMM d, y", rebase=False)
    era = _era_of(day)
    text = format_date(day, "y年M月d日(E)", rebase=False)
    return f"{text}({era})" if era else text


def datetime_long(value: datetime | None) -> str:
    """A date as date_long, followed by the Tokyo time: '2026年11月28日(土)(令和8年) 14:00'."""
    if value is None:
        return ""
    local = to_tokyo(value)
    return f"{date_long(local)} {format_time(local.time(), 'HH:mm', rebase=False)}"


def datetime_range(start: datetime | None, end: datetime | None) -> str:
    """From START to END: '2026年12月8日(火)(令和8年) 10:00–11:30' within one Tokyo day, both dates in full when the
    range crosses midnight."""
    if start is None or end is None:
        return datetime_long(start or end)
    first, last = to_tokyo(start), to_tokyo(end)
    if first.date() == last.date():
        return f"{datetime_long(first)}–{format_time(last.time(), 'HH:mm', rebase=False)}"
    return f"{datetime_long(first)} – {datetime_long(last)}"


def datetime_short(value: datetime | None) -> str:
    """A compact date and time for tables (Tokyo time)."""
    if value is None:
        return ""
    return format_datetime(to_tokyo(value), "yyyy-MM-dd HH:mm", rebase=False)


def fiscal_year_label(year: int) -> str:
    """'令和8年度(2026年度)' in Japanese, 'FY2026' in English."""
    if _is_japanese():
        return f"{format_wareki_year(year, fiscal=True)}({year}年度)"
    return f"FY{year}"


def plan_year_label(year: int, label: str) -> str:
    """A year as the plan prints it, with the western fiscal year: '令和8年度末(2026年度)' in Japanese; in English
    the western year alone, 'FY2019' or, for a year-end label, 'end of FY2026'."""
    if _is_japanese():
        return _("%(label)s(%(year)s年度)", label=label, year=year)
    if label.endswith("末"):
        return _("%(year)s年度末", year=year)
    return fiscal_year_label(year)


def init_app(app) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(
        date_long=date_long,
        datetime_long=datetime_long,
        datetime_range=datetime_range,
        datetime_short=datetime_short,
        fiscal_year_label=fiscal_year_label,
        plan_year_label=plan_year_label,
    )
