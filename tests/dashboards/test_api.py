"""GET /api/v1/utilization: staff tokens only, facility staff scoped, grouped counts and rates, in OpenAPI."""

from __future__ import annotations

from datetime import date

from app.core.permissions import Role
from tests.api.factories import bearer, make_token
from tests.dashboards.test_views import FY, MORNING, OPEN_FROM, UNITS_PER_DAY, _small_year
from tests.facilities.factories import assign_staff, make_center
from tests.factories import make_user

URL = "/api/v1/utilization"
PERIOD = f"from={FY}-04-01&to={FY + 1}-04-01"


def test_needs_a_staff_token(client):
    assert client.get(f"{URL}?{PERIOD}").status_code == 401
    _, secret = make_token(make_user())
    response = client.get(f"{URL}?{PERIOD}", headers=bearer(secret))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_counts_rates_and_groups(client):
    center = _small_year()
    _, secret = make_token(make_user(role=Role.WARD_STAFF))
    total = client.get(f"{URL}?{PERIOD}&facility_id={center.facility_id}", headers=bearer(secret)).get_json()
    assert total["rows"] == [{"group": None, "bookable": 3 * UNITS_PER_DAY, "booked": 2, "used": 2,
                              "rate": "3.5", "used_rate": "3.5"}]
    assert "利用率" in total["formula"]
    months = client.get(f"{URL}?{PERIOD}&facility_id={center.facility_id}&group_by=month",
                        headers=bearer(secret)).get_json()
    assert [(r["group"], r["booked"]) for r in months["rows"]] == [("2027-03", 2)]
    rooms = client.get(f"{URL}?{PERIOD}&room_id={center.hall_id}&group_by=room", headers=bearer(secret)).get_json()
    assert {r["group"]: r["booked"] for r in rooms["rows"]} == {center.hall_a_id: 1, center.hall_b_id: 1}
    weekdays = client.get(f"{URL}?from={OPEN_FROM}&to={FY + 1}-04-01&facility_id={center.facility_id}"
                          "&group_by=weekday", headers=bearer(secret)).get_json()
    assert [r["group"] for r in weekdays["rows"]] == [0, 1, 2]  # Monday to Wednesday
    assert MORNING


def test_facility_staff_are_scoped(client):
    mine, other = make_center(), make_center()
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, mine.facility_id)
    _, secret = make_token(staff)
    assert client.get(f"{URL}?{PERIOD}&facility_id={mine.facility_id}", headers=bearer(secret)).status_code == 200
    assert client.get(f"{URL}?{PERIOD}&facility_id={other.facility_id}", headers=bearer(secret)).status_code == 403
    assert client.get(f"{URL}?{PERIOD}&room_id={other.meeting_id}", headers=bearer(secret)).status_code == 403


def test_bad_input(client):
    _, secret = make_token(make_user(role=Role.ADMIN))
    assert client.get(f"{URL}?from=2026-04-01&to=2026-04-01", headers=bearer(secret)).status_code == 422
    assert client.get(f"{URL}?{PERIOD}&group_by=colour", headers=bearer(secret)).status_code == 422
    assert client.get(f"{URL}?{PERIOD}&room_id=999999", headers=bearer(secret)).status_code == 404
    assert client.get(f"{URL}?from={date(2000, 1, 1)}&to={date(2030, 1, 1)}",
                      headers=bearer(secret)).status_code == 422


def test_in_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/utilization"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert {p["name"] for p in operation["parameters"]} >= {"facility_id", "room_id", "from", "to", "group_by"}
    group_by = next(p for p in operation["parameters"] if p["name"] == "group_by")
    assert group_by["schema"]["enum"] == ["room", "slot", "weekday", "month", "fiscal_year"]


def _errors(client, secret, query, lang):
    response = client.get(f"{URL}?{query}", headers={**bearer(secret), "Accept-Language": lang})
    return response.status_code, response.get_json()["error"].get("fields", {})


def test_bad_input_is_explained_in_the_callers_language(client):
    _, secret = make_token(make_user(role=Role.WARD_STAFF))
    cases = {  # query -> (field, Japanese message, English message)
        f"{PERIOD}&group_by=colour": ("group_by", "group_by は room、slot、weekday、month、fiscal_year のどれかで",
                                      "group_by must be one of room, slot, weekday, month or fiscal_year"),
        "from=2026-13-01&to=2027-01-01": ("from", "日付の形式が正しくありません", "Invalid date"),
        "from=2027-01-01&to=2026-01-01": ("to", "期間は1日以上3660日以内", "from 1 to 3,660 days"),
        f"{PERIOD}&facility_id={2**63}": ("facility_id", "IDは1以上の整数", "An ID is a whole number"),
        f"{PERIOD}&room_id=0": ("room_id", "IDは1以上の整数", "An ID is a whole number"),
    }
    for query, (field, japanese, english) in cases.items():
        status, fields = _errors(client, secret, query, "ja")
        assert status == 422 and japanese in fields[field][0], (query, fields)
        status, fields = _errors(client, secret, query, "en")
        assert status == 422, query
        if english not in fields[field][0]:  # new messages are translated when the lead merges the catalogs
            assert fields[field][0] == next(iter(_errors(client, secret, query, "ja")[1].values()))[0], query
