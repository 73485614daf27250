"""Date filters in the three languages: 和暦 beside western years, romaji eras in English, Tokyo days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import render_template_string

from app.core.filters import (
    date_long,
    datetime_long,
    datetime_range,
    datetime_short,
    fiscal_year_label,
    plan_year_label,
)
from app.core.i18n import use_language


@pytest.fixture
def in_language(app):
    """Run a callable inside a request context in one of the interface languages."""

    def run(code, func, *args):
        with app.test_request_context("/"), use_language(code):
            return func(*args)

    return run


@pytest.mark.parametrize("code", ["ja", "ja-easy"])
def test_japanese_dates_carry_the_era_in_kanji(in_language, code):
    assert in_language(code, date_long, date(2026, 11, 28)) == "2026年11月28日(土)(令和8年)"
    assert in_language(code, date_long, date(2019, 5, 1)) == "2019年5月1日(水)(令和元年)"
    assert in_language(code, date_long, date(2019, 4, 30)) == "2019年4月30日(火)(平成31年)"
    assert in_language(code, fiscal_year_label, 2026) == "令和8年度(2026年度)"
    assert in_language(code, fiscal_year_label, 2019) == "令和元年度(2019年度)"


def test_english_dates_show_the_western_year_alone(in_language):
    assert in_language("en", date_long, date(2026, 11, 28)) == "Sat, Nov 28, 2026"
    assert in_language("en", date_long, date(2019, 5, 1)) == "Wed, May 1, 2019"
    assert in_language("en", date_long, date(1989, 1, 7)) == "Sat, Jan 7, 1989"
    assert in_language("en", fiscal_year_label, 2026) == "FY2026"
    for text in (in_language("en", date_long, date(2026, 1, 1)), in_language("en", fiscal_year_label, 2030)):
        assert not any("\u3040" <= ch <= "\u9fff" for ch in text), text  # no kana or kanji in English


def test_instants_are_shown_on_their_tokyo_day_and_time(in_language):
    instant = datetime(2027, 3, 31, 15, 30, tzinfo=UTC)  # 2027-04-01 00:30 JST
    assert in_language("ja", datetime_long, instant) == "2027年4月1日(木)(令和9年) 00:30"
    assert in_language("en", datetime_long, instant) == "Thu, Apr 1, 2027 00:30"
    assert in_language("en", date_long, instant) == "Thu, Apr 1, 2027"
    assert in_language("ja", datetime_short, instant) == "2027-04-01 00:30"


def test_a_range_within_one_tokyo_day_names_the_day_once(in_language):
    start = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    assert in_language("ja", datetime_range, start, start + timedelta(hours=1, minutes=30)) == \
        "2026年12月8日(火)(令和8年) 10:00–11:30"
    assert in_language("en", datetime_range, start, start + timedelta(hours=2)) == "Tue, Dec 8, 2026 10:00–12:00"
    # 23:00 to 01:00 in Tokyo crosses midnight there (not in UTC): both dates in full
    late = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    assert in_language("en", datetime_range, late, late + timedelta(hours=2)) == \
        "Tue, Dec 8, 2026 23:00 – Wed, Dec 9, 2026 01:00"


def test_the_plans_year_labels_keep_their_words_in_japanese_and_read_as_fiscal_years_in_english(in_language):
    assert in_language("ja", plan_year_label, 2026, "令和8年度末") == "令和8年度末(2026年度)"
    assert in_language("en", plan_year_label, 2026, "令和8年度末") == "end of FY2026"
    assert in_language("en", plan_year_label, 2019, "令和元年度") == "FY2019"


def test_empty_values_and_dates_before_known_eras(in_language):
    assert in_language("ja", date_long, None) == ""
    assert in_language("en", datetime_long, None) == ""
    assert in_language("ja", datetime_short, None) == ""
    assert in_language("ja", date_long, date(1920, 5, 1)) == "1920年5月1日(土)"


def test_filters_are_registered_for_templates(in_language):
    def render():
        return render_template_string("{{ d|date_long }} / {{ 2026|fiscal_year_label }}", d=date(2026, 4, 1))

    assert in_language("en", render) == "Wed, Apr 1, 2026 / FY2026"
    assert in_language("ja-easy", render) == "2026年4月1日(水)(令和8年) / 令和8年度(2026年度)"
