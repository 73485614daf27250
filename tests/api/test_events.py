"""API: GET /api/v1/events and /api/v1/events/{id}; POST and DELETE of the caller's registration."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.events.models import EventStatus, Registration, RegistrationStatus
from app.extensions import db
from tests.api.factories import bearer, make_token
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, make_user
from tests.organizations.factories import make_organization


def _published(**overrides):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    return make_series(organization_id=org.id, actor_id=editor.id, **overrides), org


def test_list_and_detail_are_public_with_counts(client):
    series, org = _published(capacity=1, texts={"title_ja": "防災訓練", "title_en": "Disaster drill"})
    _draft, _ = _published(texts={"title_ja": "下書き"}, status=EventStatus.DRAFT)
    occurrence_id = occurrence_ids(series.id)[0]
    for _ in range(2):
        _token_id, secret = make_token(make_user())
        assert client.post(f"/api/v1/occurrences/{occurrence_id}/registration",
                           headers=bearer(secret)).status_code == 201

    items = client.get("/api/v1/events").get_json()
    assert [i["title"]["ja"] for i in items] == ["防災訓練"]
    assert (items[0]["capacity"], items[0]["confirmed"], items[0]["waitlisted"]) == (1, 1, 1)
    assert items[0]["organizer"]["id"] == org.id
    assert client.get("/api/v1/events?q=disaster").get_json()[0]["event_id"] == series.id
    assert client.get("/api/v1/events?district=akasaka").get_json() == []

    bad = client.get("/api/v1/events?category=nope")
    assert bad.status_code == 422 and bad.is_json

    detail = client.get(f"/api/v1/events/{series.id}").get_json()
    assert detail["title"]["en"] == "Disaster drill"
    assert detail["occurrences"][0]["confirmed"] == 1 and detail["occurrences"][0]["waitlisted"] == 1
    assert client.get(f"/api/v1/events/{_draft.id}").status_code == 404


def test_register_and_cancel_promotes_the_next(client, outbox):
    series, _org = _published(capacity=1)
    occurrence_id = occurrence_ids(series.id)[0]
    first, second = make_user(), make_user(email="second@example.jp")
    _t1, secret1 = make_token(first)
    _t2, secret2 = make_token(second)
    url = f"/api/v1/occurrences/{occurrence_id}/registration"

    assert client.post(url).status_code == 401
    assert client.post(url, headers=bearer(secret1)).get_json()["status"] == "confirmed"
    again = client.post(url, headers=bearer(secret1))
    assert again.status_code == 409 and again.get_json()["error"]["message"]
    assert client.post(url, headers=bearer(secret2)).get_json()["status"] == "waitlisted"

    outbox.clear()
    response = client.delete(url, headers=bearer(secret1))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled" and body["promoted_registration_id"] is not None
    with app_context():
        statuses = dict(db.session.execute(sa.select(Registration.user_id, Registration.status)).all())
    assert statuses == {first.id: RegistrationStatus.CANCELLED, second.id: RegistrationStatus.CONFIRMED}
    assert [m["To"] for m in outbox] == ["second@example.jp"]
    assert client.delete(url, headers=bearer(secret1)).status_code == 404
    assert client.post("/api/v1/occurrences/999999/registration", headers=bearer(secret1)).status_code == 404


def test_events_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/events" in paths and "/api/v1/events/{event_id}" in paths
    assert {"post", "delete"} <= set(paths["/api/v1/occurrences/{occurrence_id}/registration"])


def test_organizations_public_registry(client):
    from app.organizations.models import OrganizationKind

    shop = make_organization(name="麻布十番商店会", kind=OrganizationKind.SHOPPING_STREET, shop_count=120,
                             contact_email="private@example.jp")
    pending = make_organization(name="確認待ちの会", verified=False)
    items = client.get("/api/v1/organizations").get_json()
    assert [i["name"]["ja"] for i in items] == ["麻布十番商店会"]
    assert items[0]["shop_count"] == 120 and "private@example.jp" not in str(items)
    assert client.get("/api/v1/organizations?kind=npo").get_json() == []
    assert client.get("/api/v1/organizations?kind=nope").status_code == 422
    assert client.get(f"/api/v1/organizations/{shop.id}").get_json()["kind"] == "shopping_street"
    assert client.get(f"/api/v1/organizations/{pending.id}").status_code == 404


def _event_body(org_id, **overrides):
    body = {
        "organization_id": org_id, "title": {"ja": "商店街の夏まつり", "en": "Summer festival"},
        "summary": {"ja": "屋台が並びます"}, "category": "shopping_street", "district": "azabu",
        "audiences": ["children"], "accessibility": ["wheelchair_accessible"], "capacity": 10,
        "recurrence": {"frequency": "weekly", "first_date": (date.today() + timedelta(days=7)).isoformat(),
                       "until_date": (date.today() + timedelta(days=21)).isoformat()},
        "start_time": "15:00", "end_time": "20:00", "publish": True,
    }
    body.update(overrides)
    return body


def test_editors_create_patch_and_cancel_events(client, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    _tid, secret = make_token(editor)
    _sid, stranger = make_token(make_user())

    assert client.post("/api/v1/events", json=_event_body(org.id), headers=bearer(stranger)).status_code == 403
    bad = client.post("/api/v1/events", json=_event_body(org.id, start_time="21:00"), headers=bearer(secret))
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "end_time"
    unknown = client.post("/api/v1/events", json=_event_body(org.id, category="nope"), headers=bearer(secret))
    assert unknown.status_code == 422 and unknown.get_json()["error"]["field"] == "category"
    with app_context():
        from app.events.models import EventSeries

        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventSeries)) == 0

    created = client.post("/api/v1/events", json=_event_body(org.id), headers=bearer(secret))
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert event["status"] == "published" and len(event["occurrences"]) == 3
    assert event["accessibility"] == ["wheelchair_accessible"]
    assert client.get(f"/api/v1/events/{event['id']}").status_code == 200

    patched = client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 20, "title": {"en": "Festival"}},
                           headers=bearer(secret))
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["title"] == {"ja": "商店街の夏まつり", "en": "Festival", "easy": None}
    assert {o["capacity"] for o in body["occurrences"]} == {20}
    assert [o["id"] for o in body["occurrences"]] == [o["id"] for o in event["occurrences"]]
    assert client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 5},
                        headers=bearer(stranger)).status_code == 403

    cancelled = client.post(f"/api/v1/events/{event['id']}/cancel", json={"reason": "雨天"}, headers=bearer(secret))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/events/{event['id']}/cancel", json={"reason": ""},
                       headers=bearer(secret)).status_code == 422


def test_register_an_organization_through_the_api(client):
    from app.core.permissions import Role
    from app.organizations.models import Membership, MembershipRole, Organization, VerificationStatus

    officer = make_user()
    _tid, secret = make_token(officer)
    body = {"kind": "shopping_street", "district": "azabu", "name": {"ja": "麻布十番商店会"}, "shop_count": 80,
            "in_shotengai_federation": True}
    assert client.post("/api/v1/organizations", json=body).status_code == 401
    refused = client.post("/api/v1/organizations", json={**body, "verified_until": "2030-03-31"},
                          headers=bearer(secret))
    assert refused.status_code == 403
    assert client.post("/api/v1/organizations", json={**body, "kind": "x"}, headers=bearer(secret)).status_code == 422
    created = client.post("/api/v1/organizations", json=body, headers=bearer(secret))
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    with app_context():
        org = db.session.get(Organization, created.get_json()["id"])
        assert org.shop_count == 80 and org.status == VerificationStatus.PENDING
        membership = db.session.scalar(sa.select(Membership).where(Membership.organization_id == org.id))
        assert (membership.user_id, membership.role) == (officer.id, MembershipRole.OFFICER)

    staff = make_user(role=Role.WARD_STAFF)
    _sid, staff_secret = make_token(staff)
    verified = client.post("/api/v1/organizations", json={**body, "name": {"ja": "白金商店会"},
                                                          "verified_until": "2030-03-31"},
                           headers=bearer(staff_secret))
    assert verified.status_code == 201 and verified.get_json()["status"] == "verified"
    assert [o["name"]["ja"] for o in client.get("/api/v1/organizations").get_json()] == ["白金商店会"]


def test_cancel_and_patch_check_permission_before_the_body(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id)
    _sid, stranger = make_token(make_user())
    # An empty or malformed body from someone who may not edit the event: 403, not a 422 about the body.
    assert client.post(f"/api/v1/events/{series.id}/cancel", json={}, headers=bearer(stranger)).status_code == 403
    assert client.post(f"/api/v1/events/{series.id}/cancel", data="not json", content_type="application/json",
                       headers=bearer(stranger)).status_code == 403
    assert client.patch(f"/api/v1/events/{series.id}", json={"capacity": "many"},
                        headers=bearer(stranger)).status_code == 403
    assert client.post("/api/v1/events/999999/cancel", json={}, headers=bearer(stranger)).status_code == 404
    assert client.post(f"/api/v1/events/{series.id}/cancel", json={}).status_code == 401
    with app_context():
        from app.events.models import EventSeries

        assert db.session.get(EventSeries, series.id).status == EventStatus.PUBLISHED
    # The group's editor still gets the body checked.
    _eid, secret = make_token(editor)
    assert client.post(f"/api/v1/events/{series.id}/cancel", json={}, headers=bearer(secret)).status_code == 422
    assert client.patch(f"/api/v1/events/{series.id}", json={"capacity": "many"},
                        headers=bearer(secret)).status_code == 422


def test_list_is_paginated_and_bad_days_or_partner_ids_are_a_clear_422(client):
    first = date.today() + timedelta(days=3)
    series, org = _published(frequency="weekly", first_date=first, until_date=first + timedelta(days=28))
    responses = [client.get(f"/api/v1/events?per_page=2&page={n}") for n in (1, 2, 3, 4)]
    pages = [r.get_json() for r in responses]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    base = "http://localhost/api/v1/events?per_page=2&page="
    assert [r.headers.get("Link") for r in responses] == [
        f'<{base}2>; rel="next"', f'<{base}3>; rel="next", <{base}1>; rel="prev"', f'<{base}2>; rel="prev"',
        f'<{base}3>; rel="prev"']
    # Other arguments are kept and encoded (the header carries no raw text of the caller's).
    link = client.get("/api/v1/events?per_page=1&q=%E9%98%B2%E7%81%BD&free=false&page=1").headers["Link"]
    assert link == '<http://localhost/api/v1/events?per_page=1&q=%E9%98%B2%E7%81%BD&free=false&page=2>; rel="next"'
    link = client.get('/api/v1/events?per_page=1&page=2&q=">%0D%0A').headers.get("Link", "")
    assert "\r" not in link and '">' not in link
    ids = [i["occurrence_id"] for p in pages for i in p]
    assert ids == occurrence_ids(series.id) and len(set(ids)) == 5
    assert client.get("/api/v1/events?per_page=101").status_code == 422

    editor = make_user()
    org = make_organization(editor_id=editor.id, name="別の会")
    _tid, secret = make_token(editor)
    far = _event_body(org.id, recurrence={"frequency": "once", "first_date": "0001-01-01"},
                      start_time="01:00", end_time="02:00")
    response = client.post("/api/v1/events", json=far, headers=bearer(secret))
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "first_date"
    huge = client.post("/api/v1/events", json=_event_body(org.id, partner_ids=[2**40]), headers=bearer(secret))
    assert huge.status_code == 422 and huge.get_json()["error"]["field"] == "partner_ids"
    for beyond in (2**63, 1e308):  # beyond the id column: the database's overflow was a 500 on SQLite
        response = client.post("/api/v1/events", json=_event_body(beyond), headers=bearer(secret))
        assert response.status_code == 422 and "organization_id" in response.get_json()["error"]["fields"]


def test_nul_characters_and_a_partial_recurrence_are_a_clear_422(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series, _org = _published()
    _tid, secret = make_token(editor)
    nul = client.post("/api/v1/organizations", json={"kind": "npo", "district": "shiba", "name": {"ja": "a\x00b"}},
                      headers=bearer(secret))
    assert nul.status_code == 422 and "NUL" in nul.get_json()["error"]["message"]
    own = make_series(organization_id=org.id, actor_id=editor.id)
    patched = client.patch(f"/api/v1/events/{own.id}", json={"title": {"ja": "a\x00b"}}, headers=bearer(secret))
    assert patched.status_code == 422
    partial = client.patch(f"/api/v1/events/{own.id}", headers=bearer(secret),
                           json={"recurrence": {"frequency": "weekly", "first_date": "2030-01-01"}})
    assert partial.status_code == 422 and partial.get_json()["error"]["field"] == "until_date"
    with app_context():
        from app.organizations.models import Organization

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 2
    assert series.id != own.id


def test_range_length_choice_and_time_messages_are_in_the_users_language(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    _tid, secret = make_token(editor)
    response = client.post("/api/v1/organizations", headers=bearer(secret), json={
        "kind": "shopping_street", "district": "shiba", "name": {"ja": "n" * 201}, "shop_count": 10**9})
    fields = response.get_json()["error"]["fields"]
    assert fields["name"] == {"ja": ["1文字から200文字までにしてください。"]}
    assert fields["shop_count"] == ["0から1000000までの数にしてください。"]
    series = make_series(organization_id=org.id, actor_id=editor.id)
    bad = client.patch(f"/api/v1/events/{series.id}", headers=bearer(secret), json={
        "start_time": "99:00", "fee_yen": -1, "recurrence": {"frequency": "daily", "first_date": "2030-01-01"}})
    bad = bad.get_json()["error"]["fields"]
    assert bad["start_time"] == ["時刻の形式が正しくありません（HH:MM）。"]
    assert bad["fee_yen"] == ["0から1000000までの数にしてください。"]
    assert bad["recurrence"]["frequency"][0].startswith("次のどれかにしてください: ")
