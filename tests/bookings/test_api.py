"""JSON API for facilities, availability and bookings: public reads, token-only writes, 409 with alternatives."""

from __future__ import annotations

from datetime import timedelta

from app.core.time import today_tokyo
from tests.api.factories import bearer, make_token
from tests.facilities.factories import add_closure, make_center
from tests.factories import make_user


def test_facilities_and_availability_are_public_and_anonymous(client):
    c = make_center(name="APIセンター")
    listing = client.get("/api/v1/facilities")
    assert listing.status_code == 200
    [facility] = listing.get_json()
    assert facility["name"] == "APIセンター" and len(facility["rooms"]) == 5 and len(facility["slots"]) == 3
    start = today_tokyo() + timedelta(days=3)
    add_closure(c.facility_id, start + timedelta(days=1), start + timedelta(days=2))
    base = f"/api/v1/rooms/{c.studio_id}/availability"
    days = client.get(f"{base}?from={start}&to={start + timedelta(days=2)}").get_json()
    assert [d["date"] for d in days] == [start.isoformat(), (start + timedelta(days=1)).isoformat()]
    assert [s["status"] for s in days[0]["slots"]] == ["free", "free", "free"]
    morning = c.slot_ids["morning"]
    assert [u["key"] for u in days[0]["slots"][0]["units"]] == [f"s{morning}h{m}" for m in (540, 600, 660)]
    assert {s["status"] for s in days[1]["slots"]} == {"closed"}
    bad = client.get(f"{base}?from={start}&to={start}")
    assert bad.status_code == 422
    missing = client.get(f"/api/v1/rooms/999999/availability?from={start}&to={start + timedelta(days=1)}")
    assert missing.status_code == 404


def test_book_conflict_list_and_cancel_with_tokens(client):
    c = make_center()
    alice, bob = make_user(), make_user()
    _, alice_secret = make_token(alice)
    _, bob_secret = make_token(bob)
    day = (today_tokyo() + timedelta(days=12)).isoformat()
    body = {"room_id": c.hall_a_id, "day": day, "units": [f"s{c.slot_ids['evening']}"], "purpose": "API予約",
            "attendees": 10}
    assert client.post("/api/v1/bookings", json=body).status_code == 401
    created = client.post("/api/v1/bookings", json=body, headers=bearer(alice_secret))
    assert created.status_code == 201, created.get_json()
    booking = created.get_json()
    assert (booking["state"], booking["fee_net_yen"]) == ("tentative", 1000)
    clash = client.post("/api/v1/bookings", json={**body, "room_id": c.hall_id}, headers=bearer(bob_secret))
    assert clash.status_code == 409
    error = clash.get_json()["error"]
    assert error["code"] == "slot_taken" and [a["room_id"] for a in error["alternatives"]] == [
        c.hall_b_id, c.meeting_id]
    past = client.post("/api/v1/bookings", json={**body, "day": "2020-01-01"}, headers=bearer(bob_secret))
    assert past.status_code == 422 and past.get_json()["error"]["code"] == "past_date"
    assert [b["id"] for b in client.get("/api/v1/bookings", headers=bearer(bob_secret)).get_json()] == []
    assert client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=bearer(bob_secret)).status_code == 404
    cancelled = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=bearer(alice_secret))
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = client.post("/api/v1/bookings", json={**body, "room_id": c.hall_id}, headers=bearer(bob_secret))
    assert again.status_code == 201


def test_booking_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "get" in paths["/api/v1/facilities"]
    assert "get" in paths["/api/v1/rooms/{room_id}/availability"]
    assert {"get", "post"} <= set(paths["/api/v1/bookings"])
    assert "post" in paths["/api/v1/bookings/{booking_id}/cancel"]
    create = paths["/api/v1/bookings"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(create["responses"]) and create["security"]
    schema = spec["components"]["schemas"]["BookingIn"]["properties"]
    assert schema["room_id"]["maximum"] == 2**31 - 1 and schema["attendees"]["maximum"] == 10000
