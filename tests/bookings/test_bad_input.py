"""Bad input on every booking form and API endpoint: a clear answer (4xx with a message), never a 500, nothing saved.

Past dates, days beyond any calendar, unknown slots, another facility's slot or equipment, ids beyond the id
column, non-numbers, huge attendee numbers, a banned user."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.bookings.models import Booking
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from tests.api.factories import bearer, make_token
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, post_form

HUGE = "9" * 30  # beyond a 64-bit id column
BIG = str(2**63)  # just beyond BIGINT


def _count() -> int:
    with app_context():
        return db.session.scalar(sa.select(sa.func.count(Booking.id)))


def _form(c, day, over=None, **extra):
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids['morning']}"],
            "purpose": "入力の確認", "attendees": "12", "category": "resident", "organization_id": "",
            "confirm": "1"}
    data.update(extra)
    data.update(over or {})
    return data


def _cases(c, other, day):
    morning = f"s{c.slot_ids['morning']}"
    return [
        ({"day": "2000-01-01"}, "過ぎた日は予約できません"),
        ({"day": "9999-12-31"}, None),
        ({"day": "0001-01-01"}, None),
        ({"day": "12/01/2026"}, "日付を正しく入力してください"),
        ({"units": ["s999999"]}, "選んだ時間区分"),
        ({"units": [f"s{other.slot_ids['morning']}"]}, "選んだ時間区分"),
        ({"units": [f"s{HUGE}"]}, "選んだ時間区分"),
        ({"units": ["<script>"]}, "選んだ時間区分"),
        ({"units": []}, "時間区分を1つ以上"),
        ({"attendees": "99999999999999999999"}, "人数は1人以上"),
        ({"attendees": "-3"}, "人数は1人以上"),
        ({"attendees": "十二"}, "人数を数字で"),
        ({"attendees": "500", "units": [morning]}, "定員"),
        ({"organization_id": HUGE}, None),
        ({"organization_id": BIG}, None),
        ({"organization_id": "abc"}, None),
        ({"organization_id": "999999"}, None),
        ({"equipment": [HUGE]}, None),
        ({"equipment": ["abc"]}, None),
        ({"equipment": ["999999"]}, "付帯設備"),
        ({"category": "martian"}, None),
        ({"purpose": "x" * 5000}, "200文字以内"),
    ]


@pytest.mark.parametrize("kind", ["new", "series", "desk", "desk_series"])
def test_booking_forms_answer_bad_input_with_a_message_and_keep_it(client, kind):
    c, other = make_center(), make_center()
    user = make_user(email="bad.input@example.jp")
    day = today_tokyo() + timedelta(days=10)
    if kind.startswith("desk"):
        staff = make_user(role=Role.FACILITY_STAFF)
        assign_staff(staff.id, c.facility_id)
        login(client, staff.email)
        url = f"/bookings/desk/{c.facility_id}/" + ("book" if kind == "desk" else "series")
        extra = {"user_email": user.email}
        if kind == "desk_series":
            extra.update(count="3", interval_weeks="1", mode="all")
    else:
        login(client, user.email)
        url = "/bookings/new" if kind == "new" else "/bookings/series/new"
        extra = {"count": "3", "interval_weeks": "1", "mode": "all"} if kind == "series" else {}
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    assert client.get(page).status_code == 200
    for over, message in _cases(c, other, day):
        response = post_form(client, url, _form(c, day, over, **extra), page=page)
        text = response.get_data(as_text=True)
        assert 400 <= response.status_code < 500 or response.status_code == 200, (over, response.status_code)
        if message:
            assert message in text, (over, response.status_code)
        if response.status_code < 500 and "purpose" not in over:
            assert "入力の確認" in text, over  # nothing typed is lost
    assert _count() == 0
    for room in ("999999", HUGE, "abc", str(other.meeting_id) if kind.startswith("desk") else "999999"):
        assert client.get(f"{url}?room={room}").status_code == 404
        assert post_form(client, url, _form(c, day, {"room_id": room}, **extra), page=page).status_code == 404
    for bad_day in ("9999-12-31", "0001-01-01", "yesterday"):
        assert client.get(f"{url}?room={c.meeting_id}&day={bad_day}").status_code == 200
    assert _count() == 0


def test_series_bad_ends_are_messages(client):
    c = make_center()
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=10)
    url = "/bookings/series/new"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    for over, message in (({"count": "", "until": ""}, "回数か最後の日"), ({"count": "500"}, "2回から52回"),
                          ({"count": "x"}, "回数を数字で"), ({"count": "", "until": "9999-12-31"}, None),
                          ({"count": "", "until": "2000-01-01"}, None), ({"interval_weeks": HUGE}, None)):
        data = _form(c, day, over, interval_weeks="1", count="3", mode="all")
        response = post_form(client, url, data, page=page)
        assert response.status_code in (200, 409, 422), (over, response.status_code)
        if message:
            assert message in response.get_data(as_text=True)
    assert _count() == 0


def test_banned_user_gets_a_message(client):
    from app.bookings import services

    c = make_center()
    user = make_user()
    day = today_tokyo() + timedelta(days=2)
    with app_context():
        from app.accounts.models import User

        booking = services.book_slots(user=db.session.get(User, user.id), room_id=c.meeting_id, day=day,
                                      unit_keys=[f"s{c.slot_ids['morning']}"], purpose="x", attendees=3,
                                      category=services.UserCategory.RESIDENT)
        booking.created_at -= timedelta(hours=1)
        services.cancel_booking(booking, actor=db.session.get(User, user.id))
        assert booking.late_cancellation
        db.session.commit()
    login(client, user.email)
    page = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    response = post_form(client, "/bookings/new", _form(c, day + timedelta(days=1)), page=page)
    assert response.status_code == 403 and "新しい予約はできません" in response.get_data(as_text=True)
    assert "入力の確認" in response.get_data(as_text=True)


def test_api_bad_input_is_a_4xx_json_error(client):
    c, other = make_center(), make_center()
    user = make_user()
    _, secret = make_token(user)
    day = (today_tokyo() + timedelta(days=10)).isoformat()
    body = {"room_id": c.meeting_id, "day": day, "units": [f"s{c.slot_ids['morning']}"], "purpose": "API",
            "attendees": 5}
    cases = [{"room_id": int(HUGE)}, {"room_id": 2**63}, {"room_id": "abc"}, {"day": "9999-12-31"},
             {"day": "0001-01-01"}, {"day": "2000-01-01"}, {"units": ["s999999"]},
             {"units": [f"s{other.slot_ids['morning']}"]}, {"attendees": 10**30}, {"attendees": "many"},
             {"organization_id": int(HUGE)}, {"organization_id": 2**63}, {"equipment": [int(HUGE)]},
             {"equipment": [2**63]}, {"category": "martian"}, {"units": "s1"}, {"room_id": None}]
    for over in cases:
        response = client.post("/api/v1/bookings", json={**body, **over}, headers=bearer(secret))
        assert 400 <= response.status_code < 500, (over, response.status_code)
        assert response.is_json and "error" in response.get_json() or "errors" in response.get_json(), over
    assert client.post("/api/v1/bookings", data="not json", headers=bearer(secret)).status_code < 500
    for path in (f"/api/v1/bookings/{HUGE}/cancel", f"/api/v1/bookings/{2**63}/cancel"):
        assert client.post(path, headers=bearer(secret)).status_code == 404
    for query in (f"from={day}&to=9999-12-31", "from=x&to=y", ""):
        response = client.get(f"/api/v1/rooms/{c.meeting_id}/availability?{query}")
        assert response.status_code == 422, (query, response.status_code)
    for query in ("from=9999-12-30&to=9999-12-31", "from=0001-01-01&to=0001-01-05"):  # odd, but answerable
        assert client.get(f"/api/v1/rooms/{c.meeting_id}/availability?{query}").status_code == 200, query
    assert client.get(f"/api/v1/rooms/{HUGE}/availability?from={day}&to={day}").status_code in (404, 422)
    assert _count() == 0


def test_public_pages_and_desk_answer_odd_ids_and_days(client):
    c = make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    for path in (f"/facilities/{HUGE}", f"/facilities/{HUGE}/availability", f"/facilities/rooms/{HUGE}/busy.ics",
                 f"/bookings/feed/{HUGE}.ics"):
        assert client.get(path).status_code == 404, path
    for query in ("start=9999-12-31", "start=0001-01-01&view=month", "capacity=" + HUGE, "capacity=-1",
                  "kind=x&equipment=y"):
        assert client.get(f"/facilities/{c.facility_id}/availability?{query}").status_code == 200, query
    for query in ("day=9999-12-31", "day=0001-01-01", "capacity=" + HUGE, "start=" + HUGE, "district=x"):
        assert client.get(f"/facilities/search?{query}").status_code == 200, query
    login(client, staff.email)
    for path in (f"/bookings/{HUGE}", f"/bookings/series/{HUGE}", f"/bookings/desk/{HUGE}"):
        assert client.get(path).status_code == 404, path
    for day in ("9999-12-31", "0001-01-01", "x"):
        assert client.get(f"/bookings/desk/{c.facility_id}?day={day}").status_code == 200, day
    page = f"/bookings/desk/{c.facility_id}"
    for data in ({"day": "9999-12-31", "reason": "台風"}, {"day": "x", "reason": "台風"}):
        response = post_form(client, f"/bookings/desk/{c.facility_id}/exempt", data, page=page)
        assert response.status_code in (303, 422), data
    closures = f"/bookings/desk/{c.facility_id}/closures"
    for data in ({"first_day": "2026-12-10", "last_day": "2026-12-01", "kind": "temporary", "reason": "工事"},
                 {"first_day": "9999-12-31", "last_day": "9999-12-31", "kind": "temporary", "reason": "工事"},
                 {"first_day": "2026-12-10", "last_day": "2026-12-11", "kind": "x", "reason": "工事"},
                 {"first_day": "2026-12-10", "last_day": "2026-12-11", "kind": "temporary", "reason": "工事",
                  "room_id": HUGE},
                 {"first_day": "2026-12-10", "last_day": "2026-12-11", "kind": "temporary", "reason": "工事",
                  "room_id": "abc"}):
        response = post_form(client, closures, data, page=closures)
        assert response.status_code in (303, 422), (data, response.status_code)
        assert response.status_code == 303 or "休館" in response.get_data(as_text=True)
    for action in ("approve", "paid", "checkin", "noshow", "bogus"):
        assert post_form(client, f"/bookings/desk/bookings/{HUGE}/{action}", {}, page=page).status_code == 404
