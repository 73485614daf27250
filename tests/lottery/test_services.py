"""Lottery records: seed commitment, entries under the period's limits (also under concurrency), the draw
stored once with its frozen inputs, and `flask lottery verify PERIOD` reproducing it (or catching tampering)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from functools import partial

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict
from app.extensions import db
from app.lottery import services
from app.lottery.draw import SlotKey
from app.lottery.models import LotteryDraw, LotteryEntry, LotteryPeriod
from tests.concurrency import at_once_in_app
from tests.facilities.factories import make_center, make_organization
from tests.factories import make_user

START = date(2027, 4, 1)


def _period(center, *, room_id=None) -> int:
    period = LotteryPeriod(facility_id=center.facility_id, room_id=room_id, start_date=START,
                           end_date=START + timedelta(days=30))
    db.session.add(period)
    db.session.commit()
    return period.id


def _setup(app_ctx, *, entries_per_group=2, max_preferences=3):
    center = make_center()
    period_id = _period(center)
    period = db.session.get(LotteryPeriod, period_id)
    draw = services.commit_seed(period, entries_per_group=entries_per_group, max_preferences=max_preferences)
    db.session.commit()
    return center, period, draw


def _slot(room_id, day_offset=0, code="morning"):
    return SlotKey(room_id, START + timedelta(days=day_offset), code)


def test_commit_publishes_the_sha256_of_a_secret_seed_once(app_ctx):
    center, period, draw = _setup(app_ctx)
    assert draw.seed_commitment == hashlib.sha256(draw.seed.encode()).hexdigest()
    assert len(draw.seed) == 64 and not draw.is_drawn
    with pytest.raises(Conflict):
        services.commit_seed(period, entries_per_group=1, max_preferences=1)


def test_entries_respect_the_period_limits(app_ctx):
    center, period, _ = _setup(app_ctx, entries_per_group=2, max_preferences=2)
    officer = make_user()
    org = make_organization(officer_id=officer.id)
    user = db.session.merge(officer)
    first = services.enter(period, user=user, organization_id=org, tier=1, preferences=[_slot(center.meeting_id)])
    services.enter(period, user=user, organization_id=org, tier=1, preferences=[_slot(center.meeting_id, 1)])
    with pytest.raises(services.TooManyEntries):
        services.enter(period, user=user, organization_id=org, tier=1, preferences=[_slot(center.meeting_id, 2)])
    # The same person applying for themselves counts separately from their group.
    services.enter(period, user=user, tier=3, preferences=[_slot(center.meeting_id, 2)])
    with pytest.raises(services.BadPreferences):
        services.enter(period, user=user, tier=3, preferences=[_slot(center.meeting_id, d) for d in range(3)])
    with pytest.raises(services.BadPreferences):  # outside the period
        services.enter(period, user=user, tier=3, preferences=[_slot(center.meeting_id, 30)])
    with pytest.raises(services.BadPreferences):  # a room of another facility
        services.enter(period, user=user, tier=3, preferences=[_slot(make_center().meeting_id)])
    with pytest.raises(services.BadPreferences):
        services.enter(period, user=user, tier=3, preferences=[_slot(center.meeting_id)] * 2)
    db.session.commit()
    assert first.group_key == f"org:{org}"
    assert db.session.scalar(sa.select(sa.func.count(LotteryEntry.id))) == 3

    services.change_entry(first, preferences=[_slot(center.hall_id, 5), _slot(center.meeting_id, 5)])
    db.session.commit()
    db.session.expire_all()
    assert [(p.rank, p.room_id, p.day) for p in db.session.get(LotteryEntry, first.id).preferences] == [
        (1, center.hall_id, START + timedelta(days=5)), (2, center.meeting_id, START + timedelta(days=5))]


def test_no_entries_before_the_seed_is_committed(app_ctx):
    center = make_center()
    period = db.session.get(LotteryPeriod, _period(center))
    user = db.session.merge(make_user())
    with pytest.raises(services.NotOpen):
        services.enter(period, user=user, tier=1, preferences=[_slot(center.meeting_id)])


def _draw_scenario(app_ctx):
    """Eight people over the hall, its halves and the meeting room on one evening, drawn."""
    center, period, draw = _setup(app_ctx, entries_per_group=1, max_preferences=3)
    hall, a, b, meeting = (_slot(r, 3, "evening") for r in (center.hall_id, center.hall_a_id, center.hall_b_id,
                                                             center.meeting_id))
    wishes = [[hall, meeting], [a, b], [b, a], [hall], [meeting, a], [a, hall, b], [b], [meeting]]
    for n, prefs in enumerate(wishes):
        services.enter(period, user=db.session.merge(make_user()), tier=1 + n % 2, preferences=prefs)
    db.session.commit()
    result = services.run_draw(period, available=[hall, a, b, meeting])
    db.session.commit()
    return center, period, draw, result, (hall, a, b, meeting)


def test_the_draw_runs_once_stores_its_inputs_and_never_allocates_twice(app_ctx):
    center, period, draw, result, (hall, a, b, meeting) = _draw_scenario(app_ctx)
    awards = services.published_awards(period.id)
    assert awards == result.awards
    won = list(awards.values())
    assert len(won) == len(set(won))
    assert not (hall in won and (a in won or b in won)), won  # the whole hall excludes its halves
    assert meeting in won
    assert draw.is_drawn and draw.result_digest == result.digest()
    assert sorted(draw.available_slots) == sorted(s.token() for s in (hall, a, b, meeting))
    assert [hall.token(), a.token()] in draw.overlapping_slots and [a.token(), hall.token()] in draw.overlapping_slots
    with pytest.raises(services.AlreadyDrawn):
        services.run_draw(period, available=[hall])
    with pytest.raises(services.NotOpen):
        services.enter(period, user=db.session.merge(make_user()), tier=1, preferences=[meeting])
    assert services.verify_period(period).ok


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["lottery", "verify", *map(str, args)])


def test_cli_verify_reproduces_the_draw_and_catches_tampering(app, app_ctx):
    center, period, draw, result, _ = _draw_scenario(app_ctx)
    period_id, seed = period.id, draw.seed
    db.session.commit()

    ok = _cli(app, period_id)
    assert ok.exit_code == 0, ok.output
    assert f"seed: {seed}" in ok.output and "seed matches commitment: yes" in ok.output
    assert "OK: the draw reproduces" in ok.output
    assert f"{len(result.awards)} won" in ok.output

    wrong_seed = _cli(app, period_id, "--seed", "0" * 64)
    assert wrong_seed.exit_code == 1 and "seed matches commitment: NO" in wrong_seed.output

    # Staff quietly give a losing entry the slot of a winner: verify names both entries.
    loser_id = int(result.losers()[0])
    winner_id, slot = next(iter(result.awards.items()))
    # The seed is random, so the loser may already list that slot: then only its won_rank is forged (rewriting
    # its first preference would repeat a (room, day, 時間区分) the entry has, which the UNIQUE refuses).
    loser = db.session.get(LotteryEntry, loser_id)
    winner = db.session.get(LotteryEntry, int(winner_id))
    winner.won_rank = None
    listed = [p.rank for p in loser.preferences if (p.room_id, p.day, p.slot_code) == tuple(slot)]
    if listed:
        loser.won_rank = listed[0]
    else:
        loser.preferences[0].room_id, loser.preferences[0].day, loser.preferences[0].slot_code = slot
        loser.won_rank = 1
    db.session.commit()
    tampered = _cli(app, period_id)
    assert tampered.exit_code == 1
    assert "MISMATCH" in tampered.output
    assert f"entry {winner_id}: stored -, recomputed" in tampered.output


def test_cli_verify_refuses_unknown_and_undrawn_periods(app, app_ctx):
    center, period, _ = _setup(app_ctx)
    period_id = period.id
    db.session.commit()
    assert "has not been drawn" in _cli(app, period_id).output
    missing = _cli(app, 999999)
    assert missing.exit_code == 1 and "no lottery period 999999" in missing.output


def test_concurrent_entries_of_one_group_never_exceed_the_limit(app):
    center = make_center()
    user = make_user()
    with app.app_context():
        period_id = _period(center)
        services.commit_seed(db.session.get(LotteryPeriod, period_id), entries_per_group=1, max_preferences=1)
        db.session.commit()

    def worker(n):
        try:
            services.enter(db.session.get(LotteryPeriod, period_id), user=db.session.merge(user), tier=1,
                           preferences=[_slot(center.meeting_id, n)])
            db.session.commit()
            return "entered"
        except services.TooManyEntries:
            db.session.rollback()
            return "refused"

    outcomes, errors = at_once_in_app(app, [partial(worker, n) for n in range(4)], timeout=60)
    assert sorted(outcomes) == ["entered", "refused", "refused", "refused"], errors
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LotteryEntry.id))) == 1
        assert db.session.scalar(sa.select(sa.func.count(LotteryDraw.id))) == 1


# --- free lottery slots from the grid, the draw CLI, result e-mails --------------------------------------


def test_lottery_slots_are_the_periods_cells_minus_closures_and_bookings(app_ctx):
    from app.bookings import services as booking_services
    from app.core.time import today_tokyo
    from app.facilities.models import UserCategory
    from tests.facilities.factories import add_closure

    center = make_center()
    first = today_tokyo() + timedelta(days=20)
    user = db.session.merge(make_user())
    for room_id, code in ((center.meeting_id, "morning"), (center.hall_a_id, "afternoon")):
        booking_services.book_slots(user=user, room_id=room_id, day=first + timedelta(days=1),
                                    unit_keys=[f"s{center.slot_ids[code]}"], attendees=5,
                                    category=UserCategory.RESIDENT, purpose="行政使用")
        db.session.commit()
    add_closure(center.facility_id, first + timedelta(days=2), first + timedelta(days=3), room_id=center.meeting_id)
    period = LotteryPeriod(facility_id=center.facility_id, start_date=first, end_date=first + timedelta(days=3))
    db.session.add(period)
    db.session.commit()

    slots = set(services.lottery_slots(period))
    # 4 rooms let by slot (the hourly studio is not in lotteries) x 3 days x 3 slots = 36, minus the booked
    # meeting morning, the booked half's afternoon (and so the whole hall's), the closed meeting room's day.
    assert len(slots) == 36 - 1 - 2 - 3
    day2 = first + timedelta(days=1)
    assert SlotKey(center.meeting_id, day2, "morning") not in slots
    assert SlotKey(center.hall_id, day2, "afternoon") not in slots
    assert SlotKey(center.hall_b_id, day2, "afternoon") in slots
    assert not any(s.room_id == center.studio_id for s in slots)
    assert not any(s.room_id == center.meeting_id and s.day == first + timedelta(days=2) for s in slots)

    one_room = LotteryPeriod(facility_id=center.facility_id, room_id=center.meeting_id, start_date=first,
                             end_date=first + timedelta(days=1))
    db.session.add(one_room)
    db.session.commit()
    assert sorted(services.lottery_slots(one_room)) == [SlotKey(center.meeting_id, first, c)
                                                         for c in ("afternoon", "evening", "morning")]


def test_cli_commit_draw_and_result_mails(app, outbox):
    from app.core.mail import send_pending

    center = make_center()
    winner, loser = make_user(language="ja"), make_user(language="en")
    with app.app_context():
        period = LotteryPeriod(facility_id=center.facility_id, room_id=center.meeting_id, start_date=START,
                               end_date=START + timedelta(days=1))
        db.session.add(period)
        db.session.commit()
        period_id = period.id
    runner = app.test_cli_runner()
    committed = runner.invoke(args=["lottery", "commit", str(period_id), "--entries-per-group", "1",
                                    "--max-preferences", "2"])
    assert committed.exit_code == 0, committed.output
    with app.app_context():
        draw = db.session.scalars(sa.select(LotteryDraw)).one()
        assert f"publish this seed commitment (SHA-256): {draw.seed_commitment}" in committed.output
        period = db.session.get(LotteryPeriod, period_id)
        evening = _slot(center.meeting_id, 0, "evening")
        services.enter(period, user=db.session.merge(winner), tier=1, preferences=[evening])
        services.enter(period, user=db.session.merge(loser), tier=2, preferences=[evening])
        db.session.commit()
    again = runner.invoke(args=["lottery", "commit", str(period_id), "--entries-per-group", "1",
                                "--max-preferences", "2"])
    assert again.exit_code == 1 and "すでに準備" in again.output

    drawn = runner.invoke(args=["lottery", "draw", str(period_id)])
    assert drawn.exit_code == 0, drawn.output
    assert "2 entries, 3 slots, 1 won" in drawn.output
    with app.app_context():
        draw = db.session.scalars(sa.select(LotteryDraw)).one()
        seed, seed_commitment = draw.seed, draw.seed_commitment
        db.session.rollback()  # end the read: on SQLite it would hold the lock send_pending needs
        send_pending()
    assert f"seed (publish now): {seed}" in drawn.output
    by_recipient = {m["To"]: m.get_content() for m in outbox}
    assert set(by_recipient) == {winner.email, loser.email}
    assert "当選しました" in by_recipient[winner.email] and "第1希望" in by_recipient[winner.email]
    assert seed in by_recipient[winner.email] and seed_commitment in by_recipient[loser.email]
    assert seed in by_recipient[loser.email] and "第1希望" not in by_recipient[loser.email]
    twice = runner.invoke(args=["lottery", "draw", str(period_id)])
    assert twice.exit_code == 1 and "すでに行われました" in twice.output
    assert runner.invoke(args=["lottery", "verify", str(period_id)]).exit_code == 0


def test_export_is_a_public_record_that_re_runs_without_the_app(app, app_ctx):
    import json

    from app.lottery.draw import verify_document

    center, period, draw, result, _ = _draw_scenario(app_ctx)
    document = services.export_period(period)
    assert verify_document(document).ok
    assert document["seed"] == draw.seed and len(document["entries"]) == 8
    assert not any(e["group"].startswith(("org:", "user:")) for e in document["entries"])
    period_id = period.id
    db.session.commit()
    exported = app.test_cli_runner().invoke(args=["lottery", "export", str(period_id)])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output) == json.loads(json.dumps(document))


def test_the_draw_due_job_draws_committed_periods_on_their_draw_date(app_ctx):
    from app.core.jobs import run_due
    from app.core.time import today_tokyo, utcnow

    center = make_center()
    today = today_tokyo()
    periods = {}
    for name, draw_date, committed in (("due", today, True), ("late", today - timedelta(days=2), True),
                                       ("future", today + timedelta(days=1), True), ("no seed", today, False)):
        period = LotteryPeriod(facility_id=center.facility_id, start_date=today + timedelta(days=60),
                               end_date=today + timedelta(days=61), draw_date=draw_date)
        db.session.add(period)
        db.session.flush()
        if committed:
            services.commit_seed(period, entries_per_group=1, max_preferences=1)
        periods[name] = period.id
    db.session.commit()

    assert services.draw_due_periods(now=utcnow()) == 2
    db.session.commit()
    drawn = set(db.session.scalars(sa.select(LotteryDraw.period_id).where(LotteryDraw.drawn_at.is_not(None))))
    assert drawn == {periods["due"], periods["late"]}
    assert services.draw_due_periods(now=utcnow()) == 0  # drawn once only
    db.session.rollback()
    outcomes = run_due(only={"lottery.draw-due"}, now=utcnow().replace(hour=3))  # 12:00 in Tokyo
    assert [(o.job, o.status, o.result) for o in outcomes] == [("lottery.draw-due", "succeeded", "0")]
