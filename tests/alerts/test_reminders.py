"""Reminders: the day before an event or a booking, before a payment deadline; each once, even with runners racing;
the one-click cancel link (GET asks, POST cancels once, forged/reused/expired links change nothing)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import partial

import sqlalchemy as sa

from app.accounts.models import User
from app.alerts import reminders
from app.alerts.models import FreedSlot, SentReminder
from app.alerts.services import url_context
from app.bookings import services as booking_services
from app.bookings.models import Booking, BookingState
from app.core.jobs import registry, run_due
from app.core.mail import send_pending
from app.core.time import to_tokyo, today_tokyo, tokyo_to_utc, utcnow
from app.events.models import EventOccurrence, Registration, RegistrationStatus
from app.extensions import db
from app.facilities.models import UserCategory
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center
from tests.factories import app_context, make_user, post_form
from tests.participation.factories import make_organized, make_registration

EVENT_SUBJECT = "明日のイベントのお知らせ"
USE_SUBJECT = "明日は施設のご利用日です"
PAYMENT_SUBJECT = "お支払い期限が近づいています"


def _event(capacity: int = 5):
    organized = make_organized()
    with app_context():
        occurrence = db.session.get(EventOccurrence, organized.occurrence_id)
        occurrence.capacity = capacity
        db.session.commit()
        starts_at = occurrence.starts_at
    remind_at = tokyo_to_utc(to_tokyo(starts_at).date() - timedelta(days=1), time(10, 0))
    return organized, starts_at, remind_at


def _remind_events(app, now) -> int:
    with app.app_context(), url_context():
        sent = reminders.send_event_reminders(now=now)
        db.session.commit()
        send_pending()
    return sent


def _remind_bookings(app, now) -> int:
    with app.app_context(), url_context():
        sent = reminders.send_booking_reminders(now=now)
        db.session.commit()
        send_pending()
    return sent


def _mails(outbox, subject):
    return [m for m in outbox if m["Subject"] == subject]


def _cancel_path(mail) -> str:
    return re.search(r"http://\S+(/alerts/cancel/\S+)", mail.get_content()).group(1)


def _status(registration_id):
    with app_context():
        return db.session.get(Registration, registration_id).status


def _book(*, days_ahead: int, hold_days: int = 0, fee: int = 1000):
    c = make_center(tentative_hold_days=hold_days, fee=fee)
    user = make_user()
    day = today_tokyo() + timedelta(days=days_ahead)
    with app_context():
        booking = booking_services.book_slots(
            user=db.session.get(User, user.id), room_id=c.meeting_id, day=day,
            unit_keys=[f"s{c.slot_ids['afternoon']}"], attendees=5, category=UserCategory.RESIDENT, purpose="総会")
        booking.created_at = utcnow() - timedelta(days=20)  # booked long ago
        db.session.commit()
        return booking.id, user, day, booking.hold_until


# ---------------------------------------------------------------- events


def test_registrants_are_reminded_once_the_day_before_from_the_set_hour(app, outbox):
    organized, starts_at, remind_at = _event()
    confirmed = [make_registration(organized.occurrence_id) for _ in range(2)]
    waitlisted = make_registration(organized.occurrence_id, status=RegistrationStatus.WAITLISTED)
    outbox.clear()
    assert _remind_events(app, remind_at - timedelta(minutes=1)) == 0  # 09:59 the day before
    assert _remind_events(app, remind_at + timedelta(minutes=1)) == 2
    assert _remind_events(app, remind_at + timedelta(hours=3)) == 0  # already sent
    mails = _mails(outbox, EVENT_SUBJECT)
    assert sorted(m["To"] for m in mails) == sorted(email for _, _, email in confirmed)
    assert waitlisted[2] not in [m["To"] for m in mails]
    assert "/alerts/cancel/" in mails[0].get_content()
    assert _remind_events(app, starts_at + timedelta(minutes=1)) == 0  # nothing after the start


def test_the_reminder_names_the_occurrences_own_booked_room(app, outbox):
    from app.facilities.models import Room

    organized, _starts_at, remind_at = _event()
    booking_id, *_ = _book(days_ahead=30)
    with app_context():
        occurrence = db.session.get(EventOccurrence, organized.occurrence_id)
        occurrence.room_booking_id = booking_id  # the form's checks are tested in tests/events/test_venue.py
        room = db.session.get(Room, db.session.get(Booking, booking_id).room_id)
        room_name = room.name_ja
        db.session.commit()
    make_registration(organized.occurrence_id)
    outbox.clear()
    assert _remind_events(app, remind_at + timedelta(minutes=1)) == 1
    assert room_name in _mails(outbox, EVENT_SUBJECT)[0].get_content()


def test_late_registrants_are_not_reminded_but_an_outage_is_caught_up(app, outbox):
    organized, starts_at, remind_at = _event()
    early = make_registration(organized.occurrence_id)
    with app_context():
        late_id = make_registration(organized.occurrence_id)[0]
        db.session.get(Registration, late_id).queued_at = remind_at + timedelta(minutes=5)
        db.session.commit()
    outbox.clear()
    # cron was down from the day before until an hour before the start: the reminder still goes, once
    assert _remind_events(app, starts_at - timedelta(hours=1)) == 1
    assert [m["To"] for m in _mails(outbox, EVENT_SUBJECT)] == [early[2]]


def test_the_cancel_link_asks_then_frees_the_seat_for_the_waitlist_once(app, client, outbox):
    organized, _starts_at, remind_at = _event(capacity=1)
    registration_id, _user_id, email = make_registration(organized.occurrence_id)
    waiting_id, _w, waiting_email = make_registration(organized.occurrence_id, status=RegistrationStatus.WAITLISTED)
    outbox.clear()
    _remind_events(app, remind_at + timedelta(minutes=1))
    path = _cancel_path(_mails(outbox, EVENT_SUBJECT)[0])

    page = client.get(path)
    assert page.status_code == 200 and "キャンセル待ちの方に回ります" in page.get_data(as_text=True)
    assert _status(registration_id) == RegistrationStatus.CONFIRMED  # a GET changes nothing
    done = post_form(client, path, {})
    assert done.status_code == 200 and "申し込みを取り消しました" in done.get_data(as_text=True)
    assert _status(registration_id) == RegistrationStatus.CANCELLED
    assert _status(waiting_id) == RegistrationStatus.CONFIRMED
    assert [m["To"] for m in outbox if m["Subject"] == "キャンセル待ちから参加が決まりました"] == [waiting_email]

    reused = client.get(path)
    assert reused.status_code == 409 and "すでに使われました" in reused.get_data(as_text=True)
    with app_context():  # re-registering does not revive the old link
        db.session.get(Registration, registration_id).status = RegistrationStatus.CONFIRMED
        db.session.commit()
    again = post_form(client, path, {}, page="/alerts/freed")
    assert again.status_code == 409 and "すでに使われました" in again.get_data(as_text=True)
    assert _status(registration_id) == RegistrationStatus.CONFIRMED


def test_forged_and_expired_cancel_links_change_nothing(app, client, outbox):
    organized, _starts_at, remind_at = _event()
    registration_id, _u, _e = make_registration(organized.occurrence_id)
    outbox.clear()
    _remind_events(app, remind_at + timedelta(minutes=1))
    path = _cancel_path(_mails(outbox, EVENT_SUBJECT)[0])

    forged = post_form(client, path[:-4] + "AAAA", {}, page="/alerts/freed")
    assert forged.status_code == 400 and "このリンクは使えません" in forged.get_data(as_text=True)
    booking_token = path.replace("/alerts/cancel/", "")
    from itsdangerous import URLSafeSerializer

    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="tsudoi-alerts-unsubscribe").dumps(
        {"m": 1, "k": "event_day_before"})
    assert client.get(f"/alerts/cancel/{other_salt}").status_code == 400  # a token of another purpose
    with app_context():
        occurrence = db.session.get(EventOccurrence, organized.occurrence_id)
        occurrence.starts_at = utcnow() - timedelta(minutes=5)
        occurrence.ends_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    expired = post_form(client, f"/alerts/cancel/{booking_token}", {}, page="/alerts/freed")
    assert expired.status_code == 400 and "期限は切れました" in expired.get_data(as_text=True)
    assert _status(registration_id) == RegistrationStatus.CONFIRMED
    with app_context():
        assert db.session.scalar(sa.select(SentReminder.used_at)) is None


# ---------------------------------------------------------------- bookings


def test_a_booking_is_reminded_the_day_before_and_its_link_follows_the_cancellation_rules(app, client, outbox):
    booking_id, user, day, _hold = _book(days_ahead=3)
    remind_at = tokyo_to_utc(day - timedelta(days=1), time(10, 0))
    outbox.clear()
    assert _remind_bookings(app, remind_at - timedelta(minutes=5)) == 0
    assert _remind_bookings(app, remind_at + timedelta(minutes=5)) == 1
    assert _remind_bookings(app, remind_at + timedelta(hours=2)) == 0
    mail = _mails(outbox, USE_SUBJECT)
    assert [m["To"] for m in mail] == [user.email]
    path = _cancel_path(mail[0])

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "直前の取消しになります" in html and "30日間" in html  # 3 days < 7: late
    with app_context():
        assert db.session.get(Booking, booking_id).state == BookingState.CONFIRMED
    done = post_form(client, path, {})
    assert done.status_code == 200 and "直前の取消しのため" in done.get_data(as_text=True)
    with app_context():
        booking = db.session.get(Booking, booking_id)
        assert (booking.state, booking.late_cancellation) == (BookingState.CANCELLED, True)
        assert db.session.scalar(sa.select(sa.func.count(FreedSlot.id))) == 1  # watchers will hear of it
    assert client.get(path).status_code == 409


def test_a_tentative_booking_is_reminded_before_its_payment_deadline_once(app, outbox):
    booking_id, user, _day, hold_until = _book(days_ahead=30, hold_days=3)
    with app_context():
        assert db.session.get(Booking, booking_id).state == BookingState.TENTATIVE
    outbox.clear()
    assert _remind_bookings(app, hold_until - timedelta(hours=25)) == 0
    assert _remind_bookings(app, hold_until - timedelta(hours=23)) == 1
    assert _remind_bookings(app, hold_until - timedelta(hours=1)) == 0
    assert _remind_bookings(app, hold_until + timedelta(minutes=1)) == 0
    mails = _mails(outbox, PAYMENT_SUBJECT)
    assert [m["To"] for m in mails] == [user.email]
    assert "支払期限" in mails[0].get_content() and "/alerts/cancel/" in mails[0].get_content()


# ---------------------------------------------------------------- runners racing


def _race(app, outbox):
    """Reminders due for five registrants and two bookings; two `run_due` at once with different due keys (so the
    job claim does not keep them apart). Returns (registrant e-mails, booker e-mails)."""
    organized, _starts_at, _remind_at = _event(capacity=10)
    registrants = [make_registration(organized.occurrence_id)[2] for _ in range(5)]
    bookings = [_book(days_ahead=3) for _ in range(2)]
    now = tokyo_to_utc(bookings[0][2] - timedelta(days=1), time(10, 0)) + timedelta(minutes=1)
    # both windows must be open at NOW: the event is ten days away, so move it to the bookings' day
    with app_context():
        occurrence = db.session.get(EventOccurrence, organized.occurrence_id)
        occurrence.starts_at = tokyo_to_utc(bookings[0][2], time(14, 0))
        occurrence.ends_at = occurrence.starts_at + timedelta(hours=2)
        db.session.commit()
    outbox.clear()
    jobs = {"alerts.remind-registrants", "alerts.remind-bookings"}
    results, errors = at_once_in_app(app, [partial(run_due, now=now + timedelta(minutes=m), only=jobs)
                                           for m in (0, 16)])
    assert errors == []
    assert sorted(o.status for run in results for o in run) == ["succeeded"] * 4  # both runners ran both jobs
    with app.app_context():
        send_pending()
    return registrants, [b[1].email for b in bookings]


def test_two_runners_at_once_send_each_reminder_exactly_once(app, outbox):
    """The UNIQUE reminder rows alone make each mail go once when two runners both run the reminder jobs."""
    registrants, bookers = _race(app, outbox)
    assert sorted(m["To"] for m in _mails(outbox, EVENT_SUBJECT)) == sorted(registrants)
    assert sorted(m["To"] for m in _mails(outbox, USE_SUBJECT)) == sorted(bookers)


def test_control_without_the_reminder_record_both_runners_send(app, outbox, monkeypatch):
    """Shows the race test can see a double send: with the record not written, both runners remind everyone."""

    def unrecorded(kind, *, registration_id=None, booking_id=None, now):
        return SentReminder(id=0, kind=kind, registration_id=registration_id, booking_id=booking_id, sent_at=now)

    monkeypatch.setattr(reminders, "_claim", unrecorded)
    registrants, bookers = _race(app, outbox)
    assert sorted(m["To"] for m in _mails(outbox, EVENT_SUBJECT)) == sorted(registrants * 2)
    assert sorted(m["To"] for m in _mails(outbox, USE_SUBJECT)) == sorted(bookers * 2)


def test_run_due_runs_every_reminder_before_the_mail_sender():
    names = [job.name for job in registry]
    for name in ("participation.remind-overdue-reports", "alerts.remind-registrants", "alerts.remind-bookings",
                 "alerts.freed-slots"):
        assert names.index(name) < names.index("mail.send-pending"), name
