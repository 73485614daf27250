"""Ward-wide feed window (a week back, 90 days ahead) and its server cache keyed on the data's last change; the
list page's card cache, anonymous ETag / 304, and the filter panel folded on phones."""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa
from icalendar import Calendar

from app.core.time import utcnow
from app.events.models import EventOccurrence
from app.extensions import db
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, login, make_user, post_form, recorded_statements
from tests.organizations.factories import make_organization


def _summaries(body: bytes) -> list[str]:
    return sorted(str(c["SUMMARY"]) for c in Calendar.from_ical(body).walk() if c.name == "VEVENT")


def _setup():
    editor = make_user()
    org = make_organization(name="芝浦町会", editor_id=editor.id)
    return editor, org


def _move(occurrence_id: int, days: int) -> None:
    """Move an occurrence DAYS from now (past dates cannot be entered through the forms)."""
    with app_context():
        occurrence = db.session.get(EventOccurrence, occurrence_id)
        length = occurrence.ends_at - occurrence.starts_at
        occurrence.starts_at = utcnow().replace(microsecond=0) + timedelta(days=days)
        occurrence.ends_at = occurrence.starts_at + length
        db.session.commit()


def _statements(app, client, url, **kwargs):
    with recorded_statements(app) as seen:
        response = client.get(url, **kwargs)
    return response, len(seen)


def test_ward_feed_serves_a_week_back_and_90_days_ahead(client):
    editor, org = _setup()
    soon = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "近い催し"})
    far = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "遠い催し"})
    old = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "先月の催し"})
    recent = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "先日の催し"})
    _move(occurrence_ids(far.id)[0], 120)
    _move(occurrence_ids(old.id)[0], -20)
    _move(occurrence_ids(recent.id)[0], -3)
    assert soon

    assert _summaries(client.get("/events/feed.ics").get_data()) == ["先日の催し", "近い催し"]
    # The group's own feed looks further: 30 days back, a year ahead.
    org_feed = client.get(f"/events/organizations/{org.id}/feed.ics").get_data()
    assert _summaries(org_feed) == ["先日の催し", "先月の催し", "近い催し", "遠い催し"]


def test_feed_body_is_cached_until_the_data_changes(client, app):
    editor, org = _setup()
    series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "清掃活動"}, capacity=10)
    first, _n = _statements(app, client, "/events/feed.ics")
    assert first.status_code == 200
    # Served again from the cache: only the change-signature query runs.
    again, statements = _statements(app, client, "/events/feed.ics")
    assert again.get_data() == first.get_data() and statements <= 2  # BEGIN + the signature
    not_modified, statements = _statements(app, client, "/events/feed.ics",
                                           headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304 and statements <= 2
    # An edit changes the signature: the body is built again with the new title, under a new ETag.
    login(client, editor.email)
    occurrence_id = occurrence_ids(series.id)[0]
    with app_context():
        row = db.session.get(EventOccurrence, occurrence_id)
        day = row.starts_at
    from app.core.time import to_tokyo

    local = to_tokyo(day)
    edited = post_form(client, f"/events/occurrences/{occurrence_id}/edit",
                       {"scope": "one", "day": local.date().isoformat(), "start_time": "09:00", "end_time": "10:00",
                        "capacity": "12"}, page=f"/events/occurrences/{occurrence_id}/edit")
    assert edited.status_code == 303
    anonymous = app.test_client()
    changed = anonymous.get("/events/feed.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert b"T090000" in changed.get_data() and changed.get_data() != first.get_data()


def test_list_cards_follow_the_counts_and_anonymous_etag(client, app):
    editor, org = _setup()
    series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "健康体操"}, capacity=5)
    html = client.get("/events/").get_data(as_text=True)
    assert re.search(r"申込</dt><dd>0<", html)
    response = client.get("/events/")
    etag = response.headers["ETag"]
    assert "private" in response.headers["Cache-Control"]
    assert client.get("/events/", headers={"If-None-Match": etag}).status_code == 304

    person = make_user()
    other = app.test_client()
    login(other, person.email)
    post_form(other, f"/events/occurrences/{occurrence_ids(series.id)[0]}/register", {}, page=f"/events/{series.id}")
    # The cached card is keyed by its row: the new count shows at once, and the old ETag no longer matches.
    fresh = client.get("/events/", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and re.search(r"申込</dt><dd>1<", fresh.get_data(as_text=True))
    # Signed-in people get no ETag (their page shows their name).
    assert "ETag" not in other.get("/events/").headers
    # Another browser (another CSRF secret) never gets a 304 for someone else's copy.
    stranger = app.test_client()
    stranger.get("/events/")
    assert stranger.get("/events/", headers={"If-None-Match": fresh.headers["ETag"]}).status_code == 200


def test_filter_panel_is_folded_unless_a_filter_is_active(client):
    editor, org = _setup()
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "写真展"})
    html = client.get("/events/").get_data(as_text=True)
    panel = re.search(r"<details class=\"filters-panel\"[^>]*>", html).group(0)
    assert " open" not in panel
    assert html.index("filters-panel") < html.index("写真展")  # summary first, results right after it
    assert "js/filters.js" in html
    active = client.get("/events/?district=shiba").get_data(as_text=True)
    assert re.search(r"<details class=\"filters-panel\"[^>]*\bopen\b", active)
    assert 'value="shiba" selected' in active


def test_calendar_and_organization_page_use_the_lean_rows(client):
    editor, org = _setup()
    series = make_series(organization_id=org.id, actor_id=editor.id,
                         texts={"title_ja": "盆踊り", "title_en": "Bon dance"})
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")
    html = client.get(f"/events/calendar?month={month}").get_data(as_text=True)
    assert f'href="/events/{series.id}">盆踊り</a>' in html
    client.set_cookie("tsudoi_lang", "en")
    assert f'href="/events/{series.id}">Bon dance</a>' in client.get(f"/events/calendar?month={month}").get_data(
        as_text=True)
    assert "Bon dance" in client.get(f"/organizations/{org.id}").get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventOccurrence)) == 1


def test_broad_and_narrow_filters_choose_the_same_rows(client):
    # One filter walks occurrences by start (EXISTS per series); several take the matching series first (IN).
    editor, org = _setup()
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "芝の無料体操"}, district="shiba",
                category="sports_health", fee_yen=0)
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "芝の有料講座"}, district="shiba",
                category="sports_health", fee_yen=500)
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "麻布の無料体操"}, district="azabu",
                category="sports_health", fee_yen=0)

    def titles(query):
        page = client.get(f"/events/?{query}").get_data(as_text=True)
        return {t for t in ("芝の無料体操", "芝の有料講座", "麻布の無料体操") if t in page}

    assert titles("district=shiba") == {"芝の無料体操", "芝の有料講座"}
    assert titles("free=1") == {"芝の無料体操", "麻布の無料体操"}
    assert titles("district=shiba&free=1") == {"芝の無料体操"}
    assert titles("district=shiba&category=sports_health&free=1") == {"芝の無料体操"}
    assert titles("q=体操&district=azabu") == {"麻布の無料体操"}


def test_month_calendar_is_cached_until_the_data_changes(client, app):
    editor, org = _setup()
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "月例会"},
                first_date=date.today() + timedelta(days=10))
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")
    url = f"/events/calendar?month={month}"
    first, _n = _statements(app, client, url)
    again, statements = _statements(app, client, url)
    assert again.get_data() == first.get_data() and "月例会" in first.get_data(as_text=True)
    assert statements <= 2  # BEGIN + the change signature: the month's links come from the cache
    # A new event that month changes the signature: it shows at once.
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "臨時の集まり"},
                first_date=date.today() + timedelta(days=10))
    assert "臨時の集まり" in client.get(url).get_data(as_text=True)
    # So does a new title.
    series_id = int(re.search(r'href="/events/(\d+)">月例会<', first.get_data(as_text=True)).group(1))
    with app_context():
        from app.events.models import EventSeries

        db.session.get(EventSeries, series_id).title_ja = "月例会(会場変更)"
        db.session.commit()
    assert "月例会(会場変更)" in client.get(url).get_data(as_text=True)
