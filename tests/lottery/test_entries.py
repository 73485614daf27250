"""The lottery flow around the draw (services, both databases): a period's configuration, entry windows per
tier, edits until the window closes, bad preferences, confirmation -> a real booking with fees and 減免,
declining, the release job (idempotent, e-mail), leftovers opening at the announced time, 抽 in the grid."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.bookings import services as booking_services
from app.bookings.availability import facility_grid
from app.bookings.models import Booking, BookingClaim, BookingState
from app.core.errors import Conflict, NotAllowed
from app.core.mail import OutboxMessage
from app.extensions import db
from app.facilities.availability import Status
from app.facilities.models import Facility, UserCategory
from app.lottery import entries as flow
from app.lottery import periods
from app.lottery import services as lottery_services
from app.lottery.draw import SlotKey
from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryTier
from app.organizations.models import OrganizationKind
from tests.concurrency import at_once_in_app, wait_for_a_lock_waiter
from tests.facilities.factories import add_closure, make_center, make_organization
from tests.factories import make_user
from tests.lottery.factories import at, open_period, spec_for

MONTH = date(2027, 8, 1)
TIER1_OPENS = date(2027, 4, 1)  # 町会・NPO; other groups from 05-01, individuals from 05-31
CLOSES = date(2027, 6, 10)
DRAW = date(2027, 6, 20)
CONFIRM = date(2027, 6, 30)
LEFTOVERS = at(date(2027, 7, 5), 9)


def _spec(**over):
    options = dict(tiers_from=TIER1_OPENS, closes=CLOSES, draw=DRAW, confirm=CONFIRM, leftovers=LEFTOVERS)
    options.update(over)
    return spec_for(MONTH, **options)


def _slot(room_id, day=5, code="evening"):
    return SlotKey(room_id, MONTH.replace(day=day), code)


def _world(*, k=3, **over):
    center = make_center()
    period_id = open_period(center.facility_id, _spec(k=k, **over))
    return center, period_id


def _officer(kind=OrganizationKind.NEIGHBORHOOD_ASSOCIATION, *, verified=True, reduction_percent=None):
    officer = make_user()
    org = make_organization(kind=kind, officer_id=officer.id, verified=verified, reduction_percent=reduction_percent)
    return db.session.get(User, officer.id), org


def _period(period_id) -> LotteryPeriod:
    return db.session.get(LotteryPeriod, period_id)


def test_opening_a_period_stores_tiers_windows_and_commits_a_seed(app_ctx):
    center, period_id = _world()
    period = _period(period_id)
    assert (period.start_date, period.end_date) == (MONTH, date(2027, 9, 1))
    tiers = periods.tiers_of(period_id)
    assert [t.rank for t in tiers] == [1, 2, 3]
    assert tiers[0].opens_at == at(TIER1_OPENS, 0) and tiers[0].closes_at == at(CLOSES + timedelta(days=1), 0)
    assert period.confirm_until == at(CONFIRM + timedelta(days=1), 0) and period.leftovers_open_at == LEFTOVERS
    draw = periods.draw_of(period_id)
    assert len(draw.seed_commitment) == 64 and draw.max_preferences == 3 and not draw.is_drawn


@pytest.mark.parametrize("change, message", [
    ({"draw": CLOSES}, "抽選日の前日まで"),
    ({"confirm": DRAW - timedelta(days=1)}, "抽選日以後"),
    ({"leftovers": at(CONFIRM, 9)}, "確定期限の後"),
    ({"draw": MONTH}, "対象の月より前"),
    ({"k": 0}, "1以上"),
])
def test_bad_period_configurations_are_refused_with_a_message(app_ctx, change, message):
    center = make_center()
    staff = make_user()
    facility = db.session.get(Facility, center.facility_id)
    with pytest.raises(flow.LotteryError) as caught:
        periods.open_period(facility, _spec(**change), actor=db.session.get(User, staff.id))
    assert message in str(caught.value.message)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LotteryPeriod.id))) == 0


def test_the_same_kind_in_two_tiers_and_overlapping_periods_are_refused(app_ctx):
    center, _ = _world()
    facility = db.session.get(Facility, center.facility_id)
    staff = db.session.get(User, make_user().id)
    with pytest.raises(Conflict):
        periods.open_period(facility, _spec(room_id=center.hall_a_id), actor=staff)  # the hall's half, same month
    db.session.rollback()
    tiers = [periods.TierSpec(["npo"], TIER1_OPENS, CLOSES), periods.TierSpec(["npo"], TIER1_OPENS, CLOSES)]
    with pytest.raises(flow.LotteryError):
        periods.open_period(facility, spec_for(date(2027, 10, 1), tiers_from=TIER1_OPENS, closes=CLOSES, draw=DRAW,
                                            confirm=CONFIRM, leftovers=LEFTOVERS, tiers=tiers), actor=staff)


def test_each_tier_applies_only_inside_its_own_window(app_ctx):
    center, period_id = _world()
    period = _period(period_id)
    chonai, chonai_org = _officer()
    company, company_org = _officer(OrganizationKind.COMPANY)
    person = db.session.get(User, make_user().id)
    early = at(TIER1_OPENS + timedelta(days=3))
    entry = flow.apply(period, user=chonai, organization_id=chonai_org, preferences=[_slot(center.hall_id)],
                       now=early)
    assert entry.tier == 1
    with pytest.raises(flow.WindowClosed) as caught:  # other groups: tier 2, opens a month later
        flow.apply(period, user=company, organization_id=company_org, preferences=[_slot(center.hall_id)], now=early)
    assert "受付前" in str(caught.value.message) and "2027-05-01" in str(caught.value.message)
    with pytest.raises(flow.WindowClosed):
        flow.apply(period, user=person, organization_id=None, preferences=[_slot(center.meeting_id)], now=early)
    later = at(date(2027, 6, 1))
    assert flow.apply(period, user=company, organization_id=company_org, preferences=[_slot(center.hall_id)],
                      now=later).tier == 2
    assert flow.apply(period, user=person, organization_id=None, preferences=[_slot(center.meeting_id)],
                      now=later).tier == 3
    with pytest.raises(flow.WindowClosed) as caught:
        flow.apply(period, user=db.session.get(User, make_user().id), organization_id=None,
                   preferences=[_slot(center.meeting_id)], now=at(CLOSES + timedelta(days=1), 0))
    assert "終わりました" in str(caught.value.message)


def test_only_officers_of_verified_groups_and_allowed_individuals_apply(app_ctx):
    center, period_id = _world(individuals=False, tiers=[
        periods.TierSpec(["neighborhood_association"], TIER1_OPENS, CLOSES)])
    period = _period(period_id)
    now = at(TIER1_OPENS + timedelta(days=1))
    pending, pending_org = _officer(verified=False)
    with pytest.raises(NotAllowed):
        flow.apply(period, user=pending, organization_id=pending_org, preferences=[_slot(center.hall_id)], now=now)
    officer, org = _officer()
    stranger = db.session.get(User, make_user().id)
    with pytest.raises(NotAllowed):  # not an officer of that group
        flow.apply(period, user=stranger, organization_id=org, preferences=[_slot(center.hall_id)], now=now)
    with pytest.raises(NotAllowed):  # individuals not allowed here
        flow.apply(period, user=stranger, organization_id=None, preferences=[_slot(center.hall_id)], now=now)
    company, company_org = _officer(OrganizationKind.COMPANY)
    with pytest.raises(NotAllowed):  # no tier for companies in this period
        flow.apply(period, user=company, organization_id=company_org, preferences=[_slot(center.hall_id)], now=now)
    assert db.session.scalar(sa.select(sa.func.count(LotteryEntry.id))) == 0


def test_bad_preferences_get_a_message_naming_the_preference(app_ctx):
    center, period_id = _world(k=2)
    add_closure(center.facility_id, MONTH.replace(day=10), MONTH.replace(day=11))
    period = _period(period_id)
    officer, org = _officer()
    now = at(TIER1_OPENS + timedelta(days=1))

    def refused(preferences, text):
        with pytest.raises(lottery_services.BadPreferences) as caught:
            flow.apply(period, user=officer, organization_id=org, preferences=preferences, now=now)
        assert text in str(caught.value.message), caught.value.message

    good = _slot(center.hall_id)
    refused([good, SlotKey(center.hall_id, date(2027, 9, 1), "morning")],
            "第2希望の日(2027-09-01)は、対象の月ではありません")
    refused([_slot(center.hall_id, day=10)], "第1希望: 2027-08-10は休館日です")
    refused([good, good], "第2希望は、前の希望と同じです")
    refused([good, _slot(center.meeting_id), _slot(center.hall_a_id)], "希望は2件まで")
    refused([_slot(center.studio_id)], "この抽選の対象ではありません")  # let by the hour
    refused([_slot(center.hall_id, code="night")], "この時間区分はありません")
    refused([SlotKey(make_center().meeting_id, MONTH, "morning")], "この抽選の対象ではありません")
    refused([], "1つ以上")
    assert db.session.scalar(sa.select(sa.func.count(LotteryEntry.id))) == 0


def test_entries_change_until_their_window_closes_and_only_by_their_group(app_ctx):
    center, period_id = _world()
    period = _period(period_id)
    officer, org = _officer()
    other, _other_org = _officer()
    entry = flow.apply(period, user=officer, organization_id=org, preferences=[_slot(center.hall_id)],
                       now=at(TIER1_OPENS))
    db.session.commit()
    # A second officer of the same group may change it; an officer of another group may not.
    from app.organizations.models import Membership, MembershipRole

    colleague = db.session.get(User, make_user().id)
    db.session.add(Membership(organization_id=org, user_id=colleague.id, role=MembershipRole.OFFICER))
    db.session.flush()
    flow.change(entry, user=colleague, preferences=[_slot(center.meeting_id), _slot(center.hall_id)],
                now=at(CLOSES, 23))
    assert [(p.rank, p.room_id) for p in entry.preferences] == [(1, center.meeting_id), (2, center.hall_id)]
    with pytest.raises(NotAllowed):
        flow.change(entry, user=other, preferences=[_slot(center.hall_b_id)], now=at(CLOSES))
    with pytest.raises(flow.WindowClosed):
        flow.change(entry, user=officer, preferences=[_slot(center.hall_b_id)], now=at(CLOSES + timedelta(days=1), 0))
    with pytest.raises(flow.WindowClosed):
        flow.withdraw(entry, user=officer, now=at(CLOSES + timedelta(days=1), 0))
    assert [p.room_id for p in entry.preferences] == [center.meeting_id, center.hall_id]
    assert [e.id for e in flow.entries_for(colleague)] == [entry.id] and flow.entries_for(other) == []
    flow.withdraw(entry, user=officer, now=at(CLOSES))
    assert db.session.scalar(sa.select(sa.func.count(LotteryEntry.id))) == 0


def _drawn(app_ctx, *, reduction_percent=None, n_losers=1):
    """A period drawn with one winner (a 町会 officer, maybe with a 減免) and N_LOSERS losers for one hall slot."""
    center, period_id = _world()
    period = _period(period_id)
    officer, org = _officer(reduction_percent=reduction_percent)
    wanted = _slot(center.hall_id)
    winner = flow.apply(period, user=officer, organization_id=org, preferences=[wanted], now=at(TIER1_OPENS))
    losers = []
    for _ in range(n_losers):
        person = db.session.get(User, make_user().id)
        losers.append(flow.apply(period, user=person, organization_id=None, preferences=[wanted],
                                 now=at(date(2027, 6, 5))))
    db.session.commit()
    staff = db.session.get(User, make_user().id)
    with pytest.raises(lottery_services.NotOpen):  # the staff button waits for every window to close
        periods.staff_draw(period, actor=staff, now=at(CLOSES))
    with pytest.raises(lottery_services.NotOpen):  # ... and refuses once the slots went first-come
        periods.staff_draw(period, actor=staff, now=LEFTOVERS)
    periods.staff_draw(period, actor=staff, now=at(DRAW, 10))
    db.session.commit()
    return center, period, officer, org, winner, losers, wanted


def test_tiers_first_and_every_entrant_is_emailed_with_a_confirm_link(app_ctx):
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx, n_losers=2)
    assert winner.won_rank == 1 and all(e.won_rank is None for e in losers)  # tier 1 beats tier 3
    mails = {m.recipient: m for m in db.session.scalars(sa.select(OutboxMessage))}
    assert set(mails) == {officer.email} | {db.session.get(User, e.user_id).email for e in losers}
    won = mails[officer.email].body_text
    assert f"/lotteries/entries/{winner.id}" in won and "確定してください" in won and "2027年6月30日" in won
    lost = mails[db.session.get(User, losers[0].user_id).email].body_text
    assert "落選" in lost and "先着順" in lost and "/lotteries/entries/" not in lost


def test_confirming_makes_a_booking_with_the_usual_fees_and_reduction(app_ctx):
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx, reduction_percent=50)
    stranger = db.session.get(User, make_user().id)
    with pytest.raises(NotAllowed):
        flow.confirm_award(winner, user=stranger, purpose="x", attendees=10, category=UserCategory.RESIDENT,
                           now=at(CONFIRM))
    with pytest.raises(lottery_services.LotteryError):
        flow.confirm_award(losers[0], user=db.session.get(User, losers[0].user_id), purpose="x", attendees=10,
                           category=UserCategory.RESIDENT, now=at(CONFIRM))
    booking = flow.confirm_award(winner, user=officer, purpose="町会の総会", attendees=80,
                                 category=UserCategory.RESIDENT, now=at(CONFIRM, 20))
    db.session.commit()
    assert (booking.room_id, booking.day, booking.organization_id) == (center.hall_id, wanted.day, org)
    assert booking.fee_gross_yen == 2000 and booking.fee_reduction_yen == 1000 and booking.fee_net_yen == 1000
    assert booking.state == BookingState.TENTATIVE and [i.slot_code for i in booking.items] == ["evening"]
    assert winner.booking_id == booking.id and flow.award_state(winner, period, at(CONFIRM)) == "confirmed"
    # The claims hold both halves of the hall: nobody can book them, whatever the path.
    claimed = set(db.session.scalars(sa.select(BookingClaim.room_id).where(BookingClaim.booking_id == booking.id)))
    assert claimed == {center.hall_a_id, center.hall_b_id}
    with pytest.raises(Conflict):
        flow.confirm_award(winner, user=officer, purpose="x", attendees=10, category=UserCategory.RESIDENT,
                           now=at(CONFIRM, 21))
    assert flow.release_expired_awards(now=at(CONFIRM + timedelta(days=2))) == 0  # confirmed stays


def test_confirming_after_the_deadline_is_refused_and_the_release_job_is_idempotent(app_ctx):
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    late = at(CONFIRM + timedelta(days=1), 0)
    with pytest.raises(Conflict):
        flow.confirm_award(winner, user=officer, purpose="x", attendees=10, category=UserCategory.RESIDENT, now=late)
    db.session.rollback()
    before = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))
    assert flow.release_expired_awards(now=at(CONFIRM, 23)) == 0  # not yet
    assert flow.release_expired_awards(now=late) == 1
    db.session.commit()
    assert flow.release_expired_awards(now=late + timedelta(minutes=1)) == 0
    db.session.commit()
    entry = db.session.get(LotteryEntry, winner.id)
    assert entry.released_at == late and entry.release_reason == "expired" and entry.booking_id is None
    mails = list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))[before:]
    assert [m.recipient for m in mails] == [officer.email]
    assert "取り消しました" in mails[0].body_text and "先着順" in mails[0].body_text
    assert db.session.scalar(sa.select(sa.func.count(Booking.id))) == 0


def test_declined_and_leftover_slots_open_first_come_at_the_announced_time(app_ctx):
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    flow.decline_award(winner, user=officer, now=at(CONFIRM))
    db.session.commit()
    assert flow.award_state(winner, period, at(CONFIRM)) == "released" and winner.release_reason == "declined"
    person = db.session.get(User, make_user().id)
    book = dict(user=person, room_id=center.hall_id, day=wanted.day, unit_keys=[f"s{center.slot_ids['evening']}"],
                purpose="練習", attendees=30, category=UserCategory.RESIDENT)
    # Before the announced time the slot is still 抽 and cannot be booked first-come.
    with pytest.raises(booking_services.ClosedDay):
        booking_services.book_slots(**book, now=LEFTOVERS - timedelta(minutes=1))
    db.session.rollback()
    facility = db.session.get(Facility, center.facility_id)
    grid = facility_grid(facility, wanted.day, wanted.day + timedelta(days=1),
                                          now=LEFTOVERS - timedelta(minutes=1))
    assert {c.status for c in grid.grid.row(center.hall_id, wanted.day)} == {Status.LOTTERY}
    assert flow.open_due_leftovers(now=LEFTOVERS - timedelta(minutes=1)) == 0
    assert flow.open_due_leftovers(now=LEFTOVERS) == 1
    db.session.commit()
    assert flow.open_due_leftovers(now=LEFTOVERS + timedelta(minutes=1)) == 0
    assert _period(period.id).leftovers_opened_at == LEFTOVERS
    grid = facility_grid(facility, wanted.day, wanted.day + timedelta(days=1), now=LEFTOVERS)
    assert {c.status for c in grid.grid.row(center.hall_id, wanted.day)} == {Status.FREE}
    booking = booking_services.book_slots(**book, now=LEFTOVERS + timedelta(hours=1))
    db.session.commit()
    assert booking.state.is_active


def test_opening_leftovers_tells_the_freed_slot_alerts(app_ctx):
    pytest.importorskip("app.alerts.services")
    from app.alerts.models import FreedCause, FreedSlot

    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    flow.decline_award(winner, user=officer, now=at(CONFIRM))
    flow.open_due_leftovers(now=LEFTOVERS)
    db.session.commit()
    freed = {(f.room_id, f.day, f.start_minute, f.cause) for f in db.session.scalars(sa.select(FreedSlot))}
    # The declined slot and every leftover of the month (4 rooms x 31 days x 3 slots) opened first-come.
    assert (center.hall_id, wanted.day, 18 * 60, FreedCause.LOTTERY) in freed and len(freed) == 4 * 31 * 3
    flow.open_due_leftovers(now=LEFTOVERS + timedelta(minutes=5))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(FreedSlot.id))) == 4 * 31 * 3


def test_a_confirmed_award_is_not_announced_as_freed(app_ctx):
    pytest.importorskip("app.alerts.services")
    from app.alerts.models import FreedSlot

    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    flow.confirm_award(winner, user=officer, purpose="総会", attendees=50, category=UserCategory.RESIDENT,
                       now=at(CONFIRM))
    flow.open_due_leftovers(now=LEFTOVERS)
    db.session.commit()
    freed = {(f.room_id, f.day, f.start_minute) for f in db.session.scalars(sa.select(FreedSlot))}
    evening = 18 * 60
    assert freed and not freed & {(r, wanted.day, evening) for r in (center.hall_id, center.hall_a_id,
                                                                     center.hall_b_id)}
    assert (center.meeting_id, wanted.day, evening) in freed


def test_changing_a_period_after_entries_keeps_what_was_announced(app_ctx):
    center, period_id = _world()
    period = _period(period_id)
    officer, org = _officer()
    flow.apply(period, user=officer, organization_id=org, preferences=[_slot(center.hall_id)], now=at(TIER1_OPENS))
    db.session.commit()
    staff = db.session.get(User, make_user().id)
    with pytest.raises(Conflict):
        periods.update_period(period, _spec(k=5), actor=staff)
    db.session.rollback()
    periods.update_period(_period(period_id), _spec(draw=DRAW + timedelta(days=2)), actor=staff)
    db.session.commit()
    assert _period(period_id).draw_date == DRAW + timedelta(days=2)
    assert db.session.scalar(sa.select(sa.func.count(LotteryTier.id))) == 3


def test_two_officers_confirming_at_once_make_one_booking(app_ctx, app):
    from app.organizations.models import Membership, MembershipRole

    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    colleague = make_user()
    db.session.add(Membership(organization_id=org, user_id=colleague.id, role=MembershipRole.OFFICER))
    db.session.commit()
    entry_id, user_ids = winner.id, [officer.id, colleague.id]
    db.session.remove()  # the threads get their own sessions; this one holds nothing

    def confirm(user_id: int) -> str:
        try:
            user = db.session.get(User, user_id)
            entry = db.session.get(LotteryEntry, entry_id)
            flow.confirm_award(entry, user=user, purpose="総会", attendees=40, category=UserCategory.RESIDENT,
                               now=at(CONFIRM))
            db.session.commit()
            return "booked"
        except (Conflict, booking_services.SlotTaken):
            db.session.rollback()
            return "refused"
        finally:
            db.session.remove()

    # Released together before any statement: on SQLite the first one takes the write lock.
    outcomes, errors = at_once_in_app(app, [partial(confirm, uid) for uid in user_ids], timeout=60)
    assert sorted(outcomes) == ["booked", "refused"], errors
    assert db.session.scalar(sa.select(sa.func.count(Booking.id))) == 1
    assert db.session.get(LotteryEntry, entry_id).booking_id is not None


def _confirm_while_the_release_job_holds_the_entry(app, winner_id: int, officer_id: int) -> tuple[str, str]:
    """The release job (deadline just passed) has locked the unconfirmed award and not committed yet when the
    winner's confirmation (sent a moment before the deadline) arrives. Returns (job outcome, confirm outcome)."""
    import threading
    import time

    locked = threading.Event()
    outcomes: dict[str, str] = {}

    def release() -> None:
        with app.app_context():
            try:
                outcomes["job"] = f"released {flow.release_expired_awards(now=at(CONFIRM + timedelta(days=1), 0))}"
                locked.set()
                if db.engine.dialect.name == "postgresql":  # commit only once the confirmation waits on a lock
                    wait_for_a_lock_waiter(db.engine, timeout=10)
                else:  # SQLite: the confirmation's BEGIN IMMEDIATE waits for this commit
                    time.sleep(0.3)
                db.session.commit()
            finally:
                locked.set()
                db.session.remove()

    def confirm() -> None:
        locked.wait(timeout=30)
        with app.app_context():
            try:
                flow.confirm_award(db.session.get(LotteryEntry, winner_id), user=db.session.get(User, officer_id),
                                   purpose="総会", attendees=40, category=UserCategory.RESIDENT,
                                   now=at(CONFIRM, 23))
                db.session.commit()
                outcomes["confirm"] = "booked"
            except Conflict:
                db.session.rollback()
                outcomes["confirm"] = "refused"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=release), threading.Thread(target=confirm)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes.get("job", "?"), outcomes.get("confirm", "?")


def test_a_confirmation_racing_the_release_job_never_leaves_a_released_award_booked(app_ctx, app, monkeypatch):
    """The entry lock makes the confirmation wait for the job and see the release. Control run (PostgreSQL,
    where rows are locked one by one): without the lock the confirmation books the slot AND the job releases
    it, the slot being announced first-come while it is booked; the same test catches that."""
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    winner_id, officer_id = winner.id, officer.id
    db.session.remove()
    assert _confirm_while_the_release_job_holds_the_entry(app, winner_id, officer_id) == ("released 1", "refused")
    entry = db.session.get(LotteryEntry, winner_id)
    assert entry.release_reason == "expired" and entry.confirmed_at is None and entry.booking_id is None
    assert db.session.scalar(sa.select(sa.func.count(Booking.id))) == 0
    if db.engine.dialect.name != "postgresql":
        return  # SQLite serialises whole write transactions: the lock is not what protects it there

    db.session.remove()
    center, period, officer, org, winner, losers, wanted = _drawn(app_ctx)
    winner_id, officer_id = winner.id, officer.id
    db.session.remove()
    monkeypatch.setattr(flow, "_lock_entry", lambda entry: None)
    assert _confirm_while_the_release_job_holds_the_entry(app, winner_id, officer_id) == ("released 1", "booked")
    entry = db.session.get(LotteryEntry, winner_id)
    assert entry.released_at is not None and entry.confirmed_at is not None  # the race the lock prevents


def test_a_period_for_one_room_draws_and_blocks_only_that_room(app_ctx):
    center = make_center()
    period = _period(open_period(center.facility_id, _spec(room_id=center.meeting_id)))
    slots = lottery_services.lottery_slots(period)
    assert slots and {s.room_id for s in slots} == {center.meeting_id}
    assert len(slots) == 31 * 3  # every 時間区分 of the month, that room only
    officer, org = _officer()
    now = at(TIER1_OPENS + timedelta(days=1))
    with pytest.raises(lottery_services.BadPreferences) as caught:
        flow.apply(period, user=officer, organization_id=org, preferences=[_slot(center.hall_id)], now=now)
    assert "この抽選の対象ではありません" in str(caught.value.message)
    flow.apply(period, user=officer, organization_id=org, preferences=[_slot(center.meeting_id)], now=now)
    db.session.commit()
    facility = db.session.get(Facility, center.facility_id)
    day = MONTH.replace(day=5)
    grid = facility_grid(facility, day, day + timedelta(days=1), now=now)
    assert {c.status for c in grid.grid.row(center.meeting_id, day)} == {Status.LOTTERY}
    assert {c.status for c in grid.grid.row(center.hall_id, day)} == {Status.FREE}
    # Inside the booking window (before the leftovers open) the hall is bookable first-come that evening; the
    # meeting room is not.
    person, soon = db.session.get(User, make_user().id), at(date(2027, 6, 1))
    evening = [f"s{center.slot_ids['evening']}"]
    booking = booking_services.book_slots(user=person, room_id=center.hall_id, day=day, unit_keys=evening,
                                          purpose="練習", attendees=30, category=UserCategory.RESIDENT, now=soon)
    assert booking.state.is_active
    with pytest.raises(booking_services.ClosedDay):
        booking_services.book_slots(user=person, room_id=center.meeting_id, day=day, unit_keys=evening,
                                    purpose="練習", attendees=5, category=UserCategory.RESIDENT, now=soon)
