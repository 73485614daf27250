"""Events: creating through the form, bad input, workflow, cancellation, registrations and the waitlist."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.core.permissions import Role
from app.events.models import (
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.extensions import db
from tests.events.factories import form_data, make_series, occurrence_ids
from tests.factories import app_context, detach, login, make_user, post_form
from tests.organizations.factories import make_organization


def _count(model, *where):
    with app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _series(series_id):
    with app_context():
        return detach(db.session.get(EventSeries, series_id))


def _statuses(occurrence_id):
    with app_context():
        rows = db.session.execute(sa.select(Registration.user_id, Registration.status)
                                  .where(Registration.occurrence_id == occurrence_id)).all()
        return dict(rows)


def test_verified_group_creates_and_publishes_directly(client, app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    url = f"/events/new?org={org.id}"
    response = post_form(client, url, form_data(audiences=["foreign_residents", "first_timers"],
                                                wheelchair_accessible="y", foreign_languages=["en"]))
    assert response.status_code == 303, response.get_data(as_text=True)
    series_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert _series(series_id).status == EventStatus.DRAFT
    # Drafts are private.
    assert app.test_client().get(f"/events/{series_id}").status_code == 404
    post_form(client, f"/events/{series_id}/submit", {}, page=f"/events/{series_id}")
    assert _series(series_id).status == EventStatus.PUBLISHED
    html = app.test_client().get(f"/events/{series_id}").get_data(as_text=True)
    assert "日本語教室" in html and "外国人" in html and "車いす可" in html


def test_unverified_group_goes_through_review(client, app):
    editor = make_user()
    org = make_organization(verified=False, officer_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, status=EventStatus.DRAFT)
    login(client, editor.email)
    post_form(client, f"/events/{series.id}/submit", {}, page=f"/events/{series.id}")
    assert _series(series.id).status == EventStatus.SUBMITTED
    assert app.test_client().get(f"/events/{series.id}").status_code == 404
    # A resident cannot approve.
    assert post_form(client, f"/events/{series.id}/approve", {}, page="/").status_code == 403
    staff = make_user(role=Role.WARD_STAFF)
    staff_client = app.test_client()
    login(staff_client, staff.email)
    assert "防災訓練" in staff_client.get("/events/review").get_data(as_text=True)
    post_form(staff_client, f"/events/{series.id}/return", {"comment": "会場の住所を書いてください"},
              page="/events/review")
    returned = _series(series.id)
    assert returned.status == EventStatus.DRAFT and returned.review_comment == "会場の住所を書いてください"
    post_form(client, f"/events/{series.id}/submit", {}, page=f"/events/{series.id}")
    post_form(staff_client, f"/events/{series.id}/approve", {}, page="/events/review")
    assert _series(series.id).status == EventStatus.PUBLISHED


def test_bad_input_is_refused_with_message_and_nothing_saved(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    url = f"/events/new?org={org.id}"
    cases = [
        (form_data(start_time="18:00", end_time="17:00"), "終了時刻は開始時刻より後"),
        (form_data(category="no-such-category"), "分類を一覧から選んで"),
        (form_data(title_ja="あ" * 201), "200文字以内"),
        (form_data(registration_opens_at=(date.today() + timedelta(days=30)).isoformat() + "T10:00"),
         "申込の受付開始は、開催日時より前"),
        (form_data(frequency="weekly"), "繰り返しの終わりの日を入力"),
        (form_data(frequency="dates", dates="2026-13-01"), "1行に1日"),
        (form_data(capacity="0"), "1から100,000"),
        (form_data(partner_ids=["abc"]), "一覧から選んでください"),
        (form_data(frequency="monthly_nth_weekday", nth="x",
                   until_date=(date.today() + timedelta(days=90)).isoformat()), "第何週かを選んでください"),
    ]
    for data, message in cases:
        response = post_form(client, url, {**data, "description_ja": "消えない説明"})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, message
        assert message in html, message
        assert "消えない説明" in html
    assert _count(EventSeries) == 0 and _count(EventOccurrence) == 0


def test_weekly_series_makes_occurrences(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    first = date.today() + timedelta(days=7)
    response = post_form(client, f"/events/new?org={org.id}", form_data(
        frequency="weekly", first_date=first.isoformat(), until_date=(first + timedelta(days=28)).isoformat()))
    assert response.status_code == 303
    assert _count(EventOccurrence) == 5


def test_capacity_cannot_go_below_registrations(client, app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=3)
    occurrence_id = occurrence_ids(series.id)[0]
    for _ in range(3):
        person = make_user()
        c = app.test_client()
        login(c, person.email)
        post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    login(client, editor.email)
    edit_page = client.get(f"/events/{series.id}/edit").get_data(as_text=True)
    assert "防災訓練" in edit_page
    data = form_data(title_ja="防災訓練", category="safety", district="shiba", capacity="2",
                     first_date=(date.today() + timedelta(days=10)).isoformat(), start_time="10:00",
                     end_time="12:00")
    response = post_form(client, f"/events/{series.id}/edit", data)
    assert response.status_code == 422
    assert "定員を申込数(3人)より少なくできません" in response.get_data(as_text=True)
    with app_context():
        assert db.session.get(EventOccurrence, occurrence_id).capacity == 3


def test_full_goes_to_waitlist_and_cancellation_promotes_first(app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=2)
    occurrence_id = occurrence_ids(series.id)[0]
    clients, users = [], []
    for n in range(4):
        user = make_user(email=f"p{n}@example.jp")
        c = app.test_client()
        login(c, user.email)
        response = post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
        assert response.status_code == 303
        clients.append(c)
        users.append(user)
    statuses = _statuses(occurrence_id)
    assert [statuses[u.id] for u in users] == [RegistrationStatus.CONFIRMED] * 2 + [RegistrationStatus.WAITLISTED] * 2
    # Twice is refused: one place per person.
    post_form(clients[0], f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    assert _count(Registration, Registration.user_id == users[0].id) == 1
    # Someone else's registration cannot be cancelled.
    with app_context():
        reg0 = db.session.scalar(sa.select(Registration.id).where(Registration.user_id == users[0].id))
    assert post_form(clients[1], f"/events/registrations/{reg0}/cancel", {}, page="/events/mine").status_code == 404
    outbox.clear()
    post_form(clients[0], f"/events/registrations/{reg0}/cancel", {}, page="/events/mine")
    statuses = _statuses(occurrence_id)
    assert statuses[users[0].id] == RegistrationStatus.CANCELLED
    assert statuses[users[2].id] == RegistrationStatus.CONFIRMED
    assert statuses[users[3].id] == RegistrationStatus.WAITLISTED
    assert [m["To"] for m in outbox] == ["p2@example.jp"]
    attachments = [part for part in outbox[0].iter_attachments() if part.get_filename() == "event.ics"]
    assert attachments and "BEGIN:VEVENT" in attachments[0].get_content()
    mine = clients[2].get("/events/mine").get_data(as_text=True)
    assert "防災訓練" in mine


def test_registration_closes_at_deadline(app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, first_date=date.today() + timedelta(days=2),
                         registration_deadline_days=3)
    occurrence_id = occurrence_ids(series.id)[0]
    user = make_user()
    c = app.test_client()
    login(c, user.email)
    post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    assert _count(Registration) == 0


def test_cancel_event_tells_registrants(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id)
    occurrence_id = occurrence_ids(series.id)[0]
    person = make_user(email="reg@example.jp")
    c = app.test_client()
    login(c, person.email)
    post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    outbox.clear()
    login(client, editor.email)
    response = post_form(client, f"/events/{series.id}/cancel", {"reason": ""})
    assert response.status_code == 422
    post_form(client, f"/events/{series.id}/cancel", {"reason": "台風のため"})
    cancelled = _series(series.id)
    assert cancelled.status == EventStatus.CANCELLED and cancelled.cancel_reason == "台風のため"
    with app_context():
        assert db.session.get(EventOccurrence, occurrence_id).status == OccurrenceStatus.CANCELLED
    assert [m["To"] for m in outbox] == ["reg@example.jp"]
    assert "台風のため" in outbox[0].get_content()
    assert "中止" in app.test_client().get(f"/events/{series.id}").get_data(as_text=True)


def test_only_editors_edit(client, app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id)
    stranger = make_user()
    login(client, stranger.email)
    assert client.get(f"/events/{series.id}/edit").status_code == 403
    assert client.get(f"/events/new?org={org.id}").status_code == 403
    assert post_form(client, f"/events/{series.id}/cancel", {"reason": "x"}, page="/").status_code == 403


def test_organizer_list_csv_promote_and_remove(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=1)
    occurrence_id = occurrence_ids(series.id)[0]
    people = [make_user(display_name="=HYPERLINK(\"http://evil\")", email="a@example.jp"),
              make_user(display_name="待つ人", email="b@example.jp"), make_user(email="c@example.jp")]
    for person in people:
        c = app.test_client()
        login(c, person.email)
        post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    list_url = f"/events/occurrences/{occurrence_id}/registrations"

    # Only the group's editors see the list.
    stranger = app.test_client()
    login(stranger, people[1].email)
    assert stranger.get(list_url).status_code == 403
    assert stranger.get(list_url + ".csv").status_code == 403

    login(client, editor.email)
    html = client.get(list_url).get_data(as_text=True)
    assert "待つ人" in html and "b@example.jp" in html
    csv_response = client.get(f"/events/occurrences/{occurrence_id}/registrations.csv")
    text = csv_response.get_data(as_text=True)
    assert text.startswith("\ufeff") and csv_response.mimetype == "text/csv"
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text

    with app_context():
        ids = {r.user_id: r.id for r in db.session.scalars(sa.select(Registration))}
    outbox.clear()
    post_form(client, f"/events/registrations/{ids[people[2].id]}/promote", {}, page=list_url)
    statuses = _statuses(occurrence_id)
    assert statuses[people[2].id] == RegistrationStatus.CONFIRMED  # by hand, beyond capacity
    assert [m["To"] for m in outbox] == ["c@example.jp"]
    post_form(client, f"/events/registrations/{ids[people[0].id]}/remove", {}, page=list_url)
    statuses = _statuses(occurrence_id)
    # Two confirmed for one seat: removing one frees nothing, so the waitlist stays.
    assert statuses[people[0].id] == RegistrationStatus.CANCELLED
    assert statuses[people[1].id] == RegistrationStatus.WAITLISTED
    assert post_form(stranger, f"/events/registrations/{ids[people[1].id]}/promote", {},
                     page="/events/mine").status_code == 403


def test_cancel_one_occurrence(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    first = date.today() + timedelta(days=3)
    series = make_series(organization_id=org.id, actor_id=editor.id, frequency="weekly", first_date=first,
                         until_date=first + timedelta(days=7))
    first_id, second_id = occurrence_ids(series.id)
    person = make_user(email="rain@example.jp")
    c = app.test_client()
    login(c, person.email)
    post_form(c, f"/events/occurrences/{first_id}/register", {}, page=f"/events/{series.id}")
    outbox.clear()
    assert post_form(c, f"/events/occurrences/{first_id}/cancel", {"reason": "x"},
                     page=f"/events/{series.id}").status_code == 403
    login(client, editor.email)
    assert post_form(client, f"/events/occurrences/{first_id}/cancel", {"reason": ""}).status_code == 422
    post_form(client, f"/events/occurrences/{first_id}/cancel", {"reason": "雨のため"})
    with app_context():
        first_occ, second_occ = db.session.get(EventOccurrence, first_id), db.session.get(EventOccurrence, second_id)
        assert first_occ.status == OccurrenceStatus.CANCELLED and first_occ.sequence == 1
        assert second_occ.status == OccurrenceStatus.SCHEDULED
    assert _series(series.id).status == EventStatus.PUBLISHED
    assert [m["To"] for m in outbox] == ["rain@example.jp"] and "雨のため" in outbox[0].get_content()
    # Nobody can register for the cancelled date.
    other = make_user()
    other_client = app.test_client()
    login(other_client, other.email)
    post_form(other_client, f"/events/occurrences/{first_id}/register", {}, page=f"/events/{series.id}")
    assert _count(Registration, Registration.user_id == other.id) == 0


def _text(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def _link(mail, kind):
    import re

    return re.search(rf"http://localhost(/events/guest/{kind}/\S+)", _text(mail)).group(1)


def test_guest_registration_with_email_confirmation(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=1)
    occurrence_id = occurrence_ids(series.id)[0]
    url = f"/events/occurrences/{occurrence_id}/guest"
    bad = post_form(client, url, {"name": "山田", "email": "not-an-address"})
    assert bad.status_code == 422 and "山田" in bad.get_data(as_text=True)
    assert post_form(client, url, {"name": "山田", "email": "Guest@Example.jp"}).status_code == 200
    assert _count(Registration) == 0  # nothing is taken before the address is confirmed
    confirm = _link(next(m for m in outbox if m["To"] == "guest@example.jp"), "confirm")
    assert client.get(confirm).status_code == 200
    assert _count(Registration) == 0  # opening the link (a mail scanner) takes nothing
    assert post_form(client, confirm, {}).status_code == 200
    with app_context():
        registration = db.session.scalar(sa.select(Registration))
        assert (registration.guest_email, registration.user_id, registration.status) == (
            "guest@example.jp", None, RegistrationStatus.CONFIRMED)
    again = post_form(client, confirm, {})
    assert again.status_code == 409 and _count(Registration) == 1

    # A second guest is waitlisted; when the first cancels through their link, the second is promoted.
    post_form(client, url, {"name": "佐藤", "email": "second@example.jp"})
    post_form(client, _link(next(m for m in outbox if m["To"] == "second@example.jp"), "confirm"), {})
    cancel = _link(next(m for m in outbox if m["To"] == "guest@example.jp" and "/guest/cancel/" in _text(m)),
                   "cancel")
    outbox.clear()
    assert post_form(client, cancel, {}).status_code == 200
    with app_context():
        rows = dict(db.session.execute(sa.select(Registration.guest_email, Registration.status)).all())
    assert rows == {"guest@example.jp": RegistrationStatus.CANCELLED, "second@example.jp": RegistrationStatus.CONFIRMED}
    assert [m["To"] for m in outbox] == ["second@example.jp"]
    # Tampered links are refused.
    assert client.get(cancel[:-3] + "xyz").status_code == 400
    assert client.get("/events/guest/confirm/garbage").status_code == 400
    # The organizer's list shows guests.
    login(client, editor.email)
    assert "second@example.jp" in client.get(f"/events/occurrences/{occurrence_id}/registrations").get_data(
        as_text=True)


def test_organizer_messages_registrants(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=1)
    occurrence_id = occurrence_ids(series.id)[0]
    for email in ("in@example.jp", "waiting@example.jp"):
        person = make_user(email=email)
        c = app.test_client()
        login(c, person.email)
        post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series.id}")
    outbox.clear()
    login(client, editor.email)
    page = f"/events/occurrences/{occurrence_id}/registrations"
    url = f"/events/occurrences/{occurrence_id}/message"
    bad = post_form(client, url, {"subject": "", "body": "持ち物のお知らせ本文"}, page=page)
    assert bad.status_code == 422 and "持ち物のお知らせ本文" in bad.get_data(as_text=True) and outbox == []
    post_form(client, url, {"subject": "持ち物", "body": "軍手をお持ちください"}, page=page)
    assert [m["To"] for m in outbox] == ["in@example.jp"]
    assert "軍手をお持ちください" in _text(outbox[0]) and outbox[0]["Subject"] == "持ち物"
    post_form(client, url, {"subject": "持ち物", "body": "再送", "include_waitlisted": "y"}, page=page)
    assert sorted(m["To"] for m in outbox[1:]) == ["in@example.jp", "waiting@example.jp"]
    stranger = app.test_client()
    login(stranger, make_user().email)
    assert post_form(stranger, url, {"subject": "x", "body": "y"}, page="/events/mine").status_code == 403


def test_edit_this_occurrence_or_this_and_following(client, app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    first = date.today() + timedelta(days=3)
    series = make_series(organization_id=org.id, actor_id=editor.id, frequency="weekly", first_date=first,
                         until_date=first + timedelta(days=14), capacity=1)
    ids = occurrence_ids(series.id)
    people = [make_user(email="one@example.jp"), make_user(email="two@example.jp")]
    for person in people:
        c = app.test_client()
        login(c, person.email)
        post_form(c, f"/events/occurrences/{ids[0]}/register", {}, page=f"/events/{series.id}")
    outbox.clear()
    login(client, editor.email)
    url = f"/events/occurrences/{ids[0]}/edit"
    bad = post_form(client, url, {"scope": "one", "day": first.isoformat(), "start_time": "12:00",
                                  "end_time": "11:00", "capacity": "1"})
    assert bad.status_code == 422 and "終了時刻は開始時刻より後" in bad.get_data(as_text=True)
    taken = post_form(client, url, {"scope": "one", "day": (first + timedelta(days=7)).isoformat(),
                                    "start_time": "10:00", "end_time": "12:00", "capacity": "1"})
    assert taken.status_code == 422 and "この日にはすでに回があります" in taken.get_data(as_text=True)

    # This occurrence only: a new day and a larger capacity; both registrants hear about it, the waitlisted one
    # gets the new seat.
    moved_day = first + timedelta(days=1)
    post_form(client, url, {"scope": "one", "day": moved_day.isoformat(), "start_time": "13:00",
                            "end_time": "15:00", "capacity": "2"})
    with app_context():
        occurrences = {o.id: o for o in db.session.scalars(sa.select(EventOccurrence))}
        from app.core.time import to_tokyo

        assert to_tokyo(occurrences[ids[0]].starts_at).date() == moved_day
        assert to_tokyo(occurrences[ids[0]].starts_at).hour == 13 and occurrences[ids[0]].sequence == 1
        assert to_tokyo(occurrences[ids[1]].starts_at).hour == 10 and occurrences[ids[1]].sequence == 0
    assert set(_statuses(ids[0]).values()) == {RegistrationStatus.CONFIRMED}
    assert sorted({m["To"] for m in outbox}) == ["one@example.jp", "two@example.jp"]

    # This and following: the second and third occurrences move to the evening.
    post_form(client, f"/events/occurrences/{ids[1]}/edit", {"scope": "following", "day": first.isoformat(),
                                                             "start_time": "18:00", "end_time": "20:00",
                                                             "capacity": ""})
    with app_context():
        hours = [to_tokyo(db.session.get(EventOccurrence, i).starts_at).hour for i in ids]
        capacities = [db.session.get(EventOccurrence, i).capacity for i in ids]
    assert hours == [13, 18, 18] and capacities == [2, None, None]


def test_scheduled_publication(client, app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, status=EventStatus.DRAFT,
                         first_date=date.today() + timedelta(days=20))
    login(client, editor.email)
    past = (date.today() - timedelta(days=1)).isoformat() + "T10:00"
    post_form(client, f"/events/{series.id}/submit", {"publish_at": past}, page=f"/events/{series.id}")
    assert _series(series.id).status == EventStatus.DRAFT  # refused, nothing changed
    later = (date.today() + timedelta(days=5)).isoformat() + "T09:00"
    post_form(client, f"/events/{series.id}/submit", {"publish_at": later}, page=f"/events/{series.id}")
    saved = _series(series.id)
    assert saved.status == EventStatus.PUBLISHED and saved.publish_at is not None
    anonymous = app.test_client()
    assert anonymous.get(f"/events/{series.id}").status_code == 404
    assert "防災訓練" not in anonymous.get("/events/").get_data(as_text=True)
    assert "公開予定" in client.get(f"/events/{series.id}").get_data(as_text=True)
    # When the time comes it is public.
    from app.core.time import utcnow

    with app_context():
        db.session.get(EventSeries, series.id).publish_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert anonymous.get(f"/events/{series.id}").status_code == 200
    assert "防災訓練" in anonymous.get("/events/").get_data(as_text=True)


def test_cancelled_draft_stays_private(client, app):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, status=EventStatus.DRAFT)
    login(client, editor.email)
    post_form(client, f"/events/{series.id}/cancel", {"reason": "やめました"})
    assert _series(series.id).status == EventStatus.CANCELLED
    assert app.test_client().get(f"/events/{series.id}").status_code == 404
