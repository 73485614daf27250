"""Pure tests for app.core.time: fiscal years (年度) judged in Tokyo, their ranges, and 和暦 at era changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.time import (
    TOKYO,
    FiscalYear,
    days,
    fiscal_year,
    format_wareki,
    format_wareki_year,
    to_tokyo,
    tokyo_to_utc,
    wareki_year,
)

DAYS = st.dates(min_value=date(1927, 1, 1), max_value=date(2100, 12, 31))
INSTANTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_fiscal_year_boundary_is_midnight_in_tokyo_not_utc():
    last_minute = datetime(2027, 3, 31, 14, 59, tzinfo=UTC)  # 2027-03-31 23:59 JST
    first_instant = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)  # 2027-04-01 00:00 JST
    assert to_tokyo(last_minute).strftime("%Y-%m-%d %H:%M") == "2027-03-31 23:59"
    assert fiscal_year(last_minute) == 2026
    assert fiscal_year(first_instant) == 2027
    # In UTC both instants are still March 31: a UTC-based judgement would get the second one wrong.
    assert first_instant.date() == date(2027, 3, 31)


def test_fiscal_year_of_days():
    assert fiscal_year(date(2027, 3, 31)) == 2026
    assert fiscal_year(date(2027, 4, 1)) == 2027
    assert fiscal_year(date(2027, 1, 1)) == 2026
    assert fiscal_year(date(2026, 12, 31)) == 2026


def test_fiscal_year_rejects_naive_instants():
    with pytest.raises(ValueError):
        fiscal_year(datetime(2027, 4, 1, 0, 0))


def test_fiscal_year_range_is_half_open_in_days_and_instants():
    fy = FiscalYear(2026)
    assert fy.first_day == date(2026, 4, 1)
    assert fy.end_day == date(2027, 4, 1)
    assert fy.start_at == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert fy.end_at == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    assert fy.contains(fy.start_at)
    assert not fy.contains(fy.end_at)
    assert fy.contains(fy.end_at - timedelta(microseconds=1))
    assert not fy.contains(fy.start_at - timedelta(microseconds=1))
    assert fy.contains(date(2027, 3, 31)) and not fy.contains(date(2027, 4, 1))
    assert len(list(days(fy.first_day, fy.end_day))) == 365
    assert len(list(days(FiscalYear(2027).first_day, FiscalYear(2027).end_day))) == 366  # 2028 is a leap year


@given(DAYS)
def test_fiscal_year_of_a_day_matches_the_brute_force_rule(day):
    expected = day.year if (day.month, day.day) >= (4, 1) else day.year - 1
    assert fiscal_year(day) == expected
    fy = FiscalYear(expected)
    assert fy.first_day <= day < fy.end_day
    assert fy.contains(day)


@given(INSTANTS)
def test_fiscal_year_of_an_instant_is_that_of_its_tokyo_day(instant):
    fy = FiscalYear(fiscal_year(instant))
    assert fiscal_year(instant) == fiscal_year(instant.astimezone(TOKYO).date())
    assert fy.start_at <= instant < fy.end_at


@given(st.integers(min_value=1990, max_value=2100))
def test_consecutive_fiscal_years_tile_time(year):
    assert FiscalYear(year).end_at == FiscalYear(year + 1).start_at
    assert FiscalYear(year).end_day == FiscalYear(year + 1).first_day
    assert FiscalYear(year).start_at == tokyo_to_utc(date(year, 4, 1), time())


@pytest.mark.parametrize(
    ("day", "era", "number", "label", "romaji"),
    [
        (date(1989, 1, 7), "昭和", 64, "昭和64年", "Showa 64"),
        (date(1989, 1, 8), "平成", 1, "平成元年", "Heisei 1"),
        (date(1990, 1, 1), "平成", 2, "平成2年", "Heisei 2"),
        (date(2019, 4, 30), "平成", 31, "平成31年", "Heisei 31"),
        (date(2019, 5, 1), "令和", 1, "令和元年", "Reiwa 1"),
        (date(2020, 1, 1), "令和", 2, "令和2年", "Reiwa 2"),
        (date(2026, 11, 28), "令和", 8, "令和8年", "Reiwa 8"),
    ],
)
def test_wareki_around_era_changes(day, era, number, label, romaji):
    assert wareki_year(day) == (era, number)
    assert format_wareki(day) == label
    assert format_wareki(day, romaji=True) == romaji


def test_wareki_before_known_eras_is_refused():
    with pytest.raises(ValueError):
        wareki_year(date(1926, 12, 24))


def test_wareki_of_western_and_fiscal_years():
    # A calendar year takes the era of its last day; a fiscal year the era of its first day.
    assert format_wareki_year(2019) == "令和元年"
    assert format_wareki_year(2019, fiscal=True) == "令和元年度"  # as the ward names it
    assert format_wareki_year(1988, fiscal=True) == "昭和63年度"
    assert format_wareki_year(2020, fiscal=True) == "令和2年度"
    assert format_wareki_year(1989) == "平成元年"
    assert format_wareki_year(1988) == "昭和63年"
    assert format_wareki_year(2026, fiscal=True, romaji=True) == "Reiwa 8"
    assert format_wareki_year(2019, romaji=True) == "Reiwa 1"


@given(DAYS)
def test_era_year_counts_from_the_era_start(day):
    era, number = wareki_year(day)
    starts = {"令和": date(2019, 5, 1), "平成": date(1989, 1, 8), "昭和": date(1926, 12, 25)}
    start = starts[era]
    assert start <= day
    later = [s for s in starts.values() if s > start]
    assert all(day < s for s in later)  # the latest era that has started
    assert number == day.year - start.year + 1 >= 1
    assert format_wareki(day).startswith(era) and format_wareki(day).endswith("年")
