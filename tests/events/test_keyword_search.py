"""Keyword search: full-width / half-width and case do not matter (NFKC + casefold on both sides), organization
names match in every language, on the list page and the API; the stored form is search_key's."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa

from app.events.models import EventSeries, search_key
from app.extensions import db
from tests.events.factories import make_series
from tests.factories import app_context, make_user
from tests.organizations.factories import make_organization


def _setup():
    editor = make_user()
    shiba = make_organization(name="芝町会", name_en="Shiba Residents", name_easy="しば ちょうかい",
                              editor_id=editor.id)
    azabu = make_organization(name="麻布（あざぶ）商店会", editor_id=editor.id)
    make_series(organization_id=shiba.id, actor_id=editor.id,
                texts={"title_ja": "ＡＢＣ英会話", "title_en": "Bon Dance", "summary_ja": "ﾐﾅﾄの夏"})
    make_series(organization_id=azabu.id, actor_id=editor.id, texts={"title_ja": "防災訓練"})


def _titles(client, keyword: str) -> set[str]:
    page = client.get(f"/events/?q={quote(keyword)}").get_data(as_text=True)
    return {t for t in ("ＡＢＣ英会話", "防災訓練") if t in page}


def test_width_and_case_do_not_matter(client):
    _setup()
    for keyword in ("abc", "ＡＢＣ", "Abc英会話", "ｂｏｎ　ＤＡＮＣＥ", "BON DANCE", "ミナト", "ﾐﾅﾄの"):
        assert _titles(client, keyword) == {"ＡＢＣ英会話"}, keyword
    assert _titles(client, "xyz") == set()
    with app_context():
        stored = db.session.scalar(sa.select(EventSeries.search_text).where(EventSeries.title_ja == "ＡＢＣ英会話"))
    assert "abc英会話" in stored and "bon dance" in stored and "ミナトの夏" in stored


def test_organization_names_in_every_language(client):
    _setup()
    for keyword in ("芝町会", "shiba residents", "ＳＨＩＢＡ", "しば ちょうかい"):
        assert _titles(client, keyword) == {"ＡＢＣ英会話"}, keyword
    assert _titles(client, "麻布（あざぶ）") == {"防災訓練"}  # full-width brackets typed as stored
    assert _titles(client, "商店会") == {"防災訓練"}


def test_api_search_is_normalized_too(client):
    _setup()
    events = client.get(f"/api/v1/events?q={quote('ＳＨＩＢＡ ＲＥＳＩＤＥＮＴＳ')}").get_json()
    items = events["items"] if isinstance(events, dict) else events
    assert [e["title"]["ja"] for e in items] == ["ＡＢＣ英会話"]


def test_a_nul_in_the_keyword_is_a_clear_400(client):
    """PostgreSQL refuses NUL in a string parameter (a 500 once): the list, the calendar and the API say so."""
    _setup()
    for url in ("/events/?q=%E9%98%B2%00", "/events/calendar?q=%00", "/api/v1/events?q=%00"):
        response = client.get(url)
        text = response.get_json()["error"]["message"] if response.is_json else response.get_data(as_text=True)
        assert response.status_code == 400 and "使えない文字" in text, url


def test_search_key():
    assert search_key("ＡＢＣ　Straße ﾐﾅﾄ") == "abc strasse ミナト"
    assert search_key(None) == ""
