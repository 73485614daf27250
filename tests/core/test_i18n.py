"""Three interface languages: complete catalogs, switching without JS, error pages in every language."""

from __future__ import annotations

import fnmatch
import html
import os
import re
from collections import Counter
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import abort

from app.accounts.models import User
from app.core.errors import ERROR_TITLES, Conflict
from app.core.i18n import LANGUAGE_COOKIE, LANGUAGES, plain, ruby, use_language
from app.extensions import db
from tests.factories import app_context, csrf_token, login, make_user, post_form

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
CATALOGS = {
    "en": TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po",
    "ja-easy": TRANSLATIONS / "ja" / "LC_MESSAGES" / "easy.po",
}
# The same keywords as `make i18n` (pybabel's defaults: _, gettext, ngettext, ... plus the lazy ones).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
IGNORED_DIRS = (".*", "__pycache__", "node_modules", "instance")
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\w*\}")
JAPANESE_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
# Where Jinja puts a message in an attribute value (escaped there) or an <option> (text only): furigana
# tags would show as text.
ATTRIBUTE_MESSAGE = re.compile(r"""(?:[\w:-]+="[^"]*|<option[^>]*>\s*)\{\{\s*_\(\s*(['"])(.*?)\1""")


def _keep_dir(path: str) -> bool:
    return not any(fnmatch.fnmatch(os.path.basename(path), pattern) for pattern in IGNORED_DIRS)


@cache
def source_messages() -> dict[tuple[str | tuple[str, ...], str | None], tuple[str, ...]]:
    """Every (message, context) in templates/ and app/ (babel.cfg mapping), with where it is used."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj)
    found: dict = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_keep_dir
    ):
        found.setdefault((message, context), set()).add(f"{filename}:{lineno}")
    return {key: tuple(sorted(places)) for key, places in found.items()}


@cache
def catalog(code: str):
    with open(CATALOGS[code], "rb") as fileobj:
        return read_po(fileobj)


def _key(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


def _ruby_allowed(message_id, places: tuple[str, ...], attribute_ids: set[str]) -> bool:
    """Furigana only where it renders or is stripped: page text, flashes, error pages, e-mail bodies, plain().

    Form labels and choices (escaped by WTForms), enum labels, API messages, attribute values and <option>
    text must stay free of tags.
    """
    if _key(message_id) in attribute_ids:
        return False
    for place in places:
        path, line = place.rsplit(":", 1)
        if path.endswith(".html") or path == "app/core/errors.py":
            continue
        if path.startswith("templates/mail/"):
            continue  # queue_mail strips furigana from the whole body
        if path.endswith(".py") and not path.startswith("app/api/") and _shown_safely(path, int(line)):
            continue
        return False
    return True


def _shown_safely(path: str, line: int) -> bool:
    """A flashed message or field error (shown through |ruby), or one passed through plain(). The success= of
    request_transaction is flashed."""
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    near = lines[max(0, line - 3) : line]
    # Field errors are shown through |ruby by the form macros.
    return any("flash(" in text or ".errors.append(" in text or "success=" in text
               for text in near) or "plain(" in lines[line - 1]


def _attribute_message_ids() -> set[str]:
    found = set()
    for path in (ROOT / "templates").rglob("*.html"):
        found.update(match.group(2) for match in ATTRIBUTE_MESSAGE.finditer(path.read_text(encoding="utf-8")))
    return found


# --- (a) the catalogs are complete ---------------------------------------------------------------------


def test_extraction_finds_messages_from_python_templates_and_macros():
    messages = {message for message, _context in source_messages()}
    places = {place.rsplit(":", 1)[0] for found in source_messages().values() for place in found}
    assert "ページが見つかりません" in messages  # lazy_gettext as _l in app/core/errors.py
    assert "入力内容を確かめてください。" in messages  # templates/_macros/ (directories starting with _)
    assert "%(name)s 様" in messages  # e-mail templates (.txt)
    assert any(p.startswith("templates/") for p in places) and any(p.startswith("app/") for p in places)


@pytest.mark.parametrize("code", sorted(CATALOGS))
def test_every_message_is_translated(code):
    translations = catalog(code)
    problems = []
    for (message_id, context), places in sorted(source_messages().items(), key=lambda item: str(item[0])):
        entry = translations.get(_key(message_id), context=context)
        where = places[0]
        if entry is None:
            problems.append(f"missing (run `make i18n`): {message_id!r} ({where})")
            continue
        strings = entry.string if isinstance(entry.string, (list, tuple)) else (entry.string,)
        if entry.fuzzy or not all(strings):
            problems.append(f"{'fuzzy' if entry.fuzzy else 'untranslated'}: {message_id!r} ({where})")
            continue
        sources = message_id if isinstance(message_id, tuple) else (message_id,)
        expected = _placeholders(sources[-1])
        for text in strings:
            # Plural forms may leave out the count; every other placeholder must survive translation.
            if _placeholders(text) != expected and not (len(sources) > 1 and _placeholders(text) <= expected):
                problems.append(f"placeholders differ: {message_id!r} -> {text!r}")
            # Jinja formats every message with %, arguments or not: a lone % (say "率(%)") is a 500 at render
            # time. Write %% where the source does.
            if "%" in PLACEHOLDER.sub("", text) and "%" not in PLACEHOLDER.sub("", sources[-1]):
                problems.append(f"a lone % (write %%): {message_id!r} -> {text!r}")
    assert not problems, f"{len(problems)} problems in {CATALOGS[code].name}:\n" + "\n".join(problems[:40])


def test_english_translations_contain_no_japanese():
    leftovers = [
        (entry.id, entry.string)
        for entry in catalog("en")
        if entry.id and JAPANESE_CHARS.search(str(entry.string))
    ]
    assert not leftovers, leftovers[:20]


def test_easy_japanese_furigana_is_well_formed_and_only_where_it_renders():
    attribute_ids = _attribute_message_ids()
    messages = {(_key(message), context): places for (message, context), places in source_messages().items()}
    problems = []
    for entry in catalog("ja-easy"):
        if not entry.id:
            continue
        for text in entry.string if isinstance(entry.string, (list, tuple)) else (entry.string,):
            tags = re.findall(r"<[^>]*>", text)
            if any(tag not in {"<ruby>", "</ruby>", "<rt>", "</rt>"} for tag in tags):
                problems.append(f"unexpected tag: {text!r}")
            stripped = re.sub(r"<ruby>[^<>]+<rt>[^<>]+</rt></ruby>", "", text)
            if "<" in stripped:
                problems.append(f"malformed ruby: {text!r}")
            places = messages.get((_key(tuple(entry.id) if isinstance(entry.id, list) else entry.id), entry.context))
            in_attributes = attribute_ids if entry.context is None else set()  # the scan sees _() only
            if tags and places and not _ruby_allowed(entry.id, places, in_attributes):
                problems.append(f"furigana where it would show as tags ({places[0]}): {text!r}")
    assert not problems, "\n".join(problems[:40])


def test_ruby_filter_keeps_furigana_and_escapes_the_rest():
    assert ruby("<ruby>予約<rt>よやく</rt></ruby>&<script>") == (
        "<ruby>予約<rt>よやく</rt></ruby>&amp;&lt;script&gt;"
    )
    assert plain("<ruby>予約<rt>よやく</rt></ruby>します") == "予約します"
    assert type(plain("<b>")) is str
    # Markup stays Markup (already escaped): no double escaping of names inside messages.
    from markupsafe import Markup

    assert plain(Markup("O&#39;Brien <ruby>様<rt>さま</rt></ruby>")) == Markup("O&#39;Brien 様")


# --- (b) choosing and switching the language -----------------------------------------------------------


def _html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "no <html lang>"
    return match.group(1)


def _title(response) -> str:
    match = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S)
    assert match, "no <title>"
    return html.unescape(match.group(1))


def switch(client, code, next_url="/"):
    return post_form(client, "/language", {"lang": code, "next": next_url}, page="/")


def test_switcher_is_a_plain_form_with_the_three_languages(client):
    page = client.get("/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/language"[^>]*>(.*?)</form>', page, re.S)
    assert form, "language switcher form missing"
    assert 'name="csrf_token"' in form.group(1)
    for code in LANGUAGES:
        assert f'name="lang" value="{code}"' in form.group(1)
    assert "<script" not in page  # works without JS


def test_switching_sets_a_cookie_and_returns_to_the_page(client):
    response = switch(client, "en", "/account/login?next=%2Faccount%2Fprofile")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/login?next=%2Faccount%2Fprofile"
    cookie_header = response.headers["Set-Cookie"]
    assert cookie_header.startswith(f"{LANGUAGE_COOKIE}=en;") and "HttpOnly" in cookie_header
    assert "SameSite=Lax" in cookie_header
    assert client.get_cookie(LANGUAGE_COOKIE).value == "en"
    page = client.get("/account/login")
    assert _html_lang(page) == "en"
    assert _title(page).endswith("Tsudoi: Community Activities and Room Booking in Minato City")
    assert re.search(r'value="en"[^>]*aria-current="true"', page.get_data(as_text=True))


def test_easy_japanese_is_japanese_html_with_furigana(client):
    switch(client, "ja-easy")
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert _html_lang(page) == "ja"
    assert 'data-variant="easy"' in text
    assert "<ruby>" in text and "<rt>" in text  # furigana rendered as markup
    assert "&lt;ruby&gt;" not in text and "<ruby" not in _title(page)
    switch(client, "ja")
    page = client.get("/")
    assert _html_lang(page) == "ja" and 'data-variant="easy"' not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/%0d%0aSet-Cookie:x"],
)
def test_switching_never_redirects_off_site(client, target):
    response = switch(client, "en", target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert client.get_cookie(LANGUAGE_COOKIE).value == "en"


def test_unknown_language_and_missing_csrf_change_nothing(client):
    response = switch(client, "fr")
    assert response.status_code == 303 and client.get_cookie(LANGUAGE_COOKIE) is None
    response = client.post("/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 400
    assert client.get_cookie(LANGUAGE_COOKIE) is None


def test_signed_in_choice_is_saved_on_the_profile(client):
    user = make_user(language="ja")
    login(client, user.email)
    response = switch(client, "ja-easy", "/account/profile")
    assert response.headers["Location"] == "/account/profile"
    with app_context():
        assert db.session.get(User, user.id).preferred_language == "ja-easy"
    # A new browser without the cookie: the profile decides after signing in.
    other = client.application.test_client()
    login(other, user.email)
    other.delete_cookie(LANGUAGE_COOKIE)
    page = other.get("/account/profile")
    assert page.status_code == 200 and 'data-variant="easy"' in page.get_data(as_text=True)


def test_cookie_beats_profile_and_profile_beats_browser(client):
    user = make_user(language="en")
    login(client, user.email, headers={"Accept-Language": "ja"})
    assert client.get_cookie(LANGUAGE_COOKIE).value == "en"  # login remembers the profile's language
    client.delete_cookie(LANGUAGE_COOKIE)
    assert _html_lang(client.get("/", headers={"Accept-Language": "ja"})) == "en"
    client.set_cookie(LANGUAGE_COOKIE, "ja")
    assert _html_lang(client.get("/", headers={"Accept-Language": "en"})) == "ja"


@pytest.mark.parametrize(("accept", "lang"), [("en-US,en;q=0.9", "en"), ("fr-FR, ja;q=0.5", "ja"), ("fr", "ja")])
def test_browser_language_is_the_fallback(client, accept, lang):
    assert _html_lang(client.get("/", headers={"Accept-Language": accept})) == lang


def _html_pages(app) -> list[str]:
    """Every GET page without URL parameters (other than the API, static files and health checks)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api", "/static")):
            urls.append(rule.rule)
    return sorted(set(urls))


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_page_has_the_switcher_and_no_leaked_markup(app, client, code):
    user = make_user(language=code)
    login(client, user.email)
    checked = 0
    for url in _html_pages(app):
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        text = response.get_data(as_text=True)
        checked += 1
        assert 'action="/language"' in text, url
        assert _html_lang(response) == LANGUAGES[code].html_lang, url
        assert "&lt;ruby&gt;" not in text and "&lt;rt&gt;" not in text, url
        assert "<" not in _title(response), url  # plain text only (and no page content by mistake)
        assert not re.search(r'="[^"]*<r(uby|t)>', text), url  # no furigana inside an attribute value
        assert not re.search(r"<option[^>]*>[^<]*<r(uby|t)>", text), url  # nor in a <select> option
    assert checked >= 3


# --- (c) error pages in every language -----------------------------------------------------------------


@contextmanager
def replaced_view(app, endpoint: str, view):
    """Temporarily make ENDPOINT run VIEW (to provoke 403/409/500 from a real route)."""
    original = app.view_functions[endpoint]
    app.view_functions[endpoint] = view
    try:
        yield
    finally:
        app.view_functions[endpoint] = original


def _raise_forbidden():
    abort(403)


def _raise_conflict():
    raise Conflict()


def _raise_crash():
    raise RuntimeError("secret internals: /srv/tsudoi/app.py line 42")


def _provoke(app, client, status: int):
    if status == 404:
        return client.get("/no/such/page")
    if status == 405:
        return client.get("/account/logout")
    if status == 400:
        return client.post("/account/login", data={"email": "a@example.jp", "password": "x"})
    if status == 413:
        body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
        return client.post("/account/login", data=body, content_type="application/x-www-form-urlencoded")
    if status == 429:
        token = csrf_token(client, "/account/login")
        for _ in range(30):
            response = client.post("/account/login", data={"csrf_token": token, "email": "nobody@example.jp",
                                                           "password": "wrong-password-123"})
            if response.status_code == 429:
                return response
            assert response.status_code == 401
        raise AssertionError("login failures were never limited")
    view = {403: _raise_forbidden, 409: _raise_conflict, 500: _raise_crash}[status]
    with replaced_view(app, "portal.home", view):
        return client.get("/")


def _expected_title(app, code: str, status: int) -> str:
    with app.test_request_context("/"), use_language(code):
        return plain(str(ERROR_TITLES[status]))


@pytest.mark.parametrize("code", sorted(LANGUAGES))
@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 413, 429, 500])
def test_error_pages_in_every_language(app, client, code, status):
    client.set_cookie(LANGUAGE_COOKIE, code)
    response = _provoke(app, client, status)
    assert response.status_code == status
    text = response.get_data(as_text=True)
    title = _expected_title(app, code, status)
    if code != "ja":
        assert title != _expected_title(app, "ja", status), "error title not translated"
    assert _title(response).startswith(title + " | ")
    assert _html_lang(response) == LANGUAGES[code].html_lang
    assert 'action="/language"' in text  # the switcher is there on error pages too
    assert "Traceback" not in text and "secret internals" not in text and 'File "' not in text
    assert "&lt;ruby&gt;" not in text
    if code == "en":
        assert not JAPANESE_CHARS.search(_title(response))
