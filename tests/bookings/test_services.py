"""Booking services: claims arbitrate parent/child and hourly overlaps, rules, fees and 減免, cancel, expiry."""

from __future__ import annotations

from datetime import timedelta

import jpholiday
import pytest
import sqlalchemy as sa

from app.bookings import services
from app.bookings.models import Booking, BookingClaim, BookingState
from app.core.time import today_tokyo, utcnow
from app.facilities.models import UserCategory
from app.organizations.models import OrganizationKind
from tests.facilities.factories import add_closure, add_lottery, make_center, make_organization
from tests.factories import make_user

R = UserCategory.RESIDENT


def _user(db, user_id):
    from app.accounts.models import User

    return db.session.get(User, user_id)


def _book(db, user, room_id, day, keys, **kw):
    kw.setdefault("attendees", 10)
    kw.setdefault("category", R)
    kw.setdefault("purpose", "町会の会議")
    booking = services.book_slots(user=user, room_id=room_id, day=day, unit_keys=keys, **kw)
    db.session.commit()
    return booking


def test_whole_hall_claims_both_halves_and_blocks_them(app_ctx):
    db = app_ctx
    c = make_center()
    u1, u2 = _user(db, make_user().id), _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=10)
    am = f"s{c.slot_ids['morning']}"
    booking = _book(db, u1, c.hall_id, day, [am])
    claimed = {row.room_id for row in db.session.scalars(sa.select(BookingClaim).where(
        BookingClaim.booking_id == booking.id))}
    assert claimed == {c.hall_a_id, c.hall_b_id}
    with pytest.raises(services.SlotTaken) as caught:
        _book(db, u2, c.hall_a_id, day, [am])
    db.session.rollback()
    # The alternatives offer the same slot in a free room with enough capacity (the meeting room), never the hall.
    assert [a.room.id for a in caught.value.alternatives] == [c.meeting_id]
    assert caught.value.status_code == 409
    # Another slot of the same half is free.
    assert _book(db, u2, c.hall_a_id, day, [f"s{c.slot_ids['afternoon']}"]).state == BookingState.TENTATIVE


def test_a_half_blocks_the_whole_hall_but_not_the_other_half(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=3)
    pm = f"s{c.slot_ids['afternoon']}"
    _book(db, user, c.hall_a_id, day, [pm])
    with pytest.raises(services.SlotTaken):
        _book(db, user, c.hall_id, day, [pm])
    db.session.rollback()
    _book(db, user, c.hall_b_id, day, [pm])
    assert db.session.scalar(sa.select(sa.func.count(Booking.id))) == 2


def test_hourly_room_books_hours_and_refuses_an_overlap(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=5)
    slot = c.slot_ids["morning"]
    booking = _book(db, user, c.studio_id, day, [f"s{slot}h540", f"s{slot}h600"], attendees=4)
    assert (booking.fee_gross_yen, [i.start_minute for i in booking.items]) == (600, [540, 600])
    with pytest.raises(services.SlotTaken):
        _book(db, user, c.studio_id, day, [f"s{slot}h600"], attendees=2)
    db.session.rollback()
    assert _book(db, user, c.studio_id, day, [f"s{slot}h660"], attendees=2).fee_net_yen == 300


@pytest.mark.parametrize("case", ["past", "window", "lead", "capacity", "unknown", "other_facility", "closed",
                                  "room_closed_blocks_parent", "lottery", "none"])
def test_rules_refuse_with_a_clear_error_and_write_nothing(app_ctx, case):
    db = app_ctx
    c = make_center(min_lead_days=1 if case == "lead" else 0)
    other = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=14)
    room, keys, kw = c.meeting_id, [f"s{c.slot_ids['morning']}"], {}
    expected = {
        "past": services.PastDate, "window": services.OutsideWindow, "lead": services.OutsideWindow,
        "capacity": services.OverCapacity, "unknown": services.UnknownSlot, "other_facility": services.UnknownSlot,
        "closed": services.ClosedDay, "room_closed_blocks_parent": services.ClosedDay,
        "lottery": services.ClosedDay, "none": services.UnknownSlot,
    }[case]
    if case == "past":
        day = today_tokyo() - timedelta(days=1)
    elif case == "window":
        day, kw = today_tokyo() + timedelta(days=61), {"category": UserCategory.OUTSIDE}
    elif case == "lead":
        day = today_tokyo()
    elif case == "capacity":
        kw = {"attendees": 21}
    elif case == "unknown":
        keys = ["s999999"]
    elif case == "other_facility":
        keys = [f"s{other.slot_ids['morning']}"]
    elif case == "closed":
        add_closure(c.facility_id, day, day + timedelta(days=1))
    elif case == "room_closed_blocks_parent":
        add_closure(c.facility_id, day, day + timedelta(days=1), room_id=c.hall_b_id)
        room = c.hall_id
    elif case == "lottery":
        add_lottery(c.facility_id, day, day + timedelta(days=7))
    elif case == "none":
        keys = []
    with pytest.raises(expected) as caught:
        _book(db, user, room, day, keys, **kw)
    db.session.rollback()
    assert caught.value.message
    assert db.session.scalar(sa.select(sa.func.count(Booking.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id))) == 0


def test_resident_window_is_longer_than_outside(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=80)
    assert _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"]).category == R


def test_holiday_closure_rule(app_ctx):
    db = app_ctx
    c = make_center(closed_on_holidays=True)
    user = _user(db, make_user().id)
    start = today_tokyo() + timedelta(days=1)
    holiday = next(d for d, _ in jpholiday.between(start, start + timedelta(days=80)))
    with pytest.raises(services.ClosedDay):
        _book(db, user, c.meeting_id, holiday, [f"s{c.slot_ids['morning']}"])


def test_fees_and_reductions(app_ctx):
    db = app_ctx
    c = make_center(fee=1000)
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=20)
    chonaikai = make_organization(officer_id=user.id, reduction_percent=100)
    npo = make_organization(kind=OrganizationKind.NPO, officer_id=user.id, reduction_percent=50)
    unverified = make_organization(kind=OrganizationKind.NPO, verified=False, officer_id=user.id)
    am, pm, ev = (f"s{c.slot_ids[k]}" for k in ("morning", "afternoon", "evening"))
    plain = services.quote(user=user, room_id=c.hall_id, day=day, unit_keys=[am, pm], attendees=50, category=R)
    assert (plain.gross, plain.reduction, plain.net, plain.state) == (4000, 0, 4000, BookingState.TENTATIVE)
    exempt = _book(db, user, c.hall_id, day, [am], attendees=50, organization_id=chonaikai)
    assert (exempt.fee_gross_yen, exempt.fee_reduction_yen, exempt.fee_net_yen) == (2000, 2000, 0)
    assert exempt.state == BookingState.CONFIRMED  # nothing to pay: no 仮予約
    halved = services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[pm], attendees=5, category=R,
                            organization_id=npo)
    assert (halved.gross, halved.reduction, halved.net) == (1000, 500, 500)
    not_verified = services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[ev], attendees=5,
                                  category=R, organization_id=unverified)
    assert not_verified.reduction == 0
    commercial = services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[ev], attendees=5,
                                category=UserCategory.COMMERCIAL, organization_id=npo)
    assert (commercial.gross, commercial.reduction) == (3000, 0)


def test_only_officers_book_for_a_group(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    organization = make_organization()
    with pytest.raises(services.NotAllowed):
        services.quote(user=user, room_id=c.meeting_id, day=today_tokyo() + timedelta(days=3),
                       unit_keys=[f"s{c.slot_ids['morning']}"], attendees=3, category=R,
                       organization_id=organization)


def test_cancel_within_undo_has_no_consequence_and_releases_the_slot(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=2)  # inside the 7-day deadline
    am = f"s{c.slot_ids['morning']}"
    booking = _book(db, user, c.meeting_id, day, [am])
    preview = services.cancel_booking(booking, actor=user, now=booking.created_at + timedelta(minutes=14))
    db.session.commit()
    assert (preview.undo, booking.late_cancellation, booking.state) == (True, False, BookingState.CANCELLED)
    assert services.ban_until(user.id) is None
    assert _book(db, user, c.meeting_id, day, [am]).state == BookingState.TENTATIVE  # the cells were released


def test_late_cancellation_bans_new_bookings(app_ctx):
    db = app_ctx
    c = make_center(late_cancel_ban_days=30)
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=2)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    preview = services.cancel_booking(booking, actor=user, now=booking.created_at + timedelta(minutes=16))
    db.session.commit()
    assert (preview.undo, preview.late, preview.ban_days, booking.late_cancellation) == (False, True, 30, True)
    with pytest.raises(services.Banned):
        _book(db, user, c.meeting_id, day + timedelta(days=1), [f"s{c.slot_ids['morning']}"])
    db.session.rollback()
    assert services.ban_until(user.id, now=utcnow() + timedelta(days=31)) is None


def test_expire_tentative_is_repeatable_and_releases(app_ctx):
    db = app_ctx
    c = make_center(tentative_hold_days=3)
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=30)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    assert booking.state == BookingState.TENTATIVE
    later = utcnow() + timedelta(days=4)
    assert services.expire_tentative(now=later) == 1
    db.session.commit()
    assert services.expire_tentative(now=later) == 0
    assert booking.state == BookingState.EXPIRED
    assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id))) == 0


def test_approval_room_is_requested_then_decided(app_ctx):
    db = app_ctx
    c = make_center()
    staff = _user(db, make_user().id)
    user = _user(db, make_user().id)
    from app.facilities.models import Room

    db.session.get(Room, c.meeting_id).requires_approval = True
    db.session.commit()
    day = today_tokyo() + timedelta(days=9)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    assert booking.state == BookingState.REQUESTED
    services.decide_booking(booking, actor=staff, approve=False)
    db.session.commit()
    assert booking.state == BookingState.REJECTED
    assert db.session.scalar(sa.select(sa.func.count(BookingClaim.id))) == 0


def test_no_show_bars_unless_the_day_is_exempt(app_ctx):
    db = app_ctx
    c = make_center(no_show_ban_days=60)
    user = _user(db, make_user().id)
    staff = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=1)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    services.record_payment(booking, actor=staff)
    with pytest.raises(services.BookingError):
        services.mark_attendance(booking, actor=staff, came=False)  # not before the day
    on_the_day = utcnow() + timedelta(days=1)
    services.mark_attendance(booking, actor=staff, came=False, now=on_the_day)
    db.session.commit()
    assert booking.no_show_at == on_the_day
    assert services.ban_until(user.id, now=on_the_day) == on_the_day + timedelta(days=60)
    services.add_exempt_day(facility_id=c.facility_id, day=day, reason="熱中症警戒アラート", actor=staff)
    services.add_exempt_day(facility_id=c.facility_id, day=day, reason="二度目", actor=staff)  # idempotent
    db.session.commit()
    assert services.ban_until(user.id, now=on_the_day) is None


def test_ward_wide_exempt_day_lifts_late_cancellation_ban(app_ctx):
    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=2)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"])
    services.cancel_booking(booking, actor=user, now=booking.created_at + timedelta(minutes=30))
    db.session.commit()
    assert services.ban_until(user.id) is not None
    services.add_exempt_day(facility_id=None, day=day, reason="台風", actor=user)
    db.session.commit()
    assert services.ban_until(user.id) is None


def test_a_slot_that_has_started_today_cannot_be_booked(app_ctx):
    from datetime import time

    from app.core.time import tokyo_to_utc

    db = app_ctx
    c = make_center()
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=1)
    ten_am = tokyo_to_utc(day, time(10, 0))
    with pytest.raises(services.PastDate):
        services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[f"s{c.slot_ids['morning']}"],
                       attendees=2, category=R, now=ten_am)
    later = services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[f"s{c.slot_ids['afternoon']}"],
                           attendees=2, category=R, now=ten_am)
    assert later.gross == 1000


def test_equipment_is_charged_reduced_and_limited_to_its_facility(app_ctx):
    from tests.facilities.factories import add_equipment

    db = app_ctx
    c = make_center(fee=1000)
    other = make_center()
    projector = add_equipment(c.facility_id, "プロジェクター", 500)
    piano = add_equipment(other.facility_id, "ピアノ", 1500)
    user = _user(db, make_user().id)
    day = today_tokyo() + timedelta(days=6)
    npo = make_organization(kind=OrganizationKind.NPO, officer_id=user.id, reduction_percent=50)
    booking = _book(db, user, c.meeting_id, day, [f"s{c.slot_ids['morning']}"], equipment_ids=[projector],
                    organization_id=npo)
    assert (booking.fee_gross_yen, booking.fee_reduction_yen, booking.fee_net_yen) == (1500, 750, 750)
    assert [(e.name_ja, e.fee_yen) for e in booking.equipment] == [("プロジェクター", 500)]
    with pytest.raises(services.UnknownSlot):
        services.quote(user=user, room_id=c.meeting_id, day=day, unit_keys=[f"s{c.slot_ids['evening']}"],
                       attendees=3, category=R, equipment_ids=[piano])
