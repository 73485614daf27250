"""Check-in only on the occurrence's day in Tokyo (issue 16: it was accepted nine days early): the rule, and what
the door page and its forms say outside that day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.events import tickets
from app.events.models import EventOccurrence
from app.extensions import db
from app.participation import checkin
from app.participation.errors import CheckinClosed
from app.participation.models import Checkin
from tests.factories import app_context, login, post_form
from tests.participation.factories import make_organized, make_registration, move_occurrence

# 2026-12-20 10:00-12:00 in Tokyo (UTC+9): the day runs from 2026-12-19 15:00 to 2026-12-20 15:00 UTC.
STARTS = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
DAY_STARTS = datetime(2026, 12, 19, 15, 0, tzinfo=UTC)
DAY_ENDS = datetime(2026, 12, 20, 15, 0, tzinfo=UTC)


def _occurrence(starts_at=STARTS, hours=2):
    return EventOccurrence(starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours))


@pytest.mark.parametrize("now", [
    DAY_STARTS,                              # midnight in Tokyo
    STARTS - timedelta(hours=3),             # that morning
    STARTS + timedelta(hours=1),             # during the event
    DAY_ENDS - timedelta(seconds=1),         # 23:59:59 in Tokyo
])
def test_check_in_is_open_on_the_day(app_ctx, now):
    checkin.require_checkin_open(_occurrence(), now)
    assert checkin.checkin_window(_occurrence()).is_open(now)


@pytest.mark.parametrize("now", [
    STARTS - timedelta(days=9),              # the reported case: nine days early
    DAY_STARTS - timedelta(seconds=1),       # 23:59:59 the evening before
])
def test_check_in_is_refused_before_the_day_with_the_opening_time(app_ctx, now):
    with pytest.raises(CheckinClosed) as caught:
        checkin.require_checkin_open(_occurrence(), now)
    assert caught.value.status_code == 409
    assert "2026年12月20日" in str(caught.value.message) and "00:00" in str(caught.value.message)


@pytest.mark.parametrize("now", [DAY_ENDS, DAY_ENDS + timedelta(days=3)])
def test_check_in_is_refused_after_the_day(app_ctx, now):
    with pytest.raises(CheckinClosed) as caught:
        checkin.require_checkin_open(_occurrence(), now)
    assert "23:59" in str(caught.value.message)


def test_an_occurrence_running_past_midnight_stays_open_until_it_ends(app_ctx):
    late = _occurrence(starts_at=DAY_ENDS - timedelta(hours=1), hours=3)  # 23:00 to 02:00 in Tokyo
    window = checkin.checkin_window(late)
    assert window.opens_at == DAY_STARTS and window.closes_at == late.ends_at


def test_the_opening_is_configurable_in_minutes_before_the_start(app, app_ctx):
    app.config["CHECKIN_OPENS_MINUTES_BEFORE"] = 60
    try:
        with pytest.raises(CheckinClosed):
            checkin.require_checkin_open(_occurrence(), STARTS - timedelta(minutes=61))
        checkin.require_checkin_open(_occurrence(), STARTS - timedelta(minutes=60))
        # Never before the day begins, however many minutes are configured.
        app.config["CHECKIN_OPENS_MINUTES_BEFORE"] = 24 * 60
        assert checkin.checkin_window(_occurrence()).opens_at == DAY_STARTS
    finally:
        app.config["CHECKIN_OPENS_MINUTES_BEFORE"] = None


def test_every_kind_of_check_in_is_refused_early_and_the_page_says_when_it_opens(client):
    org = make_organized()
    move_occurrence(org.occurrence_id, datetime.now(UTC) + timedelta(days=9))
    registration_id, _u, _e = make_registration(org.occurrence_id)
    with app_context():
        officer = db.session.get(User, org.officer_id)
        officer.preferred_language = "en"
        code = tickets.code_of(registration_id)
        db.session.commit()
    login(client, org.officer_email)
    page = f"/participation/occurrences/{org.occurrence_id}/checkin"
    html = client.get(page, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'id="checkin-window"[^>]*>[^<]*Check-in is not open yet\. It opens at ', html), html

    by_code = post_form(client, page, {"code": code}, headers={"Accept-Language": "en"})
    assert by_code.status_code == 409
    assert "Check-in is not open yet" in by_code.get_data(as_text=True)
    manual = post_form(client, f"/participation/registrations/{registration_id}/checkin", {}, page=page,
                       follow_redirects=True)
    assert "Check-in is not open yet" in manual.get_data(as_text=True)
    walkin = post_form(client, f"/participation/occurrences/{org.occurrence_id}/walkins", {"delta": "1"},
                       page=page, follow_redirects=True)
    assert "Check-in is not open yet" in walkin.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Checkin)) == 0
        assert checkin.walkins(org.occurrence_id) == 0
