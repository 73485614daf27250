"""The catalog's texts in three languages (issue 19): every indicator name, policy and measure title and footnote
has an English and an easy version beside the Japanese as printed, worded by docs/i18n.md, and the pages show
them in the reader's language."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app.core.i18n import LANGUAGE_COOKIE
from app.core.permissions import Role
from app.extensions import db
from app.indicators import texts
from app.indicators.catalog import PLAN_TEXT_PATH, read_catalog
from app.indicators.models import Indicator
from app.indicators.queries import POLICY_TITLES
from tests.core.test_catalog_wording import (
    ENGLISH_AVOIDED,
    JAPANESE_TEXT,
    bare_hard_kanji,
    glossary,
    kanji_words,
    read_without_spaces,
    term_in,
)
from tests.factories import login, make_user

CATALOG = {spec.code: spec for spec in read_catalog()}
PLAN_TEXT = PLAN_TEXT_PATH.read_text(encoding="utf-8")


def every_text():
    """(where, Texts) for every translated text of the catalog: 40 names, the measure titles, the footnotes
    and the 6 policy titles."""
    for code, fields in texts.catalog_texts().items():
        for field, value in fields.items():
            yield f"{code} {field}", value
    for policy, value in texts.policy_texts().items():
        yield f"policy {policy}", value


ALL = list(every_text())


def test_every_text_of_the_catalog_is_translated():
    assert len(texts.catalog_texts()) == 40
    for code, spec in CATALOG.items():
        fields = texts.catalog_texts()[code]
        assert fields["name"].ja == spec.name
        assert ("measure_title" in fields) == (spec.measure_title is not None)
        assert ("footnotes" in fields) == (spec.footnotes is not None)
    assert sorted(texts.policy_texts()) == [9, 10, 11, 12, 13, 14]
    for where, value in ALL:
        assert value.ja and value.en and value.easy, where
    # 40 names + 34 measure titles + 27 footnotes + 6 policy titles
    assert len(ALL) == 40 + sum(s.measure is not None for s in CATALOG.values()) + sum(
        s.footnotes is not None for s in CATALOG.values()) + 6


def test_the_japanese_stays_as_printed():
    """The Japanese beside the translations is the plan's (test_catalog checks names, measure titles and
    footnotes against the plan text line by line; the policy titles are its headings)."""
    for policy, title in POLICY_TITLES.items():
        assert f"政策({policy}) {title}\n" in PLAN_TEXT
        assert texts.policy_texts()[policy].ja == title
    assert POLICY_TITLES[11] == "伝統と最先端技術が融合した区内産業を支援する"


@pytest.mark.parametrize(("where", "value"), ALL, ids=[where for where, _v in ALL])
def test_english_reads_as_english(where, value):
    assert not JAPANESE_TEXT.findall(value.en), value.en
    assert "※" not in value.en
    for avoided, instead in ENGLISH_AVOIDED.items():
        assert not re.search(avoided, value.en, re.IGNORECASE), f"say {instead}: {value.en}"
    assert "organization" not in value.en.lower()  # 団体 is "group" in the interface


@pytest.mark.parametrize(("where", "value"), ALL, ids=[where for where, _v in ALL])
def test_easy_text_follows_the_style_rule(where, value):
    """Kanji beyond the first two grades carry <ruby> (the texts render as HTML), no keigo words."""
    assert bare_hard_kanji(value.easy) == "", value.easy
    assert value.easy.count("<ruby>") == value.easy.count("</ruby>") == value.easy.count("<rt>")
    assert not re.search(r"ございます|いたし|ください", value.easy)


@pytest.mark.parametrize(("where", "value"), ALL, ids=[where for where, _v in ALL])
def test_glossary_terms_are_said_the_one_way(where, value):
    for row in glossary():
        if not term_in(value.ja, row["term"]):
            continue
        assert re.search(row["easy_accepts"], read_without_spaces(value.easy)), (row["term"], value.easy)
        assert re.search(row["english_accepts"], value.en, re.IGNORECASE), (row["term"], value.en)
        outside_ruby = re.sub(r"<ruby>.*?</ruby>", "", value.easy)
        assert not [word for word in kanji_words(row) if word in outside_ruby], (row["term"], value.easy)


def test_footnotes_keep_their_marks_and_count():
    for code, fields in texts.catalog_texts().items():
        if "footnotes" not in fields:
            continue
        value = fields["footnotes"]
        parts = value.ja.split(" / ")
        assert len(value.en.split(" / ")) == len(value.easy.split(" / ")) == len(parts), code
        for ja, en, easy in zip(parts, value.en.split(" / "), value.easy.split(" / "), strict=True):
            mark = re.match(r"※\d?", ja).group()
            assert en.startswith(mark.replace("※", "*") + " "), (code, en)
            assert easy.startswith(mark + " "), (code, easy)


def test_a_changed_japanese_text_falls_back_instead_of_a_stale_translation():
    class Changed:
        code, name, measure_title, footnotes = "P09-04-1", "区民センター利用率(改)", None, None

    assert texts.indicator_text(Changed, "name", "en") == ("区民センター利用率(改)", True)
    assert texts.indicator_text(Changed, "name", "ja") == ("区民センター利用率(改)", False)
    assert texts.indicator_text(Changed, "measure_title", "en") == (None, False)
    Changed.name = "区民センター利用率"
    assert texts.indicator_text(Changed, "name", "en") == ("Community center utilization rate", False)
    assert texts.indicator_texts(Changed, "name")["easy"].startswith("<ruby>区民")


def test_measure_marks_read_in_each_language():
    assert texts.measure_label("施策③", "en") == "Measure 3"
    assert texts.measure_label("施策③", "ja-easy") == "<ruby>施策<rt>しさく</rt></ruby>③"
    assert texts.measure_label("施策③", "ja") == "施策③"
    assert texts.measure_label(None, "en") is None
    assert texts.measure_label("施策X", "en") == "施策X"  # not a printed mark: left as it is


# --- the pages --------------------------------------------------------------------------------------------


def _page(client, path, lang):
    client.set_cookie(LANGUAGE_COOKIE, lang)
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _japanese_texts():
    for fields in texts.catalog_texts().values():
        for value in fields.values():
            yield value.ja
    for value in texts.policy_texts().values():
        yield value.ja


def test_public_page_in_english_shows_no_japanese_catalog_text(client, catalog):
    html = _page(client, "/indicators", "en")
    for japanese in _japanese_texts():
        for part in japanese.split(" / "):
            assert str(escape(part)) not in html, part
    for _where, value in ALL:
        for part in value.en.split(" / "):
            assert str(escape(part)) in html, part
    assert "この言語の説明がないため" not in html and 'lang="ja"' not in html.split("<main", 1)[-1]
    # The names are in English: the table's row headers hold no Japanese script (units are printed after them).
    headers = re.findall(r'<th scope="row">(.*?)<small', html, re.S)
    assert len(headers) == 40 and not any(JAPANESE_TEXT.search(h) for h in headers)
    measures = re.findall(r"<tr>\s*<td>(.*?)</td>", html, re.S)
    assert len(measures) == 40 and not any(JAPANESE_TEXT.search(m) for m in measures)
    assert "Measure 1" in html and "施策①" not in html
    # Nor anywhere else in the page's main part: units, years and the plan's 達成 read as English too.
    main = re.sub(r"<[^>]+>", " ", html.split("<main", 1)[-1].split("</main>", 1)[0])
    assert not JAPANESE_TEXT.findall(main), sorted(set(JAPANESE_TEXT.findall(main)))[:20]
    assert "people" in main and "end of FY2026" in main and "Achieved" in main


def test_public_page_in_easy_japanese_shows_the_easy_texts(client, catalog):
    html = _page(client, "/indicators", "ja-easy")
    for _where, value in ALL:
        for part in value.easy.split(" / "):
            assert str(escape(part)).replace("&lt;", "<").replace("&gt;", ">") in html, part
    assert "<ruby>割合<rt>わりあい</rt></ruby>" in html and "&lt;ruby&gt;" not in html
    assert "区民センター利用率" not in html


def test_public_page_in_japanese_is_as_printed(client, catalog):
    html = _page(client, "/indicators", "ja")
    for japanese in _japanese_texts():
        for part in japanese.split(" / "):
            assert str(escape(part)) in html, part
    assert "Community center utilization rate" not in html


@pytest.fixture
def staff(client, catalog):
    user = make_user(role=Role.WARD_STAFF, display_name="区職員 山田")
    login(client, user.email)
    return user


@pytest.mark.parametrize("lang", ["en", "ja-easy"])
def test_staff_pages_show_the_texts_in_the_language(client, staff, lang):
    code = "P11-03-1"  # a measure, two footnotes
    fields = texts.catalog_texts()[code]
    field = "en" if lang == "en" else "easy"

    def shown(text):
        return str(escape(text)).replace("&lt;", "<").replace("&gt;", ">")

    detail = _page(client, f"/staff/indicators/{code}", lang)
    for value in (*fields.values(), texts.policy_texts()[11]):
        assert shown(getattr(value, field)) in detail
        assert str(escape(value.ja)) not in detail
    listing = _page(client, "/staff/indicators", lang)
    assert shown(getattr(fields["name"], field)) in listing and str(escape(fields["name"].ja)) not in listing
    rules = _page(client, "/staff/indicators/P09-05-1/rules", lang)  # an event-based indicator
    assert shown(getattr(texts.catalog_texts()["P09-05-1"]["name"], field)) in rules
    participants = _page(client, "/participation/staff/participants", lang)
    assert "地域と連携・協働、支援しているイベントの参加者数" not in participants


def test_an_untranslated_name_shows_the_japanese_with_the_notice(client, staff, app):
    with app.app_context():
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P13-01-2"))
        indicator.name = "シンボルマークの利用申請件数(新)"
        db.session.commit()
    html = _page(client, "/staff/indicators/P13-01-2", "en")
    assert '<span lang="ja">シンボルマークの利用申請件数(新)</span>' in html
    listing = _page(client, "/indicators", "en")
    assert '<span lang="ja">シンボルマークの利用申請件数(新)</span>' in listing
    other = _page(client, "/staff/indicators/P13-01-1", "en")  # a translated one: no notice
    assert 'class="notice fallback-note"' not in other
    assert 'class="notice fallback-note"' in html and 'class="notice fallback-note"' in listing


def test_api_gives_the_texts_in_three_languages(client, catalog):
    body = client.get("/api/v1/indicators/P11-03-1").get_json()
    fields = texts.catalog_texts()["P11-03-1"]
    assert body["name"] == fields["name"].ja
    assert body["names"] == {"ja": fields["name"].ja, "en": fields["name"].en, "easy": fields["name"].easy}
    assert body["measure_titles"]["en"] == fields["measure_title"].en
    assert body["footnote_texts"]["en"] == fields["footnotes"].en
    assert body["policy_titles"]["ja"] == POLICY_TITLES[11]
    level = client.get("/api/v1/indicators/P11-00-1").get_json()
    assert level["measure_titles"] is None and level["names"]["en"].startswith("Share of residents satisfied")
