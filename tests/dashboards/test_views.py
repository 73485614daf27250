"""Staff utilization pages: access by role and facility, the numbers on them, exports, and the query count."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from openpyxl import load_workbook

from app.bookings.models import BookingState
from app.core.permissions import Role
from app.core.time import fiscal_year, today_tokyo
from app.extensions import db
from app.facilities.models import Facility, FacilityKind, Room, UserCategory
from app.indicators import services as indicator_services
from tests.facilities.factories import add_closure, assign_staff, make_center, make_organization
from tests.factories import app_context, csrf_token, login, make_user, recorded_statements
from tests.utilization.factories import add_booking

FY = 2026
OPEN_FROM = date(2027, 3, 29)  # the facility is closed the whole fiscal year before this Monday
MORNING = (9 * 60, 12 * 60)
# Leaves: hall A, hall B, meeting room (3 slots each) + the hourly studio (3 + 4 + 3 whole hours) = 19 a day.
UNITS_PER_DAY = 19


def _small_year(year=FY, **options):
    """A centre open only on the last 3 days of fiscal YEAR (57 units) with 2 booked units (the hall's morning)."""
    open_from = OPEN_FROM.replace(year=year + 1)
    center = make_center(**options)
    add_closure(center.facility_id, date(year, 4, 1), open_from)
    add_booking(center.hall_id, open_from, [MORNING], state=BookingState.CONFIRMED, fee=4000, reduction=1000)
    add_booking(center.meeting_id, open_from, [MORNING], state=BookingState.REQUESTED)  # not counted
    add_booking(center.meeting_id, open_from + timedelta(days=1), [MORNING], state=BookingState.CANCELLED,
                late=True)
    return center


def _staff(role=Role.WARD_STAFF):
    user = make_user(role=role)
    return user


def test_pages_need_staff(client):
    center = make_center()
    assert client.get("/staff/utilization").status_code == 302  # to the login page
    resident = make_user()
    login(client, resident.email)
    assert 'href="/staff/utilization"' not in client.get("/").get_data(as_text=True)
    assert client.get("/staff/utilization").status_code == 403
    assert client.get(f"/staff/utilization/facilities/{center.facility_id}").status_code == 403
    assert client.get("/staff/utilization/export.csv").status_code == 403


def test_overview_shows_rates_and_targets(client):
    center = _small_year(FY - 1, name="集計テストセンター")  # a closed year (this one counts only days so far)
    staff = _staff()
    login(client, staff.email)
    response = client.get(f"/staff/utilization?fy={FY - 1}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "集計テストセンター" in html
    assert "82.9%" in html  # the plan's target beside the rate
    assert '<p class="dash-big" id="center-rate">3.5%</p>' in html  # 2 / 57
    assert "この数の定義" in html and "center-rate-ahead" not in html  # a closed year has nothing ahead
    months = html[html.index('id="overview-months"'):]
    assert '3.5% <span class="dash-sub">2/57</span>' in months  # March, beside last year's March (no data)
    assert "chart-facilities-data" in html and 'type="application/json"' in html
    assert "<script>" not in html  # no inline script (CSP)
    assert 'href="/staff/utilization">' in html  # the staff link in the header
    assert center.facility_id


def test_facility_page_heatmap_rooms_and_stats(client):
    center = _small_year(FY - 1)  # a closed year: its last three days
    staff = _staff()
    login(client, staff.email)
    html = client.get(f"/staff/utilization/facilities/{center.facility_id}?fy={FY - 1}").get_data(as_text=True)
    assert 'id="rate-1">3.5%' in html
    assert 'id="used-rate-1">3.5%' in html
    assert "dash-heatmap" in html and "heat-" in html
    assert "ホールA" in html and "音楽スタジオ" in html
    assert "2/6" in html  # Monday x 午前: halves A and B booked out of A, B, the meeting room, 3 studio hours
    stats = html[html.index('id="booking-stats"'):]
    assert "3,000円" in stats  # net fee of the confirmed booking (4,000 - 1,000 減免)
    room_html = client.get(
        f"/staff/utilization/facilities/{center.facility_id}?fy={FY - 1}&room_id={center.hall_id}"
    ).get_data(as_text=True)
    assert 'id="rate-1">11.1%' in room_html  # the hall = its two halves: 2 of 18 units (3 slots x 3 days)
    assert 'id="rate-ahead"' not in html  # a closed year has nothing ahead



def test_facility_staff_see_only_their_facilities(client):
    mine = make_center(name="担当センター")
    other = make_center(name="よそのセンター")
    staff = _staff(Role.FACILITY_STAFF)
    assign_staff(staff.id, mine.facility_id)
    login(client, staff.email)
    html = client.get(f"/staff/utilization?fy={FY}").get_data(as_text=True)
    assert "担当センター" in html and "よそのセンター" not in html
    assert client.get(f"/staff/utilization/facilities/{mine.facility_id}").status_code == 200
    assert client.get(f"/staff/utilization/facilities/{other.facility_id}").status_code == 403
    assert client.get(f"/staff/utilization/export.csv?facility_id={other.facility_id}").status_code == 403
    csv_text = client.get("/staff/utilization/export.csv").get_data().decode("utf-8-sig")
    assert "担当センター" in csv_text and "よそのセンター" not in csv_text


def test_room_of_another_facility_is_404(client):
    first, second = make_center(), make_center()
    login(client, _staff().email)
    url = f"/staff/utilization/facilities/{first.facility_id}?room_id={second.meeting_id}"
    assert client.get(url).status_code == 404


def test_csv_has_bom_and_neutralized_formulas(client):
    center = _small_year()
    with app_context():
        db.session.get(Room, center.meeting_id).name_ja = "=HYPERLINK(\"http://evil\")"
        db.session.commit()
    login(client, _staff().email)
    response = client.get(f"/staff/utilization/export.csv?fy={FY}&facility_id={center.facility_id}")
    body = response.get_data()
    assert response.mimetype == "text/csv"
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("年度,施設,部屋,月")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    assert "2027-03" in text


def test_xlsx_export(client):
    center = _small_year()
    with app_context():
        db.session.get(Facility, center.facility_id).name_ja = "=1+1センター"
        db.session.commit()
    login(client, _staff().email)
    response = client.get(f"/staff/utilization/export.xlsx?fy={FY}&facility_id={center.facility_id}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("年度", "施設", "部屋")
    march = [r for r in rows[1:] if r and r[3] == "2027-03"]
    assert sum(r[4] or 0 for r in march) == 3 * UNITS_PER_DAY
    assert sum(r[5] or 0 for r in march) == 2
    assert sum(r[7] or 0 for r in march) == 2  # used: no booking marked as a no-show
    assert rows[0][7:9] == ("実際に使われた枠数", "実利用率(%)")
    # The whole hall's booking: a row of the hall with its booking count; its units are on the halves' rows.
    (hall,) = [r for r in march if r[2] == "ホール"]
    assert hall[4:9] == (None, None, None, None, None) and hall[9:12] == (1, 0, 0)
    assert sum(r[9] for r in march) == 1  # the request and the cancellation are not bookings
    assert all(r[1] == "'=1+1センター" for r in march)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_no_shows_lower_the_used_rate(client):
    past, open_from = FY - 1, date(FY, 3, 29)  # a closed year: its last 3 days open (no-shows are in the past)
    center = make_center()
    add_closure(center.facility_id, date(past, 4, 1), open_from)
    add_booking(center.meeting_id, open_from, [MORNING])
    add_booking(center.meeting_id, open_from, [(13 * 60, 17 * 60)], no_show=True)
    login(client, _staff().email)
    html = client.get(f"/staff/utilization/facilities/{center.facility_id}?fy={past}").get_data(as_text=True)
    assert 'id="rate-1">3.5%' in html  # 2 / 57 booked
    assert 'id="used-rate-1">1.8%' in html  # 1 / 57 used: the afternoon was a no-show
    assert 'id="no-show-rate">50.0%' in html
    overview = client.get(f"/staff/utilization?fy={past}").get_data(as_text=True)
    assert f'id="used-rate-{center.facility_id}">1.8%' in overview
    assert re.search(rf'id="no-show-rate-{center.facility_id}">50.0%\s*<span class="dash-sub">1/2</span>', overview)
    assert "無断キャンセル率 = 無断キャンセルと記録された予約の件数 ÷ 利用件数" in overview  # its formula
    for kind in ("csv", "xlsx"):
        response = client.get(f"/staff/utilization/export.{kind}?fy={past}&facility_id={center.facility_id}")
        if kind == "csv":
            rows = [line.split(",") for line in response.get_data().decode("utf-8-sig").splitlines()]
            rows = [tuple(int(v) if v.isdigit() else v for v in row) for row in rows]
        else:
            rows = list(load_workbook(io.BytesIO(response.get_data())).active.iter_rows(values_only=True))
        assert rows[0][9:12] == ("利用件数", "無断キャンセル件数", "無断キャンセル率(%)"), kind
        (meeting,) = [r for r in rows[1:] if len(r) > 3 and r[3] == "2026-03" and r[9]]
        assert (meeting[9], meeting[10], float(meeting[11])) == (2, 1, 50.0), kind
        assert any(r and str(r[0]).startswith("無断キャンセル率 = ") for r in rows), kind


def test_overview_no_show_rate_per_facility_and_year(client):
    """The overview's no-show rate is each facility's own, of the year shown (not the year before)."""
    first, second = make_center(name="一つ目センター"), make_center(name="二つ目センター")
    add_booking(first.meeting_id, date(FY, 6, 1), [MORNING], no_show=True)
    add_booking(first.meeting_id, date(FY, 6, 2), [MORNING])
    add_booking(first.meeting_id, date(FY, 6, 3), [MORNING])
    add_booking(first.meeting_id, date(FY, 6, 4), [MORNING])
    add_booking(second.meeting_id, date(FY - 1, 6, 1), [MORNING], no_show=True)  # last year only
    add_booking(second.meeting_id, date(FY, 6, 1), [MORNING])
    login(client, _staff().email)
    html = client.get(f"/staff/utilization?fy={FY}").get_data(as_text=True)
    assert f'id="no-show-rate-{first.facility_id}">25.0%' in html
    assert f'id="no-show-rate-{second.facility_id}">0.0%' in html
    third = make_center()
    html = client.get(f"/staff/utilization?fy={FY}").get_data(as_text=True)
    assert re.search(rf'id="no-show-rate-{third.facility_id}"><span class="dash-unknown">', html)  # no bookings


def test_koryu_bookings_against_the_plans_350(client):
    """伝統文化交流館「交流の間」: bookings of that room (the indicator's room rule) this year and last against 350 件;
    the building's other rooms and the 区民センター apart."""
    koryu = make_center(name="伝統文化交流館")
    with app_context():
        db.session.get(Facility, koryu.facility_id).kind = FacilityKind.TRADITIONAL_CULTURE
        db.session.get(Room, koryu.hall_id).name_ja = "交流の間"
        indicator_services.load_catalog()  # seeds the room rule: the rooms named 交流の間 of a 伝統文化交流館
        db.session.commit()
    center = make_center(name="ふつうの区民センター")
    add_booking(koryu.hall_id, date(FY, 5, 1), [MORNING])
    add_booking(koryu.hall_id, date(FY, 5, 2), [MORNING], state=BookingState.TENTATIVE)
    add_booking(koryu.hall_id, date(FY, 5, 3), [MORNING], state=BookingState.CANCELLED)  # not a use
    add_booking(koryu.hall_id, date(FY, 5, 4), [MORNING], state=BookingState.REQUESTED)  # not yet
    add_booking(koryu.meeting_id, date(FY, 5, 5), [MORNING])  # another room of the building: not 交流の間
    add_booking(koryu.hall_id, date(FY - 1, 5, 1), [MORNING])  # last year
    add_booking(center.meeting_id, date(FY - 1, 5, 1), [MORNING])  # another kind of facility
    login(client, _staff().email)
    html = client.get(f"/staff/utilization?fy={FY}").get_data(as_text=True)
    assert '<p class="dash-big" id="koryu-count">2件</p>' in html
    card = html[html.index('id="koryu-count"'):]
    assert "目標 350件" in card and "令和7年度 1件" in card
    assert '伝統文化交流館 交流の間</p>' in card  # the room counted, named beside the number
    # the 交流館's bookings are not a centre's; the centre's only booking is last year's
    assert '<p class="dash-big" id="center-rate">0.0%</p>' in html
    client.post("/account/logout", data={"csrf_token": csrf_token(client)})
    staff = _staff(Role.FACILITY_STAFF)
    assign_staff(staff.id, center.facility_id)
    login(client, staff.email)
    html = client.get(f"/staff/utilization?fy={FY}").get_data(as_text=True)
    assert 'id="koryu-count"' not in html and "表示できる「交流の間」がありません" in html


def test_bad_page_input_is_a_4xx_never_a_500(client):
    center = make_center()
    login(client, _staff().email)
    base = f"/staff/utilization/facilities/{center.facility_id}"
    for url in ("/staff/utilization?fy=abc", "/staff/utilization?fy=99999", f"{base}?fy=-1",
                f"{base}?fy=<script>x</script>"):
        response = client.get(url)  # this fiscal year, with a notice that says why
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert "は選べる年度ではありません(平成12年度(2000年度)から令和82年度(2100年度)まで)。" in html, url
        assert f"年度({fiscal_year(today_tokyo())}年度)を表示しています。" in html, url
        assert "<script>x" not in html
    assert "選べる年度ではありません" not in client.get("/staff/utilization?fy=").get_data(as_text=True)
    assert 'value="2025"' in client.get("/staff/utilization?fy=２０２５").get_data(as_text=True)  # full-width digits
    for kind in ("csv", "xlsx"):  # a download has no page for the notice: a 400 that says it, not another year
        response = client.get(f"/staff/utilization/export.{kind}?fy=abc")
        assert response.status_code == 400
        assert "「abc」は選べる年度ではありません" in response.get_data(as_text=True)
    for url in (f"/staff/utilization/facilities/{2**63}", f"/staff/utilization/facilities/{2**31}",
                f"{base}?room_id=abc", f"{base}?room_id={2**63}", f"{base}?room_id=-3",
                f"/staff/utilization/export.csv?facility_id={2**63}", "/staff/utilization/export.xlsx?facility_id=x"):
        response = client.get(url)
        assert response.status_code == 404, url
    english = make_user(role=Role.WARD_STAFF, language="en")
    client.post("/account/logout", data={"csrf_token": csrf_token(client)})
    login(client, english.email)
    response = client.get(f"{base}?room_id={2**63}")
    assert response.status_code == 404
    assert re.search(r"[Nn]ot found", response.get_data(as_text=True))


def test_print_stylesheet_makes_an_a4_report(client):
    """The pages print on A4 without the site's header, footer and forms (the print button is on the page)."""
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()
    prints = css[css.index("@media print {\n  @page { size: A4"):]
    assert ".no-print" in prints.split("}\n}", 1)[0] and ".site-header" in prints.split("}\n}", 1)[0]
    center = make_center()
    login(client, _staff().email)
    for url in (f"/staff/utilization?fy={FY}", f"/staff/utilization/facilities/{center.facility_id}?fy={FY}"):
        html = client.get(url).get_data(as_text=True)
        assert "data-print" in html and 'class="dash-year-form no-print"' in html, url


def test_pages_read_the_same_numbers_from_the_rollup(app, client):
    year = FY - 1  # a closed year
    center = _small_year(year)
    login(client, _staff().email)
    pages = [f"/staff/utilization?fy={year}", f"/staff/utilization/facilities/{center.facility_id}?fy={year}",
             f"/staff/utilization/export.csv?fy={year}"]

    def read():  # the pages without their CSRF tokens (a new signature per request)
        return [re.sub(r'name="csrf_token" value="[^"]*"', "", client.get(url).get_data(as_text=True))
                for url in pages]

    live = read()
    result = app.test_cli_runner().invoke(args=["utilization", "rebuild", "--from", f"{year - 1}-04-01",
                                                "--to", f"{year + 1}-04-01"])
    assert result.exit_code == 0, result.output
    assert read() == live
    assert 'id="center-rate">3.5%' in live[0]
    add_booking(center.meeting_id, OPEN_FROM.replace(year=year + 1), [(13 * 60, 17 * 60)])  # kept current: 3 / 57
    assert '<p class="dash-big" id="center-rate">5.3%</p>' in client.get(pages[0]).get_data(as_text=True)


def test_user_mix_and_cancellations(app_ctx):
    from app.utilization.compute import booking_stats

    center = make_center()
    org = make_organization()
    day = date(FY, 6, 1)
    add_booking(center.meeting_id, day, [MORNING], organization_id=org)
    add_booking(center.meeting_id, day, [(13 * 60, 17 * 60)], state=BookingState.TENTATIVE)
    add_booking(center.hall_a_id, day, [MORNING], category=UserCategory.OUTSIDE)
    add_booking(center.hall_b_id, day, [MORNING], category=UserCategory.COMMERCIAL)
    add_booking(center.studio_id, day, [(600, 660)], state=BookingState.CANCELLED)
    add_booking(center.studio_id, day, [(660, 720)], state=BookingState.CANCELLED, late=True)
    (stats,) = booking_stats(start=date(FY, 4, 1), end=date(FY + 1, 4, 1), facility_ids=[center.facility_id])
    assert stats.bookings == 4
    assert stats.mix == {"resident_group": 1, "resident_individual": 1, "outside": 1, "commercial": 1}
    assert (stats.cancelled_early, stats.cancelled_late) == (1, 1)
    assert (stats.no_show, stats.no_show_rate) == (0, 0)


def _count_overview(app, client, year, url="/staff/utilization"):
    with recorded_statements(app) as statements:
        response = client.get(f"{url}?fy={year}")
    assert response.status_code == 200
    return len(statements)


def test_overview_query_count_does_not_grow(app, client):
    login(client, _staff().email)
    first = make_center()
    add_booking(first.meeting_id, date(FY - 1, 5, 1), [MORNING])  # both years known: no early "no data"
    small = _count_overview(app, client, FY)
    for _n in range(4):
        center = make_center()
        for d in range(6):
            add_booking(center.meeting_id, date(FY, 5, 1 + d), [MORNING])
            add_booking(center.hall_id, date(FY - 1, 5, 1 + d), [MORNING])
    larger = _count_overview(app, client, FY)
    assert small <= 24  # 3 for the tables, the rest for the plan's two figures of two years (so far, ahead)
    assert larger == small


def test_facility_page_query_count_does_not_grow(app, client):
    login(client, _staff().email)
    center = make_center()
    url = f"/staff/utilization/facilities/{center.facility_id}"
    small = _count_overview(app, client, FY, url)
    for d in range(10):
        add_booking(center.meeting_id, date(FY, 5, 1 + d), [MORNING], purpose=f"目的{d}")
        add_booking(center.studio_id, date(FY, 5, 1 + d), [(600, 660)])
    add_closure(center.facility_id, date(FY, 6, 1), date(FY, 6, 3))
    larger = _count_overview(app, client, FY, url)
    assert small <= 13  # 11 for the page (so far and booked ahead), 2 for the header's role menus
    assert larger == small


def test_lottery_demand(app_ctx):
    from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryPreference
    from app.utilization.compute import lottery_demand

    center = make_center()
    other = make_center()
    day = date(FY, 7, 1)
    period = LotteryPeriod(facility_id=center.facility_id, start_date=day, end_date=day + timedelta(days=30))
    db.session.add(period)
    db.session.flush()
    wishes = [  # (entry, rank, room, day offset, slot)
        (0, 1, center.meeting_id, 0, "morning"), (0, 2, center.meeting_id, 0, "evening"),
        (1, 1, center.meeting_id, 0, "morning"), (2, 1, center.hall_a_id, 3, "morning"),
        (2, 2, center.meeting_id, 0, "morning"),
    ]
    entries = [LotteryEntry(period_id=period.id, group_key=f"user:{n}", tier=1) for n in range(3)]
    db.session.add_all(entries)
    db.session.flush()
    for entry, rank, room, offset, slot in wishes:
        db.session.add(LotteryPreference(entry_id=entries[entry].id, rank=rank, room_id=room,
                                         day=day + timedelta(days=offset), slot_code=slot))
    db.session.flush()
    demand = lottery_demand(start=date(FY, 4, 1), end=date(FY + 1, 4, 1), facility_ids=[center.facility_id])
    assert (demand.entries, demand.preferences, demand.first_choices, demand.slots, demand.busiest) == (3, 5, 3, 3, 3)
    assert str(demand.per_slot) == "1.7"
    hall = lottery_demand(start=date(FY, 4, 1), end=date(FY + 1, 4, 1), room_ids=[center.hall_id])
    assert (hall.entries, hall.preferences, hall.slots) == (1, 1, 1)
    none = lottery_demand(start=date(FY, 4, 1), end=date(FY + 1, 4, 1), facility_ids=[other.facility_id])
    assert (none.entries, none.slots, none.per_slot) == (0, 0, None)
    db.session.rollback()


def test_pages_in_every_language_leak_no_markup(client):
    center = _small_year()
    for code in ("ja", "en", "ja-easy"):
        staff = make_user(role=Role.WARD_STAFF, language=code)
        login(client, staff.email)
        for url in (f"/staff/utilization?fy={FY}", f"/staff/utilization/facilities/{center.facility_id}?fy={FY}"):
            response = client.get(url)
            text = response.get_data(as_text=True)
            assert response.status_code == 200, (code, url)
            assert "&lt;ruby&gt;" not in text and "&lt;rt&gt;" not in text, (code, url)
            assert "<ruby>" not in text.split('type="application/json"', 1)[-1].split("</script>", 1)[0]
        client.post("/account/logout", data={"csrf_token": csrf_token(client)})


def test_xlsx_numbers_are_ascii_digits_only():
    """A name of circled or superscript digits passes str.isdigit() but is no number: it stays text, not a 500."""
    from app.dashboards.export import to_xlsx

    sheet = load_workbook(io.BytesIO(to_xlsx([("2026", "②", "³", "12.5")]))).active
    assert list(sheet.iter_rows(min_row=2, max_row=2, values_only=True))[0][:4] == (2026, "②", "³", 12.5)
