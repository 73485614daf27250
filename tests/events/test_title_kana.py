"""The title's reading (名称_カナ): typed on the form or through the API, checked, kept on errors, and preferred by
the open-data CSV over the generated reading."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from app.events.models import EventSeries
from app.extensions import db
from tests.api.factories import bearer, make_token
from tests.api.test_events import _event_body
from tests.events.factories import form_data, make_series
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization


def _csv_kana(client) -> list[str]:
    body = client.get("/opendata/events.csv").data.decode("utf-8-sig")
    return [row["イベント名_カナ"] for row in csv.DictReader(io.StringIO(body, newline=""))]


def _stored_kana() -> list[str | None]:
    with app_context():
        return list(db.session.scalars(sa.select(EventSeries.title_kana).order_by(EventSeries.id)))


def test_form_reading_is_checked_normalised_and_used_by_the_csv(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    url = f"/events/new?org={org.id}"
    for bad in ("港まつり", "MINATO", "ミナト!", "ア" * 201):
        response = post_form(client, url, form_data(title_ja="港まつり", title_kana=bad,
                                                     description_ja="消えない説明"))
        html = response.get_data(as_text=True)
        assert response.status_code == 422, bad
        assert "タイトルの読みは、カタカナ" in html and "消えない説明" in html
    assert _stored_kana() == []

    # Half-width kana, hiragana and a full-width space come out as full-width katakana with one space.
    response = post_form(client, url, form_data(title_ja="港まつり", title_kana="ﾐﾅﾄ　まつり・ｲﾁ"))
    assert response.status_code == 303
    assert _stored_kana() == ["ミナト マツリ・イチ"]
    series_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    edit = client.get(f"/events/{series_id}/edit").get_data(as_text=True)
    assert 'value="ミナト マツリ・イチ"' in edit


def test_csv_prefers_the_given_reading_and_generates_one_otherwise(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "港区民まつり"},
                title_kana="ミナトクミン マツリ")
    make_series(organization_id=org.id, actor_id=editor.id, texts={"title_ja": "日本語教室"})
    assert sorted(_csv_kana(client)) == sorted(["ミナトクミン マツリ", "ニホンゴキョウシツ"])


def test_api_create_and_patch_the_reading(client):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    _tid, secret = make_token(editor)
    bad = client.post("/api/v1/events", json=_event_body(org.id, title_kana="Summer"), headers=bearer(secret))
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "title_kana"
    assert _stored_kana() == []

    created = client.post("/api/v1/events", json=_event_body(org.id, title_kana="しょうてんがいのなつまつり"),
                          headers=bearer(secret))
    assert created.status_code == 201
    event = created.get_json()
    assert event["title_kana"] == "ショウテンガイノナツマツリ"
    patched = client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 20}, headers=bearer(secret))
    assert patched.get_json()["title_kana"] == "ショウテンガイノナツマツリ"  # kept when not sent
    cleared = client.patch(f"/api/v1/events/{event['id']}", json={"title_kana": None}, headers=bearer(secret))
    assert cleared.status_code == 200 and cleared.get_json()["title_kana"] is None
    assert _csv_kana(client)[0] == "ショウテンガイノナツマツリ"
