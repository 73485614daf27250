"""One truth: the plan's two booking figures (区民センター利用率, 「交流の間」利用件数) of a fiscal year are
the same on the utilization dashboard, the indicator page, the CSV export and the API, so far and booked ahead
apart."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

from app.bookings.models import BookingState
from app.core.permissions import Role
from app.core.time import FiscalYear, fiscal_year, today_tokyo
from app.extensions import db
from app.facilities.models import ClosureKind, Facility, FacilityKind, Room
from app.indicators import services
from app.utilization import figures
from tests.api.factories import make_token
from tests.facilities.factories import add_closure, make_center
from tests.factories import app_context, login, make_user
from tests.utilization.factories import add_booking

MORNING, AFTERNOON, EVENING = (9 * 60, 12 * 60), (13 * 60, 17 * 60), (18 * 60, 21 * 60 + 30)
PAST = 2025  # a whole fiscal year (令和7年度) behind us


def _koryu_building():
    """A 伝統文化交流館 whose hall is 「交流の間」 (the catalog's room rule names it) and a meeting room beside it."""
    koryu = make_center(name="伝統文化交流館")
    with app_context():
        db.session.get(Facility, koryu.facility_id).kind = FacilityKind.TRADITIONAL_CULTURE
        db.session.get(Room, koryu.hall_id).name_ja = "交流の間"
        services.load_catalog()
        db.session.commit()
    return koryu


def _four_ways(client, year: int) -> dict[str, tuple]:
    """(区民センター利用率, 「交流の間」利用件数) of YEAR read from the dashboard, the indicator pages, the CSV and
    the API, as Decimals (None when shown as unknown)."""

    def number(text):
        return None if text in (None, "") else Decimal(text.replace(",", ""))

    html = client.get(f"/staff/utilization?fy={year}").get_data(as_text=True)
    dash_rate = re.search(r'id="center-rate">(?:([\d.]+)%|<span class="dash-unknown">)', html).group(1)
    dash_count = re.search(r'id="koryu-count">(?:([\d,]+)件|<span class="dash-unknown">)', html).group(1)
    page = {}
    for code, unit in (("P09-04-1", "%"), ("P09-04-2", "件")):
        detail = client.get(f"/staff/indicators/{code}").get_data(as_text=True)
        found = re.search(rf'id="year-value-{year}">(?:([\d.,]+){unit}|<span class="ind-unknown">)', detail)
        page[code] = found.group(1)
    body = client.get(f"/staff/utilization/export.csv?fy={year}").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    start = rows.index(["年度", "計画の指標", "値(年度途中は今日まで)", "集計した期間", "先の予約(今日より後)"])
    csv_rate, csv_count = rows[start + 1][2], rows[start + 2][2]
    api = {}
    for code in ("P09-04-1", "P09-04-2"):
        item = client.get(f"/api/v1/indicators/{code}").get_json()
        api[code] = next(v for v in item["yearly_values"] if v["fiscal_year"] == year)["value"]
    token = make_token(make_user(role=Role.WARD_STAFF))[1]
    year_api = client.get(f"/api/v1/utilization/fiscal-years/{year}",
                          headers={"Authorization": f"Bearer {token}"}).get_json()
    return {
        "utilization api": (number(year_api["center_rate"]["value"]), number(year_api["koryu_count"]["value"])),
        "dashboard": (number(dash_rate), number(dash_count)),
        "indicator page": (number(page["P09-04-1"]), number(page["P09-04-2"])),
        "csv": (number(csv_rate), number(csv_count)),
        "api": (number(api["P09-04-1"]), number(api["P09-04-2"])),
    }


def test_a_closed_year_is_the_same_on_dashboard_indicator_page_csv_and_api(client):
    center = make_center(name="赤坂区民センター")
    add_closure(center.facility_id, date(PAST, 4, 1), date(PAST + 1, 3, 30))  # open 3/30 and 3/31: 2 x 19 units
    # 行政使用 of the studio on 3/31 (its 10 hourly units): out of the denominator, 38 - 10 = 28 units
    add_closure(center.facility_id, date(PAST + 1, 3, 31), date(PAST + 1, 4, 1), room_id=center.studio_id,
                kind=ClosureKind.ADMINISTRATIVE)
    add_booking(center.hall_id, date(PAST + 1, 3, 30), [MORNING])  # the whole hall: its two halves, 2 units
    add_booking(center.meeting_id, date(PAST + 1, 3, 31), [MORNING])  # 1
    add_booking(center.meeting_id, date(PAST + 1, 3, 31), [AFTERNOON], state=BookingState.TENTATIVE)  # 仮予約: 1
    add_booking(center.meeting_id, date(PAST + 1, 3, 30), [EVENING], state=BookingState.REQUESTED)  # 申込中: not yet
    add_booking(center.meeting_id, date(PAST + 1, 3, 31), [EVENING], state=BookingState.CANCELLED)  # not a use
    koryu = _koryu_building()
    add_closure(koryu.facility_id, date(PAST, 4, 1), date(PAST + 1, 3, 30))
    add_booking(koryu.hall_id, date(PAST + 1, 3, 30), [MORNING])  # 交流の間: counts
    add_booking(koryu.hall_id, date(PAST + 1, 3, 31), [MORNING], state=BookingState.TENTATIVE)  # counts
    add_booking(koryu.hall_id, date(PAST + 1, 3, 31), [AFTERNOON], state=BookingState.REQUESTED)  # not yet
    add_booking(koryu.hall_id, date(PAST + 1, 3, 30), [AFTERNOON], state=BookingState.CANCELLED)  # not a use
    add_booking(koryu.meeting_id, date(PAST + 1, 3, 30), [MORNING])  # the building's other room: not 交流の間
    login(client, make_user(role=Role.WARD_STAFF).email)

    seen = _four_ways(client, PAST)
    expected = (Decimal("14.3"), Decimal(2))  # 4 / 28 = 14.29 %; two bookings of 交流の間
    assert seen == dict.fromkeys(seen, expected), seen
    body = client.get(f"/staff/utilization/export.csv?fy={PAST}").get_data().decode("utf-8-sig")
    assert "先の予約)も含みます" not in body  # a closed year: its rows are the whole year
    with app_context():  # the function itself, whatever page
        assert figures.center_rate(PAST).value == expected[0] and figures.koryu_count(PAST).value == 2
        assert figures.center_rate(PAST).through is None and figures.center_rate(PAST).ahead is None


def test_the_current_year_is_the_rate_so_far_with_bookings_ahead_apart(client):
    today = today_tokyo()
    year = fiscal_year(today)
    last_day = FiscalYear(year).end_day - timedelta(days=1)
    center = make_center(name="芝区民センター")
    koryu = _koryu_building()
    for building in (center, koryu):  # open today and on the last day of the year only
        add_closure(building.facility_id, FiscalYear(year).first_day, today)
        if today + timedelta(days=1) < last_day:
            add_closure(building.facility_id, today + timedelta(days=1), last_day)
    add_booking(center.meeting_id, today, [MORNING])  # so far: 1 of 19 units
    add_booking(koryu.hall_id, today, [MORNING])  # so far: 1 booking
    if today < last_day:
        add_booking(center.meeting_id, last_day, [MORNING])  # ahead
        add_booking(center.meeting_id, last_day, [AFTERNOON])
        add_booking(koryu.hall_id, last_day, [EVENING])
    login(client, make_user(role=Role.WARD_STAFF).email)

    seen = _four_ways(client, year)
    assert seen == dict.fromkeys(seen, (Decimal("5.3"), Decimal(1))), seen  # 1 / 19; the bookings ahead apart
    html = client.get(f"/staff/utilization?fy={year}").get_data(as_text=True)
    assert f"年度途中({today.month}月{today.day}日まで)" in html and "この数の定義" in html
    page = client.get("/staff/indicators/P09-04-1").get_data(as_text=True)
    assert f"年度途中({today.month}月{today.day}日まで)" in page
    body = client.get(f"/staff/utilization/export.csv?fy={year}").get_data().decode("utf-8-sig")
    assert f"年度途中({today.isoformat()}まで)" in body and "先の予約)も含みます" in body
    item = client.get("/api/v1/indicators/P09-04-1").get_json()
    current = next(v for v in item["yearly_values"] if v["fiscal_year"] == year)
    assert current["through"] == today.isoformat() and current["partial"] is True
    # The facility table counts the same days: this centre's rate so far, its bookings ahead apart.
    assert f'id="current-rate-{center.facility_id}">5.3%' in html
    if today < last_day:
        assert f'id="ahead-{center.facility_id}">10.5%' in html
        facility = client.get(f"/staff/utilization/facilities/{center.facility_id}?fy={year}").get_data(as_text=True)
        assert 'id="rate-1">5.3%' in facility and 'id="rate-ahead">10.5%' in facility
        assert 'id="center-rate-ahead">10.5%' in html  # 2 of the last day's 19 units
        assert 'id="koryu-count-ahead">1件' in html
        assert current["booked_ahead"] == "10.5"
        assert "先の予約: 10.5%" in page
