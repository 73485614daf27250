"""Events: input that once answered 500 (days outside any sensible range, co-organizer ids beyond the id column),
the review outcome e-mailed to the group, and the occurrence page offering the "all occurrences" edit."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.permissions import Role
from app.events.models import EventOccurrence, EventSeries, EventStatus
from app.extensions import db
from tests.events.factories import form_data, make_series, occurrence_ids
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization


def _count(model):
    with app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_far_days_and_huge_partner_ids_are_a_clear_422_not_a_500(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    url = f"/events/new?org={org.id}"
    far = "開催日は2000年から10年先まで"
    cases = [
        (form_data(first_date="0001-01-01", start_time="01:00", end_time="02:00"), far),
        (form_data(first_date="9999-12-31", frequency="weekly", until_date="9999-12-31"), far),
        (form_data(frequency="dates", dates="9999-12-31\n0001-01-01"), far),
        (form_data(partner_ids=["99999999999999999999999"]), "共催団体が見つかりません"),
    ]
    for data, message in cases:
        response = post_form(client, url, {**data, "description_ja": "消えない説明"})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, message
        assert message in html and "消えない説明" in html
    assert _count(EventSeries) == 0 and _count(EventOccurrence) == 0

    series = make_series(organization_id=org.id, actor_id=editor.id)
    occurrence_id = occurrence_ids(series.id)[0]
    for day in ("0001-01-01", "9999-12-31"):
        response = post_form(client, f"/events/occurrences/{occurrence_id}/edit", {
            "scope": "one", "day": day, "start_time": "01:00", "end_time": "02:00", "capacity": "5"})
        assert response.status_code == 422 and "開催日は2000年から10年先まで" in response.get_data(as_text=True)


def test_occurrence_page_offers_editing_all_occurrences(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id)
    login(client, editor.email)
    html = client.get(f"/events/occurrences/{occurrence_ids(series.id)[0]}/edit").get_data(as_text=True)
    assert "この回だけ" in html and "この回とそれ以降の回" in html
    assert f'href="/events/{series.id}/edit"' in html


def test_review_outcome_is_mailed_to_the_group(client, app, outbox):
    officer = make_user(email="officer@example.jp")
    author = make_user(email="author@example.jp")
    org = make_organization(verified=False, officer_id=officer.id, editor_id=author.id)
    series = make_series(organization_id=org.id, actor_id=author.id, status=EventStatus.DRAFT)
    login(client, author.email)
    post_form(client, f"/events/{series.id}/submit", {}, page=f"/events/{series.id}")
    staff = app.test_client()
    login(staff, make_user(role=Role.WARD_STAFF).email)
    outbox.clear()
    post_form(staff, f"/events/{series.id}/return", {"comment": "会場の住所を書いてください"}, page="/events/review")
    assert sorted(m["To"] for m in outbox) == ["author@example.jp", "officer@example.jp"]
    assert all("会場の住所を書いてください" in m.get_content() for m in outbox)
    outbox.clear()
    post_form(client, f"/events/{series.id}/submit", {}, page=f"/events/{series.id}")
    post_form(staff, f"/events/{series.id}/approve", {}, page="/events/review")
    assert sorted(m["To"] for m in outbox) == ["author@example.jp", "officer@example.jp"]
    assert all(f"/events/{series.id}" in m.get_content() for m in outbox)


def test_huge_ids_pages_and_far_dates_in_urls_are_not_500s(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "範囲の催し"})
    huge = "99999999999999999999"
    for url in (f"/events/{huge}", f"/organizations/{huge}", f"/events/organizations/{huge}/feed.ics",
                f"/events/occurrences/{huge}/guest", f"/api/v1/events/{huge}", f"/api/v1/organizations/{huge}"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/events/?page={huge}").status_code == 200
    for url in ("/events/?from=0001-01-01", "/events/?to=9999-12-31", "/api/v1/events?from=0001-01-01"):
        assert client.get(url).status_code == 200, url
    assert "範囲の催し" in client.get("/events/?from=0001-01-01").get_data(as_text=True)
    assert client.get("/api/v1/events?from=0001-01-01").get_json()[0]["event_id"] == series.id
    login(client, editor.email)
    assert client.get(f"/events/new?org={huge}").status_code == 404
    assert client.get(f"/events/new?org={org.id}").status_code == 200


def test_json_ld_has_one_event_per_occurrence_with_its_own_status_and_og_tags(client, app):
    import json
    import re
    from datetime import date, timedelta

    editor = make_user()
    org = make_organization(editor_id=editor.id)
    first = date.today() + timedelta(days=3)
    series = make_series(organization_id=org.id, actor_id=editor.id, frequency="weekly", first_date=first,
                         until_date=first + timedelta(days=14),
                         texts={"title_ja": "清掃活動", "summary_ja": "軍手を貸します"})
    ids = occurrence_ids(series.id)
    login(client, editor.email)
    post_form(client, f"/events/occurrences/{ids[1]}/cancel", {"reason": "雨"})
    html = app.test_client().get(f"/events/{series.id}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert [d["eventStatus"].rsplit("/", 1)[1] for d in data] == ["EventScheduled", "EventCancelled",
                                                                   "EventScheduled"]
    assert len({d["startDate"] for d in data}) == 3 and all(d["location"]["@type"] == "Place" for d in data)
    assert f'property="og:url" content="http://localhost/events/{series.id}"' in html
    assert 'property="og:description" content="軍手を貸します"' in html
