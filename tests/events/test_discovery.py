"""Public discovery: the list with counts and filters, constant query count, event page JSON-LD and Open Graph,
and ICS feeds (VTIMEZONE, stable UIDs, SEQUENCE, cancellations, escaping, ETag/Last-Modified with 304)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import sqlalchemy as sa
from icalendar import Calendar

from app.core.districts import District
from app.events.models import EventSeries, EventStatus, Registration, RegistrationStatus
from app.extensions import db
from tests.events.factories import make_series, occurrence_ids
from tests.factories import app_context, login, make_user, post_form, recorded_statements
from tests.organizations.factories import make_organization


def _setup(**series_overrides):
    editor = make_user()
    org = make_organization(name="高輪町会", editor_id=editor.id, district=District.TAKANAWA)
    series = make_series(organization_id=org.id, actor_id=editor.id, **series_overrides)
    return editor, org, series


def _register(series_id, occurrence_id, app, n):
    for _ in range(n):
        user = make_user()
        c = app.test_client()
        login(c, user.email)
        post_form(c, f"/events/occurrences/{occurrence_id}/register", {}, page=f"/events/{series_id}")


def test_list_shows_counts_and_filters(client, app):
    _editor, org, series = _setup(capacity=2, texts={"title_ja": "盆踊り大会", "title_en": "Bon Dance"},
                                  category="community", district="takanawa", audiences=["children"],
                                  accessibility={"wheelchair_accessible": True}, foreign_languages=["en"])
    make_series(organization_id=org.id, actor_id=_editor.id, texts={"title_ja": "防災訓練"}, fee_yen=500,
                category="safety", district="shiba")
    make_series(organization_id=org.id, actor_id=_editor.id, texts={"title_ja": "下書きの催し"},
                status=EventStatus.DRAFT)
    _register(series.id, occurrence_ids(series.id)[0], app, 3)

    html = client.get("/events/").get_data(as_text=True)
    assert "盆踊り大会" in html and "防災訓練" in html and "下書きの催し" not in html
    card = html[html.index("盆踊り大会"):html.index("盆踊り大会") + 1500]
    assert re.search(r"定員</dt><dd>2<", card) and re.search(r"申込</dt><dd>2<", card)
    assert re.search(r"キャンセル待ち</dt><dd>1<", card)

    def titles(query):
        page = client.get(f"/events/?{query}").get_data(as_text=True)
        return {t for t in ("盆踊り大会", "防災訓練") if t in page}

    assert titles("district=takanawa") == {"盆踊り大会"}
    assert titles("category=safety") == {"防災訓練"}
    assert titles("audience=children") == {"盆踊り大会"}
    assert titles("access=wheelchair_accessible") == {"盆踊り大会"}
    assert titles("free=1") == {"盆踊り大会"}
    assert titles("lang=en") == {"盆踊り大会"}
    assert titles("q=bon+dance") == {"盆踊り大会"}  # English text, any case
    assert titles("q=高輪町会") == {"盆踊り大会", "防災訓練"}  # organizer name
    assert titles("q=%25") == set()  # LIKE wildcards are literal
    later = (date.today() + timedelta(days=20)).isoformat()
    assert titles(f"from={later}") == set()
    assert titles("district=nowhere&category=bad&from=not-a-date") == {"盆踊り大会", "防災訓練"}


def test_list_query_count_does_not_grow(client, app):
    editor, org, _series = _setup()
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")

    def measure():
        counts = []
        for url in ("/events/", f"/events/calendar?month={month}", "/events/feed.ics"):
            with recorded_statements(app) as statements:
                assert client.get(url).status_code == 200
            counts.append(len(statements))
        return counts

    small = measure()
    other = make_organization(name="協力団体")
    for n in range(8):
        series = make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": f"催し{n}"},
                             audiences=["seniors"], partner_ids=[other.id], frequency="weekly",
                             first_date=date.today() + timedelta(days=3),
                             until_date=date.today() + timedelta(days=30))
        _register(series.id, occurrence_ids(series.id)[0], app, 1)
    large = measure()
    assert small == large, (small, large)


def test_event_page_json_ld_and_open_graph(client):
    hostile = '</script><script>alert(1)</script> & "quotes"'
    _editor, _org, series = _setup(texts={"title_ja": hostile, "summary_ja": "説明 <b>太字</b>"}, fee_yen=300)
    response = client.get(f"/events/{series.id}")
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = json.loads(match.group(1))
    assert data[0]["@type"] == "Event" and data[0]["name"] == hostile
    assert data[0]["eventStatus"] == "https://schema.org/EventScheduled"
    assert data[0]["offers"]["price"] == 300 and data[0]["organizer"]["name"] == "高輪町会"
    assert data[0]["startDate"].endswith("+09:00")
    assert 'property="og:title"' in html and "&lt;/script&gt;" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_language_fallback_note(client):
    _editor, _org, series = _setup(texts={"title_ja": "日本語教室", "title_en": "Japanese class",
                                         "summary_ja": "初めての方も歓迎"})
    client.set_cookie("tsudoi_lang", "en")
    html = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert "Japanese class" in html
    assert 'class="notice fallback-note"' in html  # the summary fell back to Japanese
    client.set_cookie("tsudoi_lang", "ja-easy")  # no easy text at all: the notice says so in easy words
    html = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert "やさしい にほんごが ありません" in html and "日本語教室" in html
    client.set_cookie("tsudoi_lang", "ja")
    html = client.get(f"/events/{series.id}").get_data(as_text=True)
    assert "fallback-note" not in html


def _vevents(body: bytes):
    calendar = Calendar.from_ical(body)
    return calendar, [c for c in calendar.walk() if c.name == "VEVENT"]


def test_ics_feed(client, app):
    editor, org, series = _setup(frequency="weekly", first_date=date.today() + timedelta(days=2),
                                 until_date=date.today() + timedelta(days=16),
                                 texts={"title_ja": "悪い題\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM",
                                        "summary_ja": "一行目\n二行目; カンマ, 入り"})
    response = client.get("/events/feed.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data()
    calendar, events = _vevents(body)
    assert len(events) == 3
    assert [c for c in calendar.walk() if c.name == "VTIMEZONE"][0]["TZID"] == "Asia/Tokyo"
    assert not [c for c in calendar.walk() if c.name == "VALARM"]
    assert not re.search(rb"^BEGIN:VALARM", body, re.M)
    assert str(events[0]["DESCRIPTION"]) == "一行目\n二行目; カンマ, 入り"
    assert events[0]["DTSTART"].params.get("TZID") == "Asia/Tokyo"
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == 3 and all(str(e["STATUS"]) == "CONFIRMED" for e in events)

    # Conditional requests.
    etag = response.headers["ETag"]
    assert client.get("/events/feed.ics", headers={"If-None-Match": etag}).status_code == 304
    last_modified = response.headers["Last-Modified"]
    assert client.get("/events/feed.ics", headers={"If-Modified-Since": last_modified}).status_code == 304

    # Cancelling keeps the UIDs, raises SEQUENCE and shows STATUS:CANCELLED; the ETag changes.
    login(client, editor.email)
    post_form(client, f"/events/{series.id}/cancel", {"reason": "雨天"})
    anonymous = app.test_client()
    changed = anonymous.get("/events/feed.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    _calendar, after = _vevents(changed.get_data())
    assert [str(e["UID"]) for e in after] == uids
    assert all(str(e["STATUS"]) == "CANCELLED" and int(e["SEQUENCE"]) == 1 for e in after)

    assert len(_vevents(anonymous.get("/events/feed.ics?district=shiba&category=safety").get_data())[1]) == 3
    assert len(_vevents(anonymous.get("/events/feed.ics?district=azabu").get_data())[1]) == 0
    assert len(_vevents(anonymous.get("/events/feed.ics?category=tourism").get_data())[1]) == 0
    assert anonymous.get("/events/feed.ics?district=mars").status_code == 404

    org_feed = anonymous.get(f"/events/organizations/{org.id}/feed.ics")
    assert len(_vevents(org_feed.get_data())[1]) == 3
    assert anonymous.get("/events/organizations/999999/feed.ics").status_code == 404


def test_month_calendar(client):
    day = date.today() + timedelta(days=40)
    _editor, _org, _series = _setup(texts={"title_ja": "月の催し"}, first_date=day)
    html = client.get(f"/events/calendar?month={day.strftime('%Y-%m')}").get_data(as_text=True)
    assert "月の催し" in html and f"{day.month}月" in html
    other = day + timedelta(days=62)
    assert "月の催し" not in client.get(f"/events/calendar?month={other.strftime('%Y-%m')}").get_data(as_text=True)
    assert "月の催し" not in client.get(f"/events/calendar?month={day.strftime('%Y-%m')}&category=tourism"
                                        ).get_data(as_text=True)
    for bad in ("garbage", "9999-12", "2026-13", "1-2-3"):
        assert client.get(f"/events/calendar?month={bad}").status_code == 200


def test_organization_page_lists_upcoming_events(client):
    _editor, org, _series = _setup(texts={"title_ja": "まち歩き"})
    html = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert "まち歩き" in html and f"/events/organizations/{org.id}/feed.ics" in html


def test_my_events_lists_only_mine(client, app):
    _editor, _org, series = _setup(texts={"title_ja": "子ども食堂"})
    _other_editor, _other_org, other = _setup(texts={"title_ja": "他の催し"})
    user = make_user()
    login(client, user.email)
    post_form(client, f"/events/occurrences/{occurrence_ids(series.id)[0]}/register", {},
              page=f"/events/{series.id}")
    html = client.get("/events/mine").get_data(as_text=True)
    assert "子ども食堂" in html and "他の催し" not in html
    assert app.test_client().get("/events/mine").status_code == 302
    with app_context():
        assert db.session.scalar(sa.select(Registration.status)) == RegistrationStatus.CONFIRMED
        assert db.session.get(EventSeries, other.id) is not None


def test_private_my_events_feed(client, app):
    _editor, _org, series = _setup(texts={"title_ja": "わたしの催し"})
    _other_editor, _other_org, _other = _setup(texts={"title_ja": "ほかの催し"})
    user = make_user()
    login(client, user.email)
    post_form(client, f"/events/occurrences/{occurrence_ids(series.id)[0]}/register", {},
              page=f"/events/{series.id}")
    html = client.get("/events/mine").get_data(as_text=True)
    feed_path = re.search(r"http://localhost(/events/my/[^<\s]+/feed\.ics)", html).group(1)
    anonymous = app.test_client()  # calendar apps do not sign in
    response = anonymous.get(feed_path)
    assert response.status_code == 200 and "private" in response.headers["Cache-Control"]
    _calendar, events = _vevents(response.get_data())
    assert [str(e["SUMMARY"]) for e in events] == ["わたしの催し"]
    assert anonymous.get(feed_path.replace("/feed.ics", "x/feed.ics")).status_code == 404
    # A new password makes the old address stop working.
    from app.accounts.models import User
    from app.core.time import utcnow

    with app_context():
        db.session.get(User, user.id).password_changed_at = utcnow() + timedelta(seconds=5)
        db.session.commit()
    assert anonymous.get(feed_path).status_code == 404
