"""Public facility pages: list, facility, the 空き状況 grid (no login, no names), and its query count."""

from __future__ import annotations

import re
from datetime import timedelta

from app.bookings import services
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import UserCategory
from tests.facilities.factories import add_closure, add_lottery, make_center
from tests.factories import app_context, make_user, recorded_statements


def _book(user_id, room_id, day, keys, purpose="秘密の会合"):
    from app.accounts.models import User

    with app_context():
        services.book_slots(user=db.session.get(User, user_id), room_id=room_id, day=day, unit_keys=keys,
                            purpose=purpose, attendees=5, category=UserCategory.RESIDENT)
        db.session.commit()


def test_list_and_facility_pages_are_public(client):
    c = make_center(name="赤坂区民センター")
    page = client.get("/facilities/").get_data(as_text=True)
    assert "赤坂区民センター" in page
    assert client.get("/facilities/?district=akasaka").status_code == 200
    assert "赤坂区民センター" not in client.get("/facilities/?district=shiba").get_data(as_text=True)
    assert client.get("/facilities/?district=nonsense").status_code == 200
    facility = client.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
    assert "ホールA" in facility and "午前" in facility and "09:00" in facility
    assert client.get("/facilities/999999").status_code == 404


def test_grid_shows_symbols_with_text_and_never_who_booked(client):
    c = make_center()
    user = make_user(display_name="予約した人の名前")
    start = today_tokyo() + timedelta(days=7)
    _book(user.id, c.hall_a_id, start, [f"s{c.slot_ids['morning']}"])
    _book(user.id, c.studio_id, start, [f"s{c.slot_ids['morning']}h540"])  # one hour of three: △
    add_closure(c.facility_id, start + timedelta(days=1), start + timedelta(days=2))
    add_lottery(c.facility_id, start + timedelta(days=3), start + timedelta(days=4))
    response = client.get(f"/facilities/{c.facility_id}/availability?start={start.isoformat()}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for symbol, text in (("○", "空き"), ("×", "予約済み"), ("休", "休館・利用不可"), ("抽", "抽選受付中"),
                         ("△", "残りわずか・申込中")):
        assert symbol in page and text in page
    assert "予約した人の名前" not in page and "秘密の会合" not in page
    assert page.count('class="visually-hidden">予約済み') >= 2  # the half and the whole hall


def test_grid_bad_start_falls_back_to_today_with_a_message(client):
    c = make_center()
    response = client.get(f"/facilities/{c.facility_id}/availability?start=2026-13-45")
    assert response.status_code == 200
    assert "日付の形が正しくありません" in response.get_data(as_text=True)
    assert client.get(f"/facilities/{c.facility_id}/availability?start=1900-01-01").status_code == 200


def _count_month_grid_queries(client, app, facility_id, start):
    with recorded_statements(app) as statements:
        response = client.get(f"/facilities/{facility_id}/availability?view=month&start={start.isoformat()}")
    assert response.status_code == 200
    return [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]


def test_month_grid_query_count_does_not_grow_with_data(client, app):
    c = make_center()
    start = (today_tokyo() + timedelta(days=32)).replace(day=1)
    empty = _count_month_grid_queries(client, app, c.facility_id, start)
    users = [make_user() for _ in range(3)]
    for i in range(12):
        day = start + timedelta(days=i)
        _book(users[i % 3].id, [c.hall_id, c.meeting_id, c.hall_b_id][i % 3], day, [f"s{c.slot_ids['evening']}"])
        add_closure(c.facility_id, day + timedelta(days=15), day + timedelta(days=16))
    full = _count_month_grid_queries(client, app, c.facility_id, start)
    assert len(full) == len(empty)
    assert len(full) <= 5, full


def test_for_a_headcount_the_rooms_that_fit_it_best_come_first(client):
    """10 people: the meeting rooms (20) before the hall's halves (60) and the whole hall (120), across facilities;
    without a headcount the facility order stays."""
    make_center(name="並び順センターA")
    make_center(name="並び順センターB")
    day = (today_tokyo() + timedelta(days=9)).isoformat()
    page = client.get(f"/facilities/search?day={day}&capacity=10").get_data(as_text=True)
    found = re.findall(r"並び順センター[AB] (\S+?)</a>", page)
    assert found[:2] == ["会議室1", "会議室1"] and found[-2:] == ["ホール", "ホール"], found
    unsorted = re.findall(r"並び順センター([AB]) ", client.get(f"/facilities/search?day={day}").get_data(as_text=True))
    assert unsorted == sorted(unsorted)  # all of A, then all of B


def test_find_a_free_room_across_facilities(client, app):
    a = make_center(name="検索センターA")
    b = make_center(name="検索センターB")
    user = make_user()
    day = today_tokyo() + timedelta(days=9)
    _book(user.id, a.meeting_id, day, [f"s{a.slot_ids['morning']}"])
    add_closure(b.facility_id, day, day + timedelta(days=1))
    page = client.get(f"/facilities/search?day={day.isoformat()}&start=540&capacity=15").get_data(as_text=True)
    assert "検索センターA ホール" in page and "検索センターA 会議室1" not in page  # taken in the morning
    assert "検索センターB" not in page  # closed that day
    assert "音楽スタジオ" not in page  # 8 people only
    afternoon = client.get(f"/facilities/search?day={day.isoformat()}&start=780").get_data(as_text=True)
    assert "検索センターA 会議室1" in afternoon
    bad = client.get("/facilities/search?day=tomorrow&capacity=many")
    assert bad.status_code == 200 and "日付の形が正しくありません" in bad.get_data(as_text=True)

    def count(url):
        with recorded_statements(app) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    before = count(f"/facilities/search?day={day.isoformat()}")
    make_center(name="検索センターC")
    _book(user.id, b.hall_id, day + timedelta(days=1), [f"s{b.slot_ids['evening']}"])
    assert count(f"/facilities/search?day={day.isoformat()}") == before


def test_grid_filters_rooms_by_capacity_and_kind(client):
    c = make_center()
    base = f"/facilities/{c.facility_id}/availability"
    big = client.get(f"{base}?capacity=50").get_data(as_text=True)
    assert "ホールA" in big and "会議室1" not in big and "音楽スタジオ" not in big
    music = client.get(f"{base}?kind=music&capacity=abc").get_data(as_text=True)
    assert "音楽スタジオ" in music and "ホールA" not in music


def test_facility_page_in_each_language_with_barrier_free_facts(client):
    from app.core.i18n import LANGUAGE_COOKIE
    from app.facilities.models import Facility, Room

    c = make_center(name="高輪区民センター", has_elevator=True, has_parking=False, has_hearing_loop=None,
                    name_en="Takanawa Community Center", notes_en="Please bring indoor shoes.",
                    notes_ja="上履きをお持ちください。")
    with app_context():
        db.session.get(Facility, c.facility_id).name_easy = "たかなわ くみん センター"
        db.session.get(Room, c.meeting_id).name_en = "Meeting Room 1"
        db.session.commit()
    page = client.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
    assert "高輪区民センター" in page and "上履きをお持ちください" in page
    barrier = page.split("バリアフリー", 1)[1]
    assert "エレベーター</dt><dd>あり" in barrier and "駐車場</dt><dd>なし" in barrier
    assert "ヒアリングループ</dt><dd>不明" in barrier  # unknown is said, never guessed
    client.set_cookie(LANGUAGE_COOKIE, "en")
    english = client.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
    assert "Takanawa Community Center" in english and "Please bring indoor shoes." in english
    assert "Meeting Room 1" in english and "高輪区民センター" not in english
    client.set_cookie(LANGUAGE_COOKIE, "ja-easy")
    assert "たかなわ くみん センター" in client.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
