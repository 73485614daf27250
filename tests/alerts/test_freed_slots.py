"""Freed-slot alerts: what frees a slot, who is e-mailed (once), the public list, subscribe/unsubscribe pages."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.alerts import services as alerts
from app.alerts.models import FreedCause, FreedSlot, SlotWatch
from app.bookings import services as booking_services
from app.bookings.models import Booking
from app.core.jobs import run_due
from app.core.mail import send_pending
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import UserCategory
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center
from tests.factories import app_context, login, make_user, post_form, recorded_statements

DAY_AHEAD = 12


def _book(user_id: int, room_id: int, day, unit_keys: list[str]) -> int:
    with app_context():
        booking = booking_services.book_slots(
            user=db.session.get(User, user_id), room_id=room_id, day=day, unit_keys=unit_keys, attendees=5,
            category=UserCategory.RESIDENT, purpose="秘密の打合せ")
        db.session.commit()
        return booking.id


def _cancel(booking_id: int) -> None:
    with app_context():
        booking = db.session.get(Booking, booking_id)
        booking_services.cancel_booking(booking, actor=db.session.get(User, booking.user_id))
        db.session.commit()


def _watch(user_id: int, facility_id: int, day, *, room_id=None, slot_id=None) -> int:
    with app_context():
        watch = alerts.add_watch(user=db.session.get(User, user_id), facility_id=facility_id, day=day,
                                 room_id=room_id, slot_id=slot_id)
        db.session.commit()
        return watch.id


def _run_alerts(app):
    with app.app_context():
        return run_due(only={"alerts.freed-slots", "mail.send-pending"})


def _alert_mails(outbox):
    return [m for m in outbox if m["Subject"] == "予約に空きが出ました"]


def _freed():
    with app_context():
        return [(f.room_id, f.start_minute, f.end_minute, f.cause) for f in
                db.session.scalars(sa.select(FreedSlot).order_by(FreedSlot.id))]


def test_a_cancellation_emails_matching_watchers_once_with_a_book_link(app, outbox):
    c = make_center()
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    morning = f"s{c.slot_ids['morning']}"
    booker, room_watcher, facility_watcher, hall_watcher, afternoon_watcher, other_day = (
        make_user() for _ in range(6))
    booking = _book(booker.id, c.meeting_id, day, [morning])
    _watch(room_watcher.id, c.facility_id, day, room_id=c.meeting_id, slot_id=c.slot_ids["morning"])
    _watch(facility_watcher.id, c.facility_id, day)
    _watch(hall_watcher.id, c.facility_id, day, room_id=c.hall_id)  # another room: not freed
    _watch(afternoon_watcher.id, c.facility_id, day, room_id=c.meeting_id, slot_id=c.slot_ids["afternoon"])
    _watch(other_day.id, c.facility_id, day + timedelta(days=1))
    outbox.clear()

    _cancel(booking)
    assert _freed() == [(c.meeting_id, 540, 720, FreedCause.CANCELLED)]
    assert _alert_mails(outbox) == []  # the request only recorded it: the job sends
    outcomes = _run_alerts(app)
    assert [(o.job, o.status, o.result) for o in outcomes][0] == ("alerts.freed-slots", "succeeded", "2")

    mails = _alert_mails(outbox)
    assert sorted(m["To"] for m in mails) == sorted([room_watcher.email, facility_watcher.email])
    body = mails[0].get_content()
    assert f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}" in body
    assert "/alerts/unsubscribe/" in body
    assert "秘密の打合せ" not in body and booker.email not in body  # nothing about who had it

    with app.app_context():
        again = run_due(now=None, only={"alerts.freed-slots"})  # same minute: claimed; later minute: nothing new
        db.session.rollback()
        assert alerts.notify_freed_slots() == 0
    assert again[0].status in {"already claimed", "succeeded"}
    assert len(_alert_mails(outbox)) == 2


def test_a_slot_booked_again_before_the_job_is_not_announced_nor_listed(app, outbox, client):
    c = make_center()
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    morning = f"s{c.slot_ids['morning']}"
    first, second, watcher = make_user(), make_user(), make_user()
    booking = _book(first.id, c.meeting_id, day, [morning])
    _watch(watcher.id, c.facility_id, day, room_id=c.meeting_id)
    _cancel(booking)
    _book(second.id, c.meeting_id, day, [morning])  # the first to book gets it
    outbox.clear()
    _run_alerts(app)
    assert _alert_mails(outbox) == []
    assert f"room={c.meeting_id}&amp;day={day.isoformat()}" not in client.get("/alerts/freed").get_data(as_text=True)


def test_expiry_rejection_and_a_whole_hall_free_the_halves_for_their_watchers(app, outbox):
    c = make_center(tentative_hold_days=2)
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    evening = f"s{c.slot_ids['evening']}"
    booker, half_watcher = make_user(), make_user()
    hall_booking = _book(booker.id, c.hall_id, day, [evening])  # a 仮予約: the fee is not paid yet
    _watch(half_watcher.id, c.facility_id, day, room_id=c.hall_a_id, slot_id=c.slot_ids["evening"])
    with app_context():
        assert db.session.get(Booking, hall_booking).state.value == "tentative"
        db.session.get(Booking, hall_booking).hold_until = db.session.get(Booking, hall_booking).created_at
        db.session.commit()
        assert booking_services.expire_tentative() == 1
        db.session.commit()
    assert _freed() == [(c.hall_id, 1080, 1290, FreedCause.EXPIRED)]
    outbox.clear()
    _run_alerts(app)
    mails = _alert_mails(outbox)
    assert [m["To"] for m in mails] == [half_watcher.email]
    assert f"room={c.hall_a_id}&day={day.isoformat()}" in mails[0].get_content()

    with app_context():
        rejected = _book(booker.id, c.meeting_id, day, [evening])
        booking = db.session.get(Booking, rejected)
        booking.state = booking.state.REQUESTED
        booking_services.decide_booking(booking, actor=db.session.get(User, booker.id), approve=False)
        db.session.commit()
    assert _freed()[-1] == (c.meeting_id, 1080, 1290, FreedCause.REJECTED)


def test_slot_freed_is_the_lottery_entry_point_by_slot_code_and_ignores_past_days(app_ctx):
    c = make_center()
    day = today_tokyo() + timedelta(days=40)
    with app_ctx.session.begin_nested():
        rows = alerts.slot_freed(room_id=c.hall_b_id, day=day, cause="lottery", slot_codes=["afternoon", "nope"])
        past = alerts.slot_freed(room_id=c.hall_b_id, day=today_tokyo() - timedelta(days=1), cause="lottery",
                                 slot_codes=["afternoon"])
    assert [(r.room_id, r.start_minute, r.end_minute, r.label_ja, r.cause) for r in rows] == [
        (c.hall_b_id, 780, 1020, "午後", FreedCause.LOTTERY)]
    assert past == []
    # Lottery rows are mailed to watchers but listed per period, not as cards (see the leftovers test below).
    assert alerts.newly_available() == []


def test_parallel_senders_email_each_watcher_once(app, outbox):
    """Two senders called at once (no job claim in between): the conditional UPDATE gives each freed row to one."""
    c = make_center()
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    watchers = [make_user() for _ in range(4)]
    for watcher in watchers:
        _watch(watcher.id, c.facility_id, day)
    for key in ("morning", "afternoon", "evening"):
        _cancel(_book(make_user().id, c.meeting_id, day, [f"s{c.slot_ids[key]}"]))
    outbox.clear()

    def sender():
        with alerts.url_context():
            sent = alerts.notify_freed_slots()
            db.session.commit()
            return sent

    results, errors = at_once_in_app(app, [sender, sender], timeout=60)
    assert errors == []
    with app.app_context():
        send_pending()
    assert sum(results) >= 4
    recipients = [m["To"] for m in _alert_mails(outbox)]
    # Each watcher hears about each slot exactly once, in however many mails the two senders split them.
    listed = [line for m in _alert_mails(outbox) for line in m.get_content().splitlines() if "/bookings/new?" in line]
    assert sorted(set(recipients)) == sorted(w.email for w in watchers)
    assert len(listed) == 4 * 3


# ---------------------------------------------------------------- pages


def test_public_list_shows_still_free_slots_without_personal_data_in_fixed_queries(app, client):
    c = make_center()
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    booker = make_user(display_name="山田花子")
    _cancel(_book(booker.id, c.meeting_id, day, [f"s{c.slot_ids['morning']}"]))
    page = client.get("/alerts/freed")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"/bookings/new?room={c.meeting_id}&amp;day={day.isoformat()}" in html
    assert "会議室1" in html and "09:00–12:00" in html
    assert "山田花子" not in html and "秘密の打合せ" not in html and booker.email not in html

    def count():
        with recorded_statements(app) as statements:
            assert client.get("/alerts/freed").status_code == 200
        return [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]

    few = count()
    other = make_center()
    for n in range(4):
        _cancel(_book(make_user().id, other.meeting_id, day + timedelta(days=n), [f"s{other.slot_ids['evening']}"]))
    many = count()
    assert len(many) == len(few)
    assert many != [] and "会議室1" in client.get("/alerts/freed").get_data(as_text=True)


def test_grid_links_a_taken_slot_to_the_watch_form(client):
    c = make_center()
    day = today_tokyo() + timedelta(days=3)
    _book(make_user().id, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    html = client.get(f"/facilities/{c.facility_id}/availability?start={day.isoformat()}").get_data(as_text=True)
    assert f"/alerts/new?room={c.meeting_id}&amp;day={day.isoformat()}&amp;slot={c.slot_ids['morning']}" in html
    assert f"/alerts/new?room={c.meeting_id}&amp;day={day.isoformat()}&amp;slot={c.slot_ids['afternoon']}" \
        not in html  # a free slot is booked, not watched
    login(client, make_user().email)
    form = client.get(f"/bookings/new?room={c.meeting_id}&day={day.isoformat()}").get_data(as_text=True)
    assert f"/alerts/new?room={c.meeting_id}&amp;day={day.isoformat()}" in form  # from the booking form too


def test_subscribe_list_and_unsubscribe_from_the_pages(client, app):
    c = make_center()
    day = today_tokyo() + timedelta(days=5)
    user = make_user()
    url = f"/alerts/new?room={c.meeting_id}&day={day.isoformat()}&slot={c.slot_ids['morning']}"
    assert "/account/login" in client.get(url).headers["Location"]
    login(client, user.email)
    form = client.get(url).get_data(as_text=True)
    assert f'value="{day.isoformat()}"' in form and "会議室1" in form
    data = {"facility_id": str(c.facility_id), "room_id": str(c.meeting_id), "day": day.isoformat(),
            "slot_id": str(c.slot_ids["morning"])}
    response = post_form(client, "/alerts/new", data, page=url)
    assert response.status_code == 303 and response.headers["Location"].endswith("/alerts/mine")
    again = post_form(client, "/alerts/new", data, page=url)
    assert again.status_code == 409 and "すでに登録されています" in again.get_data(as_text=True)
    past = post_form(client, "/alerts/new", {**data, "day": (today_tokyo() - timedelta(days=1)).isoformat()},
                     page=url)
    assert past.status_code == 422 and "過ぎた日" in past.get_data(as_text=True)
    bad_room = post_form(client, "/alerts/new", {**data, "room_id": str(make_center().meeting_id)}, page=url)
    assert bad_room.status_code == 422 and "その部屋はこの施設にはありません" in bad_room.get_data(as_text=True)
    mine = client.get("/alerts/mine").get_data(as_text=True)
    assert "会議室1" in mine and "午前" in mine
    with app_context():
        watch_id = db.session.scalar(sa.select(SlotWatch.id))
        assert db.session.scalar(sa.select(sa.func.count(SlotWatch.id))) == 1
    deleted = post_form(client, f"/alerts/{watch_id}/delete", {}, page="/alerts/mine")
    assert deleted.status_code == 303
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(SlotWatch.id))) == 0


def test_a_room_or_slot_that_is_not_an_id_is_not_found_not_any_nor_a_500(client, app):
    """A select's value beyond the id column (2**63 overflowed SQLite: a 500) or not a number (silently "any room")
    is refused with the not-found message, nothing saved."""
    c = make_center()
    login(client, make_user().email)
    page = f"/alerts/new?facility={c.facility_id}"
    data = {"facility_id": str(c.facility_id), "room_id": "", "slot_id": "",
            "day": (today_tokyo() + timedelta(days=2)).isoformat()}
    for field, message in (("room_id", "その部屋はこの施設にはありません"),
                           ("slot_id", "その時間区分はこの施設にはありません")):
        for value in ("9223372036854775808", "99999999999999999999", "abc", "-1"):
            response = post_form(client, "/alerts/new", {**data, field: value}, page=page)
            assert response.status_code == 422 and message in response.get_data(as_text=True), (field, value)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(SlotWatch.id))) == 0


def test_the_number_of_watches_is_limited(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "ALERTS_MAX_WATCHES", 2)
    c = make_center()
    user = make_user()
    login(client, user.email)
    page = f"/alerts/new?facility={c.facility_id}"
    statuses = []
    for n in range(3):
        response = post_form(client, "/alerts/new", {"facility_id": str(c.facility_id), "room_id": "", "slot_id": "",
                                                     "day": (today_tokyo() + timedelta(days=n + 1)).isoformat()},
                             page=page)
        statuses.append(response.status_code)
    assert statuses == [303, 303, 422]
    assert "2件まで" in response.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(SlotWatch.id))) == 2


def test_another_users_watch_cannot_be_removed(client, app):
    c = make_center()
    owner, other = make_user(), make_user()
    watch_id = _watch(owner.id, c.facility_id, today_tokyo() + timedelta(days=3))
    login(client, other.email)
    response = post_form(client, f"/alerts/{watch_id}/delete", {}, page="/alerts/mine")
    assert response.status_code == 404
    assert "テスト区民センター" not in client.get("/alerts/mine").get_data(as_text=True)
    with app_context():
        assert db.session.get(SlotWatch, watch_id) is not None


def test_signed_unsubscribe_link_asks_first_then_removes_once(client, app, outbox):
    c = make_center()
    day = today_tokyo() + timedelta(days=DAY_AHEAD)
    watcher = make_user()
    watch_id = _watch(watcher.id, c.facility_id, day)
    _cancel(_book(make_user().id, c.meeting_id, day, [f"s{c.slot_ids['morning']}"]))
    outbox.clear()
    _run_alerts(app)
    link = re.search(r"http://\S+(/alerts/unsubscribe/\S+)", _alert_mails(outbox)[0].get_content()).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "このお知らせを解除する" in page.get_data(as_text=True)
    with app_context():
        assert db.session.get(SlotWatch, watch_id) is not None  # a GET changes nothing
    done = post_form(client, link, {})
    assert done.status_code == 200 and "お知らせを解除しました" in done.get_data(as_text=True)
    with app_context():
        assert db.session.get(SlotWatch, watch_id) is None
    assert "すでに解除されています" in client.get(link).get_data(as_text=True)
    forged = client.get(link[:-3] + "abc")
    assert forged.status_code == 400 and "このリンクは使えません" in forged.get_data(as_text=True)


def test_lottery_leftovers_mail_each_watcher_once_and_are_listed_per_period_not_per_slot(app, outbox, client):
    """A lottery period opening first-come frees a whole month at once (every leftover slot is handed to
    slot_freed). Watchers of those days get ONE mail each listing the free units (the days no longer count as
    抽 once leftovers_open_at has passed); the public list keeps showing cancellations as cards and names the
    period once, with a link to its grid, instead of a hundred cards of one facility."""
    from app.core.time import utcnow
    from app.lottery import entries as lottery_flow
    from app.lottery.draw import SlotKey
    from app.lottery.models import LotteryPeriod

    c, other = make_center(), make_center()
    first = today_tokyo() + timedelta(days=DAY_AHEAD)
    with app_context():
        db.session.add(LotteryPeriod(facility_id=c.facility_id, start_date=first, end_date=first + timedelta(days=10),
                                     leftovers_open_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    day_watcher, slot_watcher = make_user(), make_user()
    _watch(day_watcher.id, c.facility_id, first + timedelta(days=2))
    _watch(slot_watcher.id, c.facility_id, first + timedelta(days=3), room_id=c.meeting_id,
           slot_id=c.slot_ids["morning"])
    with app_context():
        lottery_flow.notify_freed_slots(
            [SlotKey(room, first + timedelta(days=n), code) for room in (c.meeting_id, c.hall_id, c.hall_a_id,
                                                                         c.hall_b_id)
             for n in range(10) for code in ("morning", "afternoon", "evening")], now=utcnow())
        db.session.commit()
    assert len(_freed()) == 4 * 10 * 3
    _cancel(_book(make_user().id, other.meeting_id, first, [f"s{other.slot_ids['evening']}"]))
    outbox.clear()
    _run_alerts(app)

    mails = {m["To"]: m.get_content() for m in _alert_mails(outbox)}
    assert sorted(mails) == sorted([day_watcher.email, slot_watcher.email])  # one mail each, whatever the rows
    day_links = re.findall(r"/bookings/new\?room=(\d+)&day=([\d-]+)", mails[day_watcher.email])
    assert {int(room) for room, _day in day_links} == {c.meeting_id, c.hall_id, c.hall_a_id, c.hall_b_id}
    assert {d for _room, d in day_links} == {(first + timedelta(days=2)).isoformat()}
    assert mails[slot_watcher.email].count("/bookings/new?") == 1 and "09:00–12:00" in mails[slot_watcher.email]

    html = client.get("/alerts/freed").get_data(as_text=True)
    assert html.count('class="button" href="/bookings/new?') == 1  # the cancellation, not 120 lottery cards
    assert f"/bookings/new?room={other.meeting_id}&amp;day={first.isoformat()}" in html
    assert f"/facilities/{c.facility_id}/availability?view=month&amp;start={first.isoformat()}" in html


def test_a_run_takes_whole_days_so_a_watched_day_is_never_split_over_two_mails(app, outbox):
    """Lottery rows arrive room by room (all days of one room, then the next): a run limited by rows would mail a
    watcher of one day once per room. Runs take whole (facility, day) pairs: one mail naming both rooms."""
    from app.core.time import utcnow
    from app.lottery import entries as lottery_flow
    from app.lottery.draw import SlotKey

    c = make_center()
    first = today_tokyo() + timedelta(days=DAY_AHEAD)
    watcher = make_user()
    _watch(watcher.id, c.facility_id, first + timedelta(days=1))
    with app_context():
        lottery_flow.notify_freed_slots([SlotKey(room, first + timedelta(days=n), "morning")
                                         for room in (c.meeting_id, c.hall_id) for n in range(3)], now=utcnow())
        db.session.commit()
    outbox.clear()
    with app.app_context(), alerts.url_context():
        runs = [alerts.notify_freed_slots(limit=1) for _ in range(4)]
        db.session.commit()
        send_pending()
        assert db.session.scalar(sa.select(sa.func.count(FreedSlot.id)).where(FreedSlot.notified_at.is_(None))) == 0
    assert sorted(runs) == [0, 0, 0, 1]  # three days, one per run; the watched day's run mails once
    (mail,) = _alert_mails(outbox)
    rooms = {int(r) for r in re.findall(r"/bookings/new\?room=(\d+)&", mail.get_content())}
    assert {c.meeting_id, c.hall_id} <= rooms
