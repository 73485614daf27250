"""Lottery pages (both databases): staff open a period in the browser, applicants enter, change and withdraw
with clear messages, other groups' entries stay hidden (404), the public page shows the seed hash before the
draw and the seed and anonymous results after it, winners confirm into a booking, the grid shows 抽."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.bookings.models import Booking
from app.core.permissions import Role
from app.core.time import today_tokyo, utcnow
from app.extensions import db
from app.lottery import periods
from app.lottery import services as lottery_services
from app.lottery.models import ANY_OTHER, INDIVIDUAL, LotteryEntry, LotteryPeriod, LotteryTier
from app.organizations.models import OrganizationKind
from tests.facilities.factories import assign_staff, make_center, make_organization
from tests.factories import app_context, login, make_user, post_form, recorded_statements
from tests.lottery.factories import NEIGHBORHOOD, at, open_period, spec_for


def _month() -> date:
    today = today_tokyo()
    year, month = divmod(today.year * 12 + today.month - 1 + 5, 12)
    return date(year, month + 1, 1)


def _open(center, **over) -> int:
    today = today_tokyo()
    tiers = [periods.TierSpec([NEIGHBORHOOD], today - timedelta(days=1), today + timedelta(days=20)),
             periods.TierSpec([ANY_OTHER], today + timedelta(days=5), today + timedelta(days=20)),
             periods.TierSpec([INDIVIDUAL], today - timedelta(days=1), today + timedelta(days=20))]
    options = dict(tiers_from=today, closes=today + timedelta(days=20), draw=today + timedelta(days=30),
                   confirm=today + timedelta(days=40), leftovers=at(today + timedelta(days=45), 9), tiers=tiers, k=2)
    options.update(over)
    return open_period(center.facility_id, spec_for(_month(), **options))


def _officer(kind=OrganizationKind.NEIGHBORHOOD_ASSOCIATION):
    officer = make_user()
    return officer, make_organization(kind=kind, officer_id=officer.id)


def _prefs(*slots):
    data = {}
    for n, (room_id, day, code) in enumerate(slots, start=1):
        data.update({f"pref-{n}-room": str(room_id), f"pref-{n}-day": day.isoformat(), f"pref-{n}-slot": code})
    return data


def _entries():
    with app_context():
        return [(e.id, e.organization_id, e.tier, [(p.room_id, p.day, p.slot_code) for p in e.preferences])
                for e in db.session.scalars(sa.select(LotteryEntry).order_by(LotteryEntry.id))]


def _period_form(month: date, **over):
    today = today_tokyo()
    data = {
        "room_id": "", "month": month.strftime("%Y-%m"), "entries_per_group": "1", "max_preferences": "3",
        "allow_individuals": "y",
        "tiers-0-kinds": [NEIGHBORHOOD, "npo"], "tiers-0-opens_on": today.isoformat(),
        "tiers-0-closes_on": (today + timedelta(days=20)).isoformat(),
        "tiers-1-kinds": [ANY_OTHER], "tiers-1-opens_on": (today + timedelta(days=5)).isoformat(),
        "tiers-1-closes_on": (today + timedelta(days=20)).isoformat(),
        "draw_date": (today + timedelta(days=30)).isoformat(),
        "confirm_until_on": (today + timedelta(days=40)).isoformat(),
        "leftovers_open_at": f"{(today + timedelta(days=45)).isoformat()}T09:00",
    }
    data.update(over)
    return data


def test_facility_staff_open_a_period_for_their_facility_only(client):
    center, other = make_center(), make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, center.facility_id)
    login(client, staff.email)
    url = f"/lotteries/staff/{center.facility_id}/new"
    page = client.get(url)
    assert page.status_code == 200 and "優先順位1" in page.get_data(as_text=True)
    assert client.get(f"/lotteries/staff/{other.facility_id}/new").status_code == 403
    month = _month()
    done = post_form(client, url, _period_form(month))
    assert done.status_code == 303, done.get_data(as_text=True)
    with app_context():
        period = db.session.scalar(sa.select(LotteryPeriod))
        tiers = db.session.scalars(sa.select(LotteryTier).order_by(LotteryTier.rank)).all()
        assert (period.facility_id, period.start_date, period.allow_individuals) == (center.facility_id, month, True)
        assert [t.kinds for t in tiers] == [[NEIGHBORHOOD, "npo"], [ANY_OTHER]]
        period_id = period.id
    detail = client.get(f"/lotteries/staff/periods/{period_id}").get_data(as_text=True)
    assert "事前に公開した値" in detail
    # Entries are open: no draw button yet, and the page says from when a draw is possible.
    assert "いま抽選する" not in detail and "申込の受付が終わると抽選できます" in detail


def test_bad_period_input_is_shown_again_with_a_message_and_nothing_written(client):
    center = make_center()
    ward = make_user(role=Role.WARD_STAFF)  # ward staff manage every facility
    login(client, ward.email)
    url = f"/lotteries/staff/{center.facility_id}/new"
    today = today_tokyo()
    late_close = _period_form(_month(), **{"tiers-0-closes_on": (today + timedelta(days=31)).isoformat()})
    response = post_form(client, url, late_close)
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "抽選日の前日までに終えて" in text
    assert (today + timedelta(days=31)).isoformat() in text  # what was typed is kept
    no_kinds = _period_form(_month(), **{"tiers-0-kinds": []})
    response = post_form(client, url, no_kinds)
    assert response.status_code == 422 and "申込者の種類を選んでください" in response.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(LotteryPeriod.id))) == 0


def test_a_period_day_far_outside_the_calendar_is_a_message_not_a_500(client):
    """9999-12-31 overflowed the day after (a 500); 0001 the Tokyo/UTC conversion: both are a typo, refused."""
    center = make_center()
    login(client, make_user(role=Role.WARD_STAFF).email)
    url = f"/lotteries/staff/{center.facility_id}/new"
    for field, value in (("confirm_until_on", "9999-12-31"), ("draw_date", "0001-01-01"), ("month", "9999-12"),
                         ("tiers-0-closes_on", "9999-12-31"), ("leftovers_open_at", "0001-01-01T00:00"),
                         ("leftovers_open_at", "9999-12-31T23:59")):
        data = _period_form(_month())
        data[field] = value
        response = post_form(client, url, data)
        text = response.get_data(as_text=True)
        assert response.status_code == 422 and "2000年から10年先までの日付" in text, (field, value)
        assert value in text  # what was typed is kept
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(LotteryPeriod.id))) == 0


def test_an_officer_applies_changes_and_withdraws_with_clear_messages(client):
    center = make_center()
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    month = _month()
    url = f"/lotteries/{period_id}/apply"
    page = client.get(url).get_data(as_text=True)
    assert "第2希望" in page and "優先順位1" in page
    outside = post_form(client, url, {"applicant": str(org), **_prefs((center.hall_id, month - timedelta(days=1),
                                                                        "morning"))})
    assert outside.status_code == 422 and "対象の月ではありません" in outside.get_data(as_text=True)
    same = (center.hall_id, month, "morning")
    duplicate = post_form(client, url, {"applicant": str(org), **_prefs(same, same)})
    assert duplicate.status_code == 422 and "前の希望と同じです" in duplicate.get_data(as_text=True)
    three = post_form(client, url, {"applicant": str(org), **_prefs(same, (center.meeting_id, month, "morning"),
                                                                     (center.hall_id, month, "evening"))})
    assert three.status_code == 422 and "希望は2件まで" in three.get_data(as_text=True)
    half = post_form(client, url, {"applicant": str(org), "pref-1-room": str(center.hall_id), "pref-1-day": "",
                                   "pref-1-slot": "morning"})
    assert half.status_code == 422 and "すべて選んでください" in half.get_data(as_text=True)
    assert _entries() == []
    done = post_form(client, url, {"applicant": str(org), **_prefs(same)})
    assert done.status_code == 303
    [(entry_id, entry_org, tier, prefs)] = _entries()
    assert (entry_org, tier, prefs) == (org, 1, [same])
    entry_url = f"/lotteries/entries/{entry_id}"
    changed = post_form(client, entry_url, _prefs((center.meeting_id, month + timedelta(days=1), "evening"), same))
    assert changed.status_code == 303
    assert _entries()[0][3] == [(center.meeting_id, month + timedelta(days=1), "evening"), same]
    assert client.get("/lotteries/mine").get_data(as_text=True).count(entry_url) == 1
    gone = post_form(client, f"{entry_url}/withdraw", {}, page=entry_url)
    assert gone.status_code == 303 and _entries() == []


def test_odd_preference_fields_are_told_not_a_500(client):
    """A row number python cannot read ('²' passes isdigit) is ignored; a room id no column can hold is unknown."""
    center = make_center()
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    url = f"/lotteries/{period_id}/apply"
    month = _month()
    odd = post_form(client, url, {"applicant": str(org), "pref-²-room": str(center.hall_id)})
    assert odd.status_code == 422  # no complete preference
    for room in ("99999999999999999999", "9223372036854775808", "0", "-1"):
        huge = post_form(client, url, {"applicant": str(org), **_prefs((room, month, "morning"))})
        assert huge.status_code == 422, room
    for applicant in ("²", "abc"):  # neither a group's id nor "" (the officer themself)
        odd = post_form(client, url, {"applicant": applicant, **_prefs((center.hall_id, month, "morning"))})
        assert odd.status_code == 422 and "申込者を一覧から選んでください" in odd.get_data(as_text=True), applicant
    for applicant in ("99999999999999999999", "9223372036854775808"):  # an id of no group of the officer
        odd = post_form(client, url, {"applicant": applicant, **_prefs((center.hall_id, month, "morning"))})
        assert odd.status_code == 403 and "役員だけです" in odd.get_data(as_text=True), applicant
    assert _entries() == []


def test_a_tier_not_yet_open_and_an_unverified_group_are_told_why(client):
    center = make_center()
    period_id = _open(center)
    company, company_org = _officer(OrganizationKind.COMPANY)  # tier 2 opens in 5 days
    login(client, company.email)
    response = post_form(client, f"/lotteries/{period_id}/apply",
                         {"applicant": str(company_org), **_prefs((center.hall_id, _month(), "morning"))})
    assert response.status_code == 409 and "まだ受付前です" in response.get_data(as_text=True)
    assert _entries() == []


def test_another_groups_entry_is_not_found(client):
    center = make_center()
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    post_form(client, f"/lotteries/{period_id}/apply",
              {"applicant": str(org), **_prefs((center.hall_id, _month(), "morning"))})
    [(entry_id, *_)] = _entries()
    client.get("/account/logout")
    other, other_org = _officer()
    other_client = client.application.test_client()
    login(other_client, other.email)
    entry_url = f"/lotteries/entries/{entry_id}"
    assert other_client.get(entry_url).status_code == 404
    token_page = f"/lotteries/{period_id}/apply"
    for url, data in ((entry_url, _prefs((center.meeting_id, _month(), "morning"))), (f"{entry_url}/withdraw", {}),
                      (f"{entry_url}/confirm", {"purpose": "x", "attendees": "3", "category": "resident"}),
                      (f"{entry_url}/decline", {})):
        assert post_form(other_client, url, data, page=token_page).status_code == 404, url
    assert _entries()[0][3] == [(center.hall_id, _month(), "morning")]
    # Applying "as" a group one is not an officer of is refused too.
    forged = post_form(other_client, token_page, {"applicant": str(org), **_prefs((center.meeting_id, _month(),
                                                                                    "evening"))})
    assert forged.status_code == 403 and len(_entries()) == 1


def _draw_now(period_id: int) -> None:
    with app_context():
        period = db.session.get(LotteryPeriod, period_id)
        lottery_services.run_draw(period, available=lottery_services.lottery_slots(period))
        db.session.commit()


def test_public_page_hash_before_the_draw_seed_and_anonymous_results_after(client, outbox):
    center = make_center()
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    slot = (center.hall_id, _month(), "morning")
    post_form(client, f"/lotteries/{period_id}/apply", {"applicant": str(org), **_prefs(slot)})
    [(entry_id, *_)] = _entries()
    with app_context():
        from app.lottery.models import LotteryDraw
        from app.organizations.models import Organization

        draw = db.session.scalar(sa.select(LotteryDraw))
        commitment, seed = draw.seed_commitment, draw.seed
        org_name = db.session.get(Organization, org).name_ja
    anonymous = client.application.test_client()
    before = anonymous.get(f"/lotteries/{period_id}").get_data(as_text=True)
    assert commitment in before and seed not in before and "受付中" in before
    assert anonymous.get(f"/lotteries/{period_id}/record.json").status_code == 404
    _draw_now(period_id)
    after = anonymous.get(f"/lotteries/{period_id}").get_data(as_text=True)
    assert seed in after and commitment in after and "当選" in after and f">{entry_id}<" in after
    assert org_name not in after and officer.email not in after
    record = anonymous.get(f"/lotteries/{period_id}/record.json").get_json()
    assert record["seed"] == seed and record["entries"][0]["group"] == "g1"
    assert org_name not in str(record)


def test_a_winner_confirms_into_a_booking_in_the_browser(client):
    center = make_center(fee=1200)
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    day = _month() + timedelta(days=2)
    post_form(client, f"/lotteries/{period_id}/apply", {"applicant": str(org), **_prefs((center.meeting_id, day,
                                                                                         "afternoon"))})
    [(entry_id, *_)] = _entries()
    _draw_now(period_id)
    entry_url = f"/lotteries/entries/{entry_id}"
    page = client.get(entry_url).get_data(as_text=True)
    assert "利用を確定する" in page and "当選を辞退する" in page
    bad = post_form(client, f"{entry_url}/confirm", {"purpose": "", "attendees": "x", "category": "resident"},
                    page=entry_url)
    assert bad.status_code == 422 and "入力してください" in bad.get_data(as_text=True)
    done = post_form(client, f"{entry_url}/confirm", {"purpose": "町会の会議", "attendees": "15",
                                                      "category": "resident"}, page=entry_url)
    assert done.status_code == 303 and "/bookings/" in done.headers["Location"]
    with app_context():
        [booking] = db.session.scalars(sa.select(Booking)).all()
        assert (booking.room_id, booking.day, booking.organization_id, booking.fee_gross_yen) == (
            center.meeting_id, day, org, 1200)
        assert db.session.get(LotteryEntry, entry_id).booking_id == booking.id
    again = post_form(client, f"{entry_url}/confirm", {"purpose": "x", "attendees": "3", "category": "resident"},
                      page=f"/bookings/{booking.id}")
    assert again.status_code == 409
    # The grid still shows 抽 for the lottery month until the leftovers open.
    grid = client.get(f"/facilities/{center.facility_id}/availability?view=month&start={_month().isoformat()}")
    assert '<li class="avail avail-lottery">' in grid.get_data(as_text=True)


def test_the_grid_shows_lottery_cells_and_first_come_waits_for_the_announced_time(client):
    center = make_center()
    period_id = _open(center)
    url = f"/facilities/{center.facility_id}/availability?view=month&start={_month().isoformat()}"
    page = client.get(url).get_data(as_text=True)
    # Every cell of the month (4 rooms let by slot + the hourly studio, 3 slots a day) is 抽, none bookable.
    days = ((_month() + timedelta(days=32)).replace(day=1) - _month()).days
    assert page.count('<li class="avail avail-lottery">') == days * 5 * 3
    assert page.count('<li class="avail avail-free">') == 0
    with app_context():
        db.session.get(LotteryPeriod, period_id).leftovers_open_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert page.count('<li class="avail avail-lottery">') == 0
    assert page.count('<li class="avail avail-free">') == days * 5 * 3


def test_the_staff_draw_button_waits_for_the_windows_and_mails_every_entrant(client, outbox):
    center = make_center()
    period_id = _open(center)
    officer, org = _officer()
    login(client, officer.email)
    post_form(client, f"/lotteries/{period_id}/apply",
              {"applicant": str(org), **_prefs((center.hall_id, _month(), "morning"))})
    client.get("/account/logout")
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, center.facility_id)
    staff_client = client.application.test_client()
    login(staff_client, staff.email)
    page = f"/lotteries/staff/periods/{period_id}"
    refused = post_form(staff_client, f"{page}/draw", {}, page=page, follow_redirects=True)
    assert "受付中は抽選できません" in refused.get_data(as_text=True)
    with app_context():  # the windows close (moved into the past by hand)
        for tier in db.session.scalars(sa.select(LotteryTier)):
            tier.opens_at, tier.closes_at = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
        db.session.commit()
    outbox.clear()
    drawn = post_form(staff_client, f"{page}/draw", {}, page=page, follow_redirects=True)
    assert "1件が当選しました" in drawn.get_data(as_text=True)
    assert [m["To"] for m in outbox] == [officer.email]
    assert "/lotteries/entries/" in outbox[0].get_content()


def test_window_helpers_are_in_tokyo_days():
    assert at(date(2027, 4, 1), 0) == datetime.fromisoformat("2027-03-31T15:00:00+00:00")


def _statements(app, client, url: str) -> int:
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def _add_entries(period_id: int, center, n: int) -> None:
    from app.lottery.models import LotteryPreference

    with app_context():
        period = db.session.get(LotteryPeriod, period_id)
        for _ in range(n):
            user = make_user()
            entry = LotteryEntry(period_id=period_id, user_id=user.id, group_key=f"user:{user.id}", tier=1)
            entry.preferences = [LotteryPreference(rank=r, room_id=room, day=period.start_date + timedelta(days=r),
                                                   slot_code="evening")
                                 for r, room in enumerate((center.hall_id, center.meeting_id), start=1)]
            db.session.add(entry)
        db.session.commit()


def test_result_and_staff_pages_do_not_grow_with_entries(client):
    app = client.application
    small_center, large_center = make_center(), make_center()
    small, large = _open(small_center), _open(large_center)
    _add_entries(small, small_center, 2)
    _add_entries(large, large_center, 25)
    _draw_now(small)
    _draw_now(large)
    ward = make_user(role=Role.WARD_STAFF)
    login(client, ward.email)
    for url in ("/lotteries/{}", "/lotteries/staff/periods/{}"):
        assert _statements(app, client, url.format(small)) == _statements(app, client, url.format(large)), url


def test_the_entry_form_is_offered_only_while_the_entrants_window_is_open(client):
    center = make_center()
    today = today_tokyo()  # 町会 from yesterday; other groups (ANY_OTHER) only from in five days; no individuals
    period_id = _open(center, individuals=False, tiers=[
        periods.TierSpec([NEIGHBORHOOD], today - timedelta(days=1), today + timedelta(days=20)),
        periods.TierSpec([ANY_OTHER], today + timedelta(days=5), today + timedelta(days=20))])
    early, _npo = _officer(kind=OrganizationKind.NPO)
    login(client, early.email)
    page = client.get(f"/lotteries/{period_id}").get_data(as_text=True)
    assert f'href="/lotteries/{period_id}/apply"' not in page.split('<main id="main"', 1)[1]
    assert "まだ受付前です" in page
    response = client.get(f"/lotteries/{period_id}/apply")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/lotteries/{period_id}")
    assert "まだ受付前です" in client.get(f"/lotteries/{period_id}").get_data(as_text=True)  # the flash says when

    on_time, _org = _officer()
    other = client.application.test_client()
    login(other, on_time.email)
    assert f'href="/lotteries/{period_id}/apply"' in other.get(f"/lotteries/{period_id}").get_data(as_text=True)
    assert other.get(f"/lotteries/{period_id}/apply").status_code == 200


def test_the_draw_button_shows_once_every_window_has_closed(client):
    center = make_center()
    staff = make_user(role=Role.WARD_STAFF)
    today = today_tokyo()
    period_id = _open(center)
    login(client, staff.email)
    assert "いま抽選する" not in client.get(f"/lotteries/staff/periods/{period_id}").get_data(as_text=True)
    with app_context():  # the windows close
        for tier in db.session.scalars(sa.select(LotteryTier).where(LotteryTier.period_id == period_id)):
            tier.opens_at, tier.closes_at = at(today - timedelta(days=9)), at(today - timedelta(days=1))
        db.session.commit()
    assert "いま抽選する" in client.get(f"/lotteries/staff/periods/{period_id}").get_data(as_text=True)
