"""Unknown stays unknown: a fiscal year before Tsudoi holds data for a source is null (—, データなし, a gap in the
chart, an empty cell) on the pages, the chart, the exports and the API, never 0; the plan's printed values stay
the only values for those years."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

from app.core.permissions import Role
from app.indicators import cache
from app.utilization import figures
from tests.facilities.factories import add_closure, make_center
from tests.factories import app_context, login, make_user
from tests.participation.factories import ended
from tests.utilization.factories import add_booking

FIRST = 2025  # the fiscal year of the first booking: Tsudoi's bookings begin here


def _center_from(year: int):
    center = make_center(name="高輪区民センター")
    add_closure(center.facility_id, date(year, 4, 1), date(year + 1, 3, 30))  # open 3/30 and 3/31: 38 units
    add_booking(center.meeting_id, date(year + 1, 3, 30), [(9 * 60, 12 * 60)])  # 1 / 38 = 2.6 %
    return center


def _chart(html: str, chart_id: str = "chart-years") -> dict:
    return json.loads(re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', html,
                                re.S).group(1))


def test_years_before_the_first_booking_are_unknown_everywhere(client, staff_user):
    _center_from(FIRST)
    login(client, staff_user.email)
    item = client.get("/api/v1/indicators/P09-04-1").get_json()
    values = {v["fiscal_year"]: v["value"] for v in item["yearly_values"]}
    assert [values[y] for y in range(2020, FIRST)] == [None] * (FIRST - 2020)  # not "0.0"
    assert values[FIRST] == "2.6"
    page = client.get("/staff/indicators/P09-04-1").get_data(as_text=True)
    for year in range(2020, FIRST):
        assert f'id="year-value-{year}"><span class="ind-unknown">データなし</span>' in page
    assert 'id="printed-2020">55.6%' in page and 'id="printed-2023">76.8%' in page  # the plan's own values
    assert 'id="printed-2022">—' in page
    chart = _chart(page)
    labels = chart["labels"]
    actual, printed = chart["datasets"][0]["data"], chart["datasets"][1]["data"]
    by_year = dict(zip(range(2020, 2020 + len(labels)), actual, strict=True))
    assert [by_year[y] for y in range(2020, FIRST)] == [None] * (FIRST - 2020)  # gaps, not 0
    assert by_year[FIRST] == 2.6
    assert printed[0] == 55.6 and printed[3] == 76.8 and printed[1] is None
    html = client.get(f"/staff/utilization?fy={FIRST - 1}").get_data(as_text=True)
    assert re.search(r'id="center-rate"><span class="dash-unknown">', html)
    body = client.get(f"/staff/utilization/export.csv?fy={FIRST - 1}").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    figure_rows = [r for r in rows if len(r) == 5 and r[1] == "区民センター利用率(%)"]
    assert figure_rows == [[str(FIRST - 1), "区民センター利用率(%)", "", "", ""]]  # empty: unknown, not 0
    html = client.get(f"/staff/utilization?fy={FIRST}").get_data(as_text=True)
    facilities = _chart(html, "chart-facilities")["datasets"]
    assert facilities[0]["data"] == [2.6] and facilities[1]["data"] == [None]  # last year: a gap, not 0 %
    months = _chart(html, "chart-months")["datasets"][1]["data"]
    assert months == [None] * 12
    indicators_csv = client.get("/staff/indicators/export.csv").get_data(as_text=True)
    assert "区民センター利用率" in indicators_csv


def test_a_configured_first_year_makes_earlier_years_unknown(app, client, staff_user):
    from tests.indicators.test_sources import _event

    _center_from(FIRST)
    _event("tourism", ended(), 12)
    app.config["TSUDOI_FIRST_FISCAL_YEAR"] = FIRST + 1  # the ward began to use Tsudoi a year later
    cache.values.clear()
    try:
        with app_context():
            assert figures.center_rate(FIRST).value is None
        item = client.get("/api/v1/indicators/P09-04-1").get_json()
        assert {v["fiscal_year"]: v["value"] for v in item["yearly_values"]}[FIRST] is None
        item = client.get("/api/v1/indicators/P13-03-1").get_json()
        current = max(v["fiscal_year"] for v in item["yearly_values"])
        assert {v["fiscal_year"]: v["value"] for v in item["yearly_values"]}[current] == "12"
        login(client, make_user(role=Role.WARD_STAFF).email)
        html = client.get(f"/staff/utilization?fy={FIRST}").get_data(as_text=True)
        assert re.search(r'id="center-rate"><span class="dash-unknown">', html)
    finally:
        app.config.pop("TSUDOI_FIRST_FISCAL_YEAR")
        cache.values.clear()
    item = client.get("/api/v1/indicators/P09-04-1").get_json()
    assert {v["fiscal_year"]: v["value"] for v in item["yearly_values"]}[FIRST] == "2.6"
