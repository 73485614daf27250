"""Weekly booking series: dates, the plan shown before confirming, all-or-nothing or the free dates only, the
monthly limit, fees per occurrence, one e-mail, cancelling one date or the rest; the pages and their access."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.bookings import series, services
from app.bookings.models import ACTIVE_STATES, Booking, BookingClaim, BookingSeries, BookingState
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import UserCategory
from app.organizations.models import OrganizationKind
from tests.facilities.factories import add_closure, make_center, make_organization
from tests.factories import app_context, login, make_user, post_form

R = UserCategory.RESIDENT


def _user(user_id):
    from app.accounts.models import User

    return db.session.get(User, user_id)


def _monday_ahead(days: int) -> date:
    day = today_tokyo() + timedelta(days=days)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _options(c, first_day, **over):
    options = dict(room_id=c.meeting_id, first_day=first_day, interval_weeks=1, count=4,
                   unit_keys=[f"s{c.slot_ids['morning']}"], attendees=10, category=R)
    options.update(over)
    return options


def test_series_dates_weekly_fortnightly_until_and_bad_input():
    first = date(2026, 12, 7)
    assert series.series_dates(first, interval_weeks=1, count=3) == [first, date(2026, 12, 14), date(2026, 12, 21)]
    assert series.series_dates(first, interval_weeks=2, until=date(2027, 1, 4)) == [
        first, date(2026, 12, 21), date(2027, 1, 4)]
    # Both given: whichever ends first.
    assert len(series.series_dates(first, interval_weeks=1, count=10, until=date(2026, 12, 21))) == 3
    for bad in (dict(interval_weeks=3, count=3), dict(interval_weeks=1), dict(interval_weeks=1, count=1),
                dict(interval_weeks=1, count=53), dict(interval_weeks=1, until=first),
                dict(interval_weeks=1, until=first + timedelta(days=400))):
        with pytest.raises(series.SeriesError):
            series.series_dates(first, **bad)


def test_plan_marks_taken_closed_and_outside_window_dates(app_ctx):
    c = make_center(window_days_resident=40)
    u1, u2 = make_user().id, make_user().id
    first = _monday_ahead(3)
    add_closure(c.facility_id, first + timedelta(days=7), first + timedelta(days=8))
    user1, user2 = _user(u1), _user(u2)
    services.book_slots(user=user2, room_id=c.meeting_id, day=first + timedelta(days=14),
                        unit_keys=[f"s{c.slot_ids['morning']}"], purpose="先約", attendees=5, category=R)
    db.session.commit()
    plan = series.plan_series(user=user1, **_options(c, first, count=8))
    kinds = [d.kind for d in plan.dates]
    assert kinds[:3] == ["free", "closed", "taken"]
    # Dates past the 40-day window are refused with the window rule, not silently dropped.
    assert all(d.kind == "rule" for d in plan.dates if (d.day - today_tokyo()).days > 40)
    assert len(plan.free) == sum(1 for k in kinds if k == "free") and plan.net == 1000 * len(plan.free)
    assert db.session.scalar(sa.select(sa.func.count(BookingSeries.id))) == 0  # a plan writes nothing


def test_all_or_nothing_writes_nothing_on_conflict_and_free_only_books_the_rest(app_ctx, outbox):
    c = make_center()
    u1, u2 = make_user().id, make_user().id
    first = _monday_ahead(3)
    services.book_slots(user=_user(u2), room_id=c.meeting_id, day=first + timedelta(days=7),
                        unit_keys=[f"s{c.slot_ids['morning']}"], purpose="先約", attendees=5, category=R)
    db.session.commit()
    user = _user(u1)
    with pytest.raises(series.SeriesConflict) as caught:
        series.book_series(user=user, purpose="体操教室", **_options(c, first))
    db.session.rollback()
    assert caught.value.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(Booking.id)).where(Booking.user_id == u1)) == 0
    assert db.session.scalar(sa.select(sa.func.count(BookingSeries.id))) == 0

    made, booked = series.book_series(user=_user(u1), purpose="体操教室", skip_conflicts=True, **_options(c, first))
    db.session.commit()
    assert [b.day for b in booked] == [first, first + timedelta(days=14), first + timedelta(days=21)]
    assert all(b.series_id == made.id and b.fee_net_yen == 1000 for b in booked)
    # Every occurrence holds its own cells; the taken date still has only the other user's booking.
    assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id)).where(
        BookingClaim.booking_id.in_([b.id for b in booked]))) == 3 * 6
    assert db.session.scalar(sa.select(sa.func.count(Booking.id)).where(
        Booking.day == first + timedelta(days=7), Booking.state.in_(list(ACTIVE_STATES)))) == 1
    outbox.clear()


def test_monthly_limit_counts_the_series_own_dates(app_ctx):
    c = make_center(max_active_per_month=2)
    user = _user(make_user().id)
    first = _monday_ahead(3).replace(day=1) + timedelta(days=31)  # a month ahead, wholly in the window
    first = first.replace(day=1)
    first += timedelta(days=(7 - first.weekday()) % 7)  # the first Monday of that month
    plan = series.plan_series(user=user, **_options(c, first, count=4))
    in_month = [d for d in plan.dates if d.day.month == first.month]
    assert [d.free for d in in_month][:3] == [True, True, False]
    with pytest.raises(series.SeriesConflict):
        series.book_series(user=user, purpose="練習", **_options(c, first, count=4))
    db.session.rollback()


def test_fees_per_occurrence_with_the_groups_reduction(app_ctx):
    c = make_center(fee=2000)
    officer = make_user().id
    org = make_organization(kind=OrganizationKind.NPO, officer_id=officer, reduction_percent=50)
    made, booked = series.book_series(user=_user(officer), purpose="NPOの勉強会", organization_id=org,
                                      **_options(c, _monday_ahead(3), count=3, interval_weeks=2))
    db.session.commit()
    assert [(b.fee_gross_yen, b.fee_reduction_yen, b.fee_net_yen) for b in booked] == [(2000, 1000, 1000)] * 3
    assert [(b.day - booked[0].day).days for b in booked] == [0, 14, 28]
    assert all(b.organization_id == org for b in booked) and made.organization_id == org


def test_cancel_one_date_or_the_rest(app_ctx):
    c = make_center()
    user = _user(make_user().id)
    first = _monday_ahead(14)
    made, booked = series.book_series(user=user, purpose="体操教室", **_options(c, first, count=4))
    db.session.commit()
    services.cancel_booking(booked[1], actor=user)
    db.session.commit()
    preview = series.cancellation_preview(made, actor=user, from_day=booked[2].day)
    assert [b.id for b in preview.bookings] == [booked[2].id, booked[3].id]
    cancelled = series.cancel_series(made, actor=user, from_day=booked[2].day)
    db.session.commit()
    assert {b.id for b in cancelled} == {booked[2].id, booked[3].id}
    states = [b.state for b in series.series_bookings(made.id)]
    assert states == [BookingState.TENTATIVE, BookingState.CANCELLED, BookingState.CANCELLED, BookingState.CANCELLED]
    assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id)).where(
        BookingClaim.booking_id.in_([b.id for b in booked[1:]]))) == 0
    with pytest.raises(services.NotCancellable):
        series.cancel_series(made, actor=user, from_day=booked[2].day)


# --- pages ---------------------------------------------------------------------------------------------------

CONFIRM_RE = re.compile(r'name="confirm"[^>]*value="([^"]*)"')


def _form(c, first, **over):
    data = {"room_id": str(c.meeting_id), "day": first.isoformat(), "units": [f"s{c.slot_ids['morning']}"],
            "interval_weeks": "1", "count": "4", "until": "", "purpose": "体操教室", "attendees": "12",
            "category": "resident", "organization_id": ""}
    data.update(over)
    return data


def _series_count():
    with app_context():
        return db.session.scalar(sa.select(sa.func.count(BookingSeries.id)))


def test_plan_then_book_all_then_series_page(client, outbox):
    c = make_center()
    user = make_user()
    login(client, user.email)
    first = _monday_ahead(3)
    page = f"/bookings/series/new?room={c.meeting_id}&day={first.isoformat()}"
    assert "くり返しの予約" in client.get(page).get_data(as_text=True)
    plan = post_form(client, "/bookings/series/new", _form(c, first), page=page)
    text = plan.get_data(as_text=True)
    assert plan.status_code == 200 and "4日すべて予約する" in text and "4,000円" in text
    assert _series_count() == 0
    fingerprint = CONFIRM_RE.search(text).group(1)
    # A changed input after the plan shows a new plan instead of booking.
    again = post_form(client, "/bookings/series/new", _form(c, first, count="5", confirm=fingerprint, mode="all"),
                      page=page)
    assert again.status_code == 200 and "5日すべて予約する" in again.get_data(as_text=True) and _series_count() == 0
    done = post_form(client, "/bookings/series/new", _form(c, first, confirm=fingerprint, mode="all"), page=page)
    assert done.status_code == 303
    show = client.get(done.headers["Location"]).get_data(as_text=True)
    assert show.count("この日を取り消す") == 4 and "残りの予約(4件)をすべて取り消す" in show
    # One e-mail for the whole series, every date in its .ics.
    [mail] = [m for m in outbox if m["To"] == user.email]
    assert "くり返しの予約" in mail["Subject"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "bookings.ics" and attachment.get_content().count("BEGIN:VEVENT") == 4


def test_conflict_offers_only_the_free_dates_and_all_is_refused(client):
    c = make_center()
    other, user = make_user(), make_user()
    first = _monday_ahead(3)
    with app_context():
        services.book_slots(user=_user(other.id), room_id=c.meeting_id, day=first + timedelta(days=7),
                            unit_keys=[f"s{c.slot_ids['morning']}"], purpose="先約", attendees=5, category=R)
        db.session.commit()
    login(client, user.email)
    page = f"/bookings/series/new?room={c.meeting_id}&day={first.isoformat()}"
    plan = post_form(client, "/bookings/series/new", _form(c, first), page=page)
    text = plan.get_data(as_text=True)
    assert "空いている3日だけ予約する" in text and "すべて予約する" not in text and "ほかの予約が入っています" in text
    assert "先約" not in text  # never who booked or why
    fingerprint = CONFIRM_RE.search(text).group(1)
    refused = post_form(client, "/bookings/series/new", _form(c, first, confirm=fingerprint, mode="all"), page=page)
    assert refused.status_code == 409 and _series_count() == 0
    assert 'value="体操教室"' in refused.get_data(as_text=True)  # nothing typed is lost
    done = post_form(client, "/bookings/series/new", _form(c, first, confirm=fingerprint, mode="free"), page=page)
    assert done.status_code == 303 and _series_count() == 1


def test_bad_input_is_kept_with_a_message(client):
    c = make_center()
    login(client, make_user().email)
    first = _monday_ahead(3)
    page = f"/bookings/series/new?room={c.meeting_id}&day={first.isoformat()}"
    response = post_form(client, "/bookings/series/new", _form(c, first, count="", until=""), page=page)
    assert response.status_code == 422
    assert "回数か最後の日のどちらかを入力してください" in response.get_data(as_text=True)
    response = post_form(client, "/bookings/series/new", _form(c, first, count="", until=first.isoformat()),
                         page=page)
    assert response.status_code == 422 and "最後の日は最初の日より後にしてください" in response.get_data(as_text=True)
    assert _series_count() == 0


def test_series_pages_are_private_and_cancel_the_rest(client):
    c = make_center()
    owner, stranger = make_user(), make_user()
    first = _monday_ahead(14)
    with app_context():
        made, _booked = series.book_series(user=_user(owner.id), purpose="体操教室", **_options(c, first))
        db.session.commit()
        series_id = made.id
    login(client, stranger.email)
    assert client.get(f"/bookings/series/{series_id}").status_code == 404
    assert client.get(f"/bookings/series/{series_id}/cancel").status_code == 404
    client2 = client.application.test_client()
    login(client2, owner.email)
    page = f"/bookings/series/{series_id}/cancel?from={(first + timedelta(days=14)).isoformat()}"
    text = client2.get(page).get_data(as_text=True)
    assert "次の2件の予約を取り消します" in text
    done = post_form(client2, f"/bookings/series/{series_id}/cancel",
                     {"from": (first + timedelta(days=14)).isoformat()}, page=page)
    assert done.status_code == 303
    with app_context():
        states = [b.state for b in series.series_bookings(series_id)]
    assert states.count(BookingState.CANCELLED) == 2 and states[:2] == [BookingState.TENTATIVE] * 2
