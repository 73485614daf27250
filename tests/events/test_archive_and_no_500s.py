"""Past occurrences stay visible as archive (the event page's "終わった回", the list with from=), and bad input on
invitations, hand-over, the NPO year, promotion and a second registration answers a message, never a 500."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.events.models import EventOccurrence, Registration, RegistrationStatus
from app.extensions import db
from app.organizations.models import Membership, MembershipRole, NpoGrantUse, OrganizationKind
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization
from tests.participation.factories import make_registration


def _with_a_past_occurrence():
    """A published weekly series whose first occurrence is moved 30 days back (the rest stay ahead)."""
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    start = date.today() + timedelta(days=7)
    series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "朝のラジオ体操"},
                         frequency="weekly", first_date=start, until_date=start + timedelta(days=7))
    first, second = occurrence_ids(series.id)
    with app_context():
        occurrence = db.session.get(EventOccurrence, first)
        occurrence.starts_at -= timedelta(days=37)
        occurrence.ends_at -= timedelta(days=37)
        db.session.commit()
    return editor, org, series, first, second


def test_event_page_keeps_past_occurrences_as_archive(client):
    _editor, _org, series, first, second = _with_a_past_occurrence()
    html = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert "終わった回 (1)" in html
    archive = html[html.index("終わった回 (1)"):]
    archive = archive[:archive.index("</details>")]
    past_day = date.today() - timedelta(days=30)
    assert f"{past_day.month}月{past_day.day}日" in archive
    # The past occurrence is not offered for registration; the coming one is.
    assert f"/events/occurrences/{first}/" not in html
    assert f"/events/occurrences/{second}/" in html


def test_list_shows_past_occurrences_only_when_asked_with_from(client):
    _with_a_past_occurrence()
    default = client.get("/events/").get_data(as_text=True)
    assert default.count("朝のラジオ体操") >= 1
    past_from = (date.today() - timedelta(days=40)).isoformat()
    to = (date.today() - timedelta(days=20)).isoformat()
    archive = client.get(f"/events/?from={past_from}&to={to}").get_data(as_text=True)
    assert "朝のラジオ体操" in archive
    nothing = client.get(f"/events/?from={(date.today() - timedelta(days=60)).isoformat()}"
                         f"&to={(date.today() - timedelta(days=50)).isoformat()}").get_data(as_text=True)
    assert "朝のラジオ体操" not in nothing
    api = client.get(f"/api/v1/events?from={past_from}&to={to}").get_json()
    assert [item["title"]["ja"] for item in api] == ["朝のラジオ体操"]


def test_organization_bad_input_is_a_message_not_a_500(client):
    officer = make_user()
    org = make_organization(officer_id=officer.id, kind=OrganizationKind.NPO)
    member = make_user()
    with app_context():
        db.session.add(Membership(organization_id=org.id, user_id=member.id, role=MembershipRole.EDITOR))
        db.session.commit()
        own = db.session.scalar(sa.select(Membership.id).where(Membership.user_id == officer.id))
    login(client, officer.email)
    members = f"/organizations/{org.id}/members"

    for data in ({"email": "not-an-email", "role": "editor"}, {"email": "", "role": "editor"},
                 {"email": "a@example.jp", "role": "boss"}, {"email": "x" * 400 + "@example.jp", "role": "editor"},
                 {"email": member.email, "role": "editor"}):
        response = post_form(client, f"/organizations/{org.id}/invite", data, page=members)
        assert response.status_code == 422, data
        assert "<ul class=\"errors\"" in response.get_data(as_text=True), data

    for successor in ("abc", "", "99999999999999999999", str(own)):
        response = post_form(client, f"/organizations/{org.id}/hand-over",
                             {"successor": successor, "stay_as": "editor"}, page=members)
        assert response.status_code == 422, successor
    response = post_form(client, f"/organizations/{org.id}/hand-over", {"successor": str(own), "stay_as": "officer"},
                         page=members)
    assert response.status_code == 422
    with app_context():
        assert db.session.scalar(sa.select(Membership.role).where(Membership.id == own)) == MembershipRole.OFFICER

    for year in ("abc", "1999", "2101", "99999999999999999999", ""):
        response = post_form(client, f"/organizations/{org.id}/npo-grant", {"fiscal_year": year, "uses_grant": "y"},
                             page=members)
        assert response.status_code == 422, year
        assert "年度" in response.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NpoGrantUse)) == 0

    for token in ("garbage", "a.b.c", "x" * 500):
        assert client.get(f"/organizations/invitations/{token}").status_code == 400
        assert post_form(client, f"/organizations/invitations/{token}", {},
                         page=members).status_code == 400


def test_promote_and_a_second_registration_answer_a_message(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=1)
    [occurrence_id] = occurrence_ids(series.id)
    confirmed_id, _uid, _email = make_registration(occurrence_id)

    person = make_user()
    login(client, person.email)
    page = f"/events/{series.id}"
    first = post_form(client, f"/events/occurrences/{occurrence_id}/register", {}, page=page)
    assert first.status_code == 303 and first.headers["X-Registration-Status"] == "waitlisted"
    again = post_form(client, f"/events/occurrences/{occurrence_id}/register", {}, page=page, follow_redirects=True)
    assert again.status_code == 200 and "この回にはすでに申し込んでいます。" in again.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)
                                 .where(Registration.user_id == person.id)) == 1

    organizer = client.application.test_client()
    login(organizer, editor.email)
    listing = f"/events/occurrences/{occurrence_id}/registrations"
    response = post_form(organizer, f"/events/registrations/{confirmed_id}/promote", {}, page=listing,
                         follow_redirects=True)
    assert response.status_code == 200 and "キャンセル待ちの申し込みではありません。" in response.get_data(as_text=True)
    assert post_form(organizer, "/events/registrations/99999999999999999999/promote", {},
                     page=listing).status_code == 404
    assert post_form(organizer, "/events/registrations/0/promote", {}, page=listing).status_code == 404
    with app_context():
        statuses = sorted(s.value for s in db.session.scalars(sa.select(Registration.status)))
    assert statuses == sorted([RegistrationStatus.CONFIRMED.value, RegistrationStatus.WAITLISTED.value])
