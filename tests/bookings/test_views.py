"""Booking pages: quote then confirm, conflict 409 with alternatives, bad input kept, my bookings, cancel, desk."""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa

from app.bookings.models import Booking, BookingState
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, post_confirmed, post_form


def _form(c, day, **over):
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids['morning']}"],
            "purpose": "子ども会の打合せ", "attendees": "12", "category": "resident", "organization_id": ""}
    data.update(over)
    return data


def _bookings():
    with app_context():
        return list(db.session.scalars(sa.select(Booking)))


def test_booking_needs_login(client):
    c = make_center()
    response = client.get(f"/bookings/new?room={c.meeting_id}")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_quote_then_confirm_books_and_shows_in_my_bookings(client):
    c = make_center(fee=1500)
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=10)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    form_page = client.get(page_url).get_data(as_text=True)
    assert "午前 09:00–12:00" in form_page
    preview = post_form(client, "/bookings/new", _form(c, day), page=page_url)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "予約の内容を確かめてください" in text and "1,500円" in text and "15分以内" in text
    assert _bookings() == []  # nothing written before confirming
    done = post_confirmed(client, "/bookings/new", _form(c, day), page=page_url)
    assert done.status_code == 303
    [booking] = _bookings()
    assert (booking.state, booking.fee_net_yen, booking.user_id) == (BookingState.TENTATIVE, 1500, user.id)
    mine = client.get("/bookings/mine").get_data(as_text=True)
    assert "会議室1" in mine and "仮予約" in mine
    assert client.get(done.headers["Location"]).status_code == 200


def test_conflict_answers_409_with_alternatives_and_keeps_input(client):
    c = make_center()
    first, second = make_user(), make_user()
    day = today_tokyo() + timedelta(days=4)
    page_url = f"/bookings/new?room={c.hall_id}&day={day.isoformat()}"
    login(client, first.email)
    data = _form(c, day, room_id=str(c.hall_a_id), attendees="15")
    assert post_confirmed(client, "/bookings/new", data, page=page_url).status_code == 303
    client.post("/account/logout", data={"csrf_token": ""})
    client.delete_cookie("tsudoi_session")
    login(client, second.email)
    response = post_confirmed(client, "/bookings/new", {**data, "room_id": str(c.hall_id), "purpose": "第二希望の会"},
                              page=page_url)
    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "ほかの方が先に予約しました" in text
    assert "会議室1" in text  # an alternative with room for 15
    assert "第二希望の会" in text  # nothing typed is lost
    assert len(_bookings()) == 1


def test_bad_input_is_explained_and_kept(client):
    c = make_center()
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=3)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    over = post_form(client, "/bookings/new", _form(c, day, attendees="99", purpose="大人数の会"), page=page_url)
    assert over.status_code == 422
    assert "定員(20人)を超えています" in over.get_data(as_text=True) and "大人数の会" in over.get_data(as_text=True)
    past = post_form(client, "/bookings/new", _form(c, today_tokyo() - timedelta(days=2)), page=page_url)
    assert past.status_code == 422 and "過ぎた日" in past.get_data(as_text=True)
    other = make_center()
    foreign = post_form(client, "/bookings/new", _form(c, day, units=[f"s{other.slot_ids['morning']}"]),
                        page=page_url)
    assert foreign.status_code == 422 and "時間区分はこの部屋" in foreign.get_data(as_text=True)
    garbage = post_form(client, "/bookings/new", {**_form(c, day, attendees="たくさん"), "day": "not-a-date"},
                        page=page_url)
    assert garbage.status_code == 422 and "人数を数字で" in garbage.get_data(as_text=True)
    assert client.get("/bookings/new?room=abc").status_code == 404
    assert _bookings() == []


def test_cancel_shows_consequence_then_cancels_and_others_cannot_see(client):
    c = make_center()
    owner, stranger = make_user(), make_user()
    login(client, owner.email)
    day = today_tokyo() + timedelta(days=20)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    done = post_confirmed(client, "/bookings/new", _form(c, day), page=page_url)
    booking_url = done.headers["Location"]
    cancel_url = booking_url + "/cancel"
    assert "影響なく取り消せます" in client.get(cancel_url).get_data(as_text=True)
    other = client.application.test_client()
    login(other, stranger.email)
    assert other.get(booking_url).status_code == 404
    assert post_form(other, cancel_url, {}, page="/bookings/mine").status_code == 404
    assert post_form(client, cancel_url, {}).status_code == 303
    [booking] = _bookings()
    assert booking.state == BookingState.CANCELLED and not booking.late_cancellation


def test_desk_is_for_staff_of_that_facility_only(client):
    c = make_center()
    other = make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    resident = make_user(display_name="窓口で見える名前")
    day = today_tokyo() + timedelta(days=2)
    login(client, resident.email)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    post_confirmed(client, "/bookings/new", _form(c, day), page=page_url)
    assert client.get(f"/bookings/desk/{c.facility_id}").status_code == 403
    desk_client = client.application.test_client()
    login(desk_client, staff.email)
    sheet = desk_client.get(f"/bookings/desk/{c.facility_id}?day={day.isoformat()}")
    assert sheet.status_code == 200 and "窓口で見える名前" in sheet.get_data(as_text=True)
    assert desk_client.get(f"/bookings/desk/{other.facility_id}").status_code == 403
    [booking] = _bookings()
    paid = post_form(desk_client, f"/bookings/desk/bookings/{booking.id}/paid", {},
                     page=f"/bookings/desk/{c.facility_id}?day={day.isoformat()}")
    assert paid.status_code == 303
    [booking] = _bookings()
    assert booking.state == BookingState.CONFIRMED and booking.paid_at is not None
    anonymous = client.application.test_client()
    assert anonymous.get(f"/bookings/desk/{c.facility_id}").status_code == 302


def test_desk_marks_attendance_and_registers_exempt_days(client):
    c = make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    resident = make_user()
    today = today_tokyo()
    with app_context():
        from app.accounts.models import User
        from app.bookings import services
        from app.core.time import tokyo_to_utc

        # Booked at midnight, so that the evening slot is still ahead whatever time the test runs.
        services.book_slots(user=db.session.get(User, resident.id), room_id=c.meeting_id, day=today,
                            unit_keys=[f"s{c.slot_ids['evening']}"], purpose="夜の会", attendees=5,
                            category="resident", now=tokyo_to_utc(today, time(0, 0)))
        db.session.commit()
    [booking] = _bookings()
    desk = client.application.test_client()
    login(desk, staff.email)
    desk_url = f"/bookings/desk/{c.facility_id}?day={today.isoformat()}"
    assert post_form(desk, f"/bookings/desk/bookings/{booking.id}/paid", {}, page=desk_url).status_code == 303
    assert post_form(desk, f"/bookings/desk/bookings/{booking.id}/checkin", {}, page=desk_url).status_code == 303
    [booking] = _bookings()
    assert booking.checked_in_at is not None and booking.no_show_at is None
    assert "来館済み" in desk.get(desk_url).get_data(as_text=True)
    bad = post_form(desk, f"/bookings/desk/{c.facility_id}/exempt", {"day": "昨日", "reason": "台風で休校"},
                    page=desk_url)
    assert bad.status_code == 422 and "台風で休校" in bad.get_data(as_text=True)
    ok = post_form(desk, f"/bookings/desk/{c.facility_id}/exempt", {"day": today.isoformat(), "reason": "台風"},
                   page=desk_url)
    assert ok.status_code == 303
    other = make_center()
    forbidden = post_form(desk, f"/bookings/desk/{other.facility_id}/exempt",
                          {"day": today.isoformat(), "reason": "x"}, page=desk_url)
    assert forbidden.status_code == 403


def test_staff_manage_closures_refusing_periods_with_bookings(client):
    c = make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    resident = make_user()
    login(client, resident.email)
    booked_day = today_tokyo() + timedelta(days=10)
    post_confirmed(client, "/bookings/new", _form(c, booked_day, room_id=str(c.hall_a_id)),
              page=f"/bookings/new?room={c.hall_a_id}&day={booked_day.isoformat()}")
    assert client.get(f"/bookings/desk/{c.facility_id}/closures").status_code == 403
    desk = client.application.test_client()
    login(desk, staff.email)
    url = f"/bookings/desk/{c.facility_id}/closures"
    clash = post_form(desk, url, {"room_id": str(c.hall_id), "kind": "administrative",
                                  "first_day": booked_day.isoformat(), "last_day": booked_day.isoformat(),
                                  "reason": "選挙の投票所"})
    assert clash.status_code == 422 and "有効な予約が1件" in clash.get_data(as_text=True)
    backwards = post_form(desk, url, {"room_id": "", "kind": "temporary", "first_day": "2030-01-05",
                                      "last_day": "2030-01-01", "reason": "工事"})
    assert backwards.status_code == 422 and "工事" in backwards.get_data(as_text=True)
    free_day = booked_day + timedelta(days=1)
    ok = post_form(desk, url, {"room_id": "", "kind": "temporary", "first_day": free_day.isoformat(),
                               "last_day": (free_day + timedelta(days=2)).isoformat(), "reason": "空調工事"})
    assert ok.status_code == 303
    page = desk.get(url).get_data(as_text=True)
    assert "空調工事" in page and "臨時休館" in page
    grid = desk.get(f"/facilities/{c.facility_id}/availability?start={free_day.isoformat()}").get_data(as_text=True)
    assert grid.count('class="visually-hidden">休館・利用不可') >= 15  # 5 rooms x 3 slots on the first day
    with app_context():
        from app.facilities.models import Closure

        closure_id = db.session.scalar(sa.select(Closure.id))
    assert post_form(desk, f"/bookings/desk/closures/{closure_id}/delete", {}, page=url).status_code == 303
    assert "空調工事" not in desk.get(url).get_data(as_text=True)


def test_desk_books_on_behalf_of_a_resident(client):
    c = make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    resident = make_user(email="phone.caller@example.jp")
    day = today_tokyo() + timedelta(days=5)
    login(client, staff.email)
    url = f"/bookings/desk/{c.facility_id}/book"
    page = f"{url}?room={c.meeting_id}&day={day.isoformat()}"
    assert client.get(page).status_code == 200
    unknown = post_confirmed(client, url, {**_form(c, day), "user_email": "nobody@example.jp"}, page=page)
    assert unknown.status_code == 422 and "登録されていません" in unknown.get_data(as_text=True)
    preview = post_form(client, url, {**_form(c, day), "user_email": "Phone.Caller@example.jp"}, page=page)
    assert preview.status_code == 200 and "1,000円" in preview.get_data(as_text=True)
    done = post_confirmed(client, url, {**_form(c, day), "user_email": "phone.caller@example.jp"}, page=page)
    assert done.status_code == 303
    [booking] = _bookings()
    assert (booking.user_id, booking.created_by_id) == (resident.id, staff.id)
    other = make_center()
    assert client.get(f"/bookings/desk/{other.facility_id}/book?room={other.meeting_id}").status_code == 403
    assert client.get(f"/bookings/desk/{c.facility_id}/book?room={other.meeting_id}").status_code == 404
    resident_client = client.application.test_client()
    login(resident_client, resident.email)
    assert resident_client.get(page).status_code == 403


def test_equipment_is_offered_priced_and_kept_on_the_booking(client):
    from tests.facilities.factories import add_equipment

    c = make_center(fee=1000)
    mic = add_equipment(c.facility_id, "ワイヤレスマイク", 200)
    user = make_user()
    login(client, user.email)
    day = today_tokyo() + timedelta(days=9)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    assert "ワイヤレスマイク(200円)" in client.get(page_url).get_data(as_text=True)
    assert "ワイヤレスマイク" in client.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
    preview = post_form(client, "/bookings/new", _form(c, day, equipment=[str(mic)]), page=page_url)
    assert "1,200円" in preview.get_data(as_text=True)
    done = post_confirmed(client, "/bookings/new", _form(c, day, equipment=[str(mic)]), page=page_url)
    assert done.status_code == 303
    assert "ワイヤレスマイク" in client.get(done.headers["Location"]).get_data(as_text=True)
    [booking] = _bookings()
    assert booking.fee_gross_yen == 1200


def test_quote_shows_every_configured_rule_before_confirming(client):
    from app.facilities.models import Room
    from tests.facilities.factories import make_organization

    c = make_center(min_lead_days=2, max_active_per_month=4, window_days_resident=90)
    with app_context():
        db.session.get(Room, c.meeting_id).verified_groups_only = True
        db.session.commit()
    user = make_user()
    org = make_organization(officer_id=user.id)
    login(client, user.email)
    day = today_tokyo() + timedelta(days=10)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    preview = post_form(client, "/bookings/new", _form(c, day, organization_id=str(org)), page=page_url)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "予約の内容を確かめてください" in text
    for rule in ("この施設は2日前までに予約してください", "1か月に予約できるのは4件まで", "登録団体だけが予約できます",
                 "90日先まで予約できます", "15分以内"):
        assert rule in text, rule
    assert _bookings() == []


def test_desk_approves_rejects_and_every_desk_action_is_audited(client):
    from app.bookings.models import BookingClaim
    from app.core.audit import AuditEvent
    from app.facilities.models import Room

    c = make_center()
    with app_context():
        db.session.get(Room, c.meeting_id).requires_approval = True
        db.session.commit()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    resident = make_user()
    day = today_tokyo() + timedelta(days=9)
    login(client, resident.email)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    preview = post_form(client, "/bookings/new", _form(c, day), page=page_url)
    assert "職員の承認が必要です" in preview.get_data(as_text=True)
    for slot in ("morning", "evening"):
        post_confirmed(client, "/bookings/new", _form(c, day, units=[f"s{c.slot_ids[slot]}"]), page=page_url)
    first, second = sorted(_bookings(), key=lambda b: b.id)
    assert {first.state, second.state} == {BookingState.REQUESTED}
    desk = client.application.test_client()
    login(desk, staff.email)
    desk_url = f"/bookings/desk/{c.facility_id}?day={day.isoformat()}"
    assert post_form(desk, f"/bookings/desk/bookings/{first.id}/approve", {}, page=desk_url).status_code == 303
    assert post_form(desk, f"/bookings/desk/bookings/{second.id}/reject", {}, page=desk_url).status_code == 303
    again = post_form(desk, f"/bookings/desk/bookings/{second.id}/approve", {}, page=desk_url)
    assert again.status_code == 303 and "承認待ちの予約ではありません" in desk.get(desk_url).get_data(as_text=True)
    assert post_form(desk, f"/bookings/desk/bookings/{first.id}/paid", {}, page=desk_url).status_code == 303
    closures = f"/bookings/desk/{c.facility_id}/closures"
    post_form(desk, closures, {"first_day": (day + timedelta(days=30)).isoformat(),
                               "last_day": (day + timedelta(days=30)).isoformat(), "kind": "temporary",
                               "reason": "設備点検", "room_id": ""}, page=closures)
    with app_context():
        states = {b.id: b.state for b in db.session.scalars(sa.select(Booking))}
        assert states == {first.id: BookingState.CONFIRMED, second.id: BookingState.REJECTED}
        assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id)).where(
            BookingClaim.booking_id == second.id)) == 0  # a rejected request frees the slot
        audited = {(a.action, str(a.target_id)) for a in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.actor_id == staff.id))}
    assert {("booking.approve", str(first.id)), ("booking.reject", str(second.id)),
            ("booking.paid", str(first.id))} <= audited
    assert "closure.create" in {action for action, _target in audited}


def test_taken_units_are_disabled_on_the_booking_form(client):
    """A 時間区分 someone holds shows as 予約済み and cannot be ticked (WTForms gives each checkbox the field's
    render_kw, not its choice's: the template passes the choice's own)."""
    import re

    c = make_center()
    first, second = make_user(), make_user()
    day = today_tokyo() + timedelta(days=5)
    page_url = f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}"
    login(client, first.email)
    assert post_confirmed(client, "/bookings/new", _form(c, day), page=page_url).status_code == 303
    client.post("/account/logout", data={"csrf_token": ""})
    client.delete_cookie("tsudoi_session")
    login(client, second.email)
    page = client.get(page_url).get_data(as_text=True)
    boxes = {m.group(2): "disabled" in m.group(0)
             for m in re.finditer(r'<input([^>]*)value="(s\d+)"[^>]*>', page) if 'name="units"' in m.group(0)}
    assert boxes[f"s{c.slot_ids['morning']}"] is True
    assert [value for value, disabled in boxes.items() if not disabled]  # the other 時間区分 stay free


def test_a_free_cell_of_the_grid_opens_the_form_with_its_slot_ticked(client):
    """Clicking 午後 ○ in the 空き状況 grid: the booking form comes with that 時間区分 ticked, and only it."""
    import re

    c = make_center()
    day = today_tokyo() + timedelta(days=5)
    grid = client.get(f"/facilities/{c.facility_id}/availability?start={day.isoformat()}").get_data(as_text=True)
    afternoon = c.slot_ids["afternoon"]
    link = f"/bookings/new?room={c.meeting_id}&amp;day={day.isoformat()}&amp;slot={afternoon}"
    assert link in grid
    login(client, make_user().email)
    page = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    ticked = {m.group(1) for m in re.finditer(r'<input[^>]*value="(s\d+)"[^>]*>', page)
              if 'name="units"' in m.group(0) and "checked" in m.group(0)}
    assert ticked == {f"s{afternoon}"}
