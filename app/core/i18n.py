"""The three interface languages: 日本語 (source), English and やさしい日本語 (its own gettext domain).

Furigana: やさしい日本語 translations may carry <ruby>漢字<rt>かんじ</rt></ruby> only where it renders or is
stripped: page text through `_()` in templates, flashed messages and field errors (shown through |ruby), error
pages, e-mail bodies (queue_mail strips it) and text passed through plain(). Form labels and choices, enum
labels, API messages, attribute values and <option> text stay plain. tests/core/test_i18n.py enforces this
and that every message is translated (`make i18n`, then fill the catalogs).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

import flask_babel
from flask import g, has_app_context, has_request_context, request
from flask_babel import Domain, force_locale
from markupsafe import Markup, escape


@dataclass(frozen=True)
class Language:
    """An interface language: its code (cookie, profile, URLs), Babel locale, gettext domain and names."""

    code: str
    locale: str
    domain: str
    html_lang: str
    label: str


LANGUAGES: dict[str, Language] = {
    "ja": Language("ja", "ja", "messages", "ja", "日本語"),
    "en": Language("en", "en", "messages", "en", "English"),
    # Babel has no locale for やさしい日本語: dates and numbers follow "ja", words come from the "easy" domain.
    "ja-easy": Language("ja-easy", "ja", "easy", "ja", "やさしい日本語"),
}
DEFAULT_LANGUAGE = "ja"
LANGUAGE_COOKIE = "tsudoi_lang"

_domains: dict[str, Domain] = {}


def _domain_for(language: Language) -> Domain:
    if language.domain not in _domains:
        _domains[language.domain] = Domain(domain=language.domain)
    return _domains[language.domain]


def normalize_language(code: str | None) -> str | None:
    """Return a known language code for CODE, or None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    return code if code in LANGUAGES else None


def select_language(user=None) -> str:
    """The request's language: the cookie (latest explicit choice), then the profile of USER (default: the
    signed-in user), then the browser."""
    from flask_login import current_user

    chosen = normalize_language(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:
        return chosen
    user = user if user is not None else current_user
    if user and user.is_authenticated:
        chosen = normalize_language(user.preferred_language)
        if chosen:
            return chosen
    return request.accept_languages.best_match(["ja", "en"]) or DEFAULT_LANGUAGE


def current_language() -> Language:
    """The language in use for this request (or forced by use_language)."""
    code = g.get("ui_language") if has_app_context() else None
    if code is None and has_request_context():
        # An error raised before our before_request hook ran (or by another hook): choose now.
        try:
            code = select_language()
        except Exception:  # noqa: BLE001 - e.g. the database is down while rendering the 500 page
            code = DEFAULT_LANGUAGE
        activate(code)
    return LANGUAGES[code or DEFAULT_LANGUAGE]


def locale_selector() -> str:
    """Flask-Babel's locale: the Babel locale of the current language."""
    return current_language().locale


def activate(code: str) -> None:
    """Make CODE the language of the current context (request or app context)."""
    g.ui_language = code
    _domain_for(LANGUAGES[code]).as_default()


def activate_for(user) -> None:
    """Choose the request's language again now that USER is known by other means than the session (an API
    token): their profile's language then applies as it does on pages."""
    code = select_language(user)
    if code != g.get("ui_language"):
        activate(code)
        flask_babel.refresh()  # anything already translated in this request cached the old locale


@contextmanager
def use_language(code: str | None):
    """Render in another language for a while (e-mails to a user, CLI jobs), then restore."""
    code = normalize_language(code) or DEFAULT_LANGUAGE
    previous = g.get("ui_language")
    activate(code)
    try:
        with force_locale(LANGUAGES[code].locale):
            yield LANGUAGES[code]
    finally:
        if previous:
            activate(previous)
        else:
            g.pop("ui_language", None)
            _domain_for(LANGUAGES[DEFAULT_LANGUAGE]).as_default()


_RUBY_TAG = re.compile(r"&lt;(/?)(ruby|rt|rp)&gt;")
_RT = re.compile(r"<rp>.*?</rp>|<rt>.*?</rt>", re.S)
_TAG = re.compile(r"</?(ruby|rt|rp)>")


def ruby(text: str) -> Markup:
    """Escape TEXT but keep bare <ruby>/<rt>/<rp> tags (furigana in やさしい日本語 messages from Python)."""
    if isinstance(text, Markup):
        return text
    return Markup(_RUBY_TAG.sub(r"<\1\2>", str(escape(str(text)))))  # noqa: S704 - escaped first


def plain(text: str) -> str:
    """Text without furigana markup, for attributes, titles, e-mail subjects and JSON.

    Markup stays Markup (it is already escaped HTML: re-escaping would show '&amp;#39;'); other text stays str.
    """
    stripped = _TAG.sub("", _RT.sub("", str(text)))
    return Markup(stripped) if isinstance(text, Markup) else stripped  # noqa: S704 - only tags removed


def init_app(app) -> None:
    """Choose the language before each request and expose helpers to templates."""

    # Errors raised by earlier hooks (CSRF, request size) skip this one: current_language() then chooses.
    @app.before_request
    def _choose_language():
        activate(select_language())

    @app.context_processor
    def _language_context():
        return {"ui_language": current_language(), "LANGUAGES": LANGUAGES}

    app.jinja_env.filters["ruby"] = ruby
    app.jinja_env.filters["plain"] = plain
