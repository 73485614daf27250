"""Browser tests: Playwright driving Debian's chromium against gunicorn on loopback with a fresh database.

One server and one browser per session (the whole suite shares them); each test opens its own browser context
(cookies, language, viewport). The database is filled by the demo loaders (`flask demo load`), so the pages
look as a newcomer sees them, and each journey adds what it needs under names of its own.

These tests carry the `browser` marker, which the normal `pytest` run deselects (pyproject addopts);
`make test-browser` (called by `make test`) runs them. Without chromium they skip, except with CI=true,
where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.i18n import plain, use_language
from app.extensions import db
from tests.live_server import Gunicorn, fresh_database, seeding

HERE = Path(__file__).resolve().parent
# Debian's chromium (`make browser-deps`); Playwright never downloads a browser of its own here.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
LANGS = ("en", "ja-easy")  # every journey runs once in each; Japanese is the default the other tests use
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
# What fails the accessibility tests; AXE_IMPACTS=minor,moderate,serious,critical lists everything axe finds.
IMPACTS = tuple(os.environ.get("AXE_IMPACTS", "serious,critical").split(","))


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: the browser tests must run; `make browser-deps` installs it)")
    pytest.skip(f"{what}: run `make browser-deps`")


@pytest.fixture(autouse=True)
def _clean_state():
    """The suite-wide fixture empties the unit-test database; the browser tests use their own live one."""
    yield


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The LiveSite: gunicorn on loopback over a fresh database, migrated and filled by the demo loaders."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"chromium is not installed at {CHROMIUM}")
    workdir = tmp_path_factory.mktemp("browser")
    with fresh_database(workdir) as url, seeding(url) as app:
        from app.demo.loaders import DemoReport, registered_loaders

        with app.app_context():
            report = DemoReport()
            for loader in registered_loaders():
                loader.function(db.session, report)
                db.session.commit()
            db.session.remove()
        # Two workers are plenty for one browser and keep the 2-core machine free for the browser itself.
        server = Gunicorn(url, workdir, workers=2, threads=4, BOOKING_UNDO_MINUTES="15")
        try:
            yield LiveSite(f"http://127.0.0.1:{server.port}", app)
        finally:
            server.stop()
            with app.app_context():
                db.engine.dispose()


class LiveSite:
    """The live server's address, and a way into its database for what a test reads (the outbox) or sets up."""

    def __init__(self, url: str, app):
        self.url = url
        self.app = app

    def t(self, lang: str, msgid: str, **params) -> str:
        """MSGID as LANG shows it in plain text (furigana removed), to check a page is really in LANG."""
        from flask_babel import gettext

        with self.app.test_request_context(), use_language(lang):
            return plain(gettext(msgid, **params))

    def title_re(self, lang: str, msgid: str) -> re.Pattern:
        """The page title pattern for a page titled MSGID in LANG ('<title> | <site name>')."""
        return re.compile("^" + re.escape(self.t(lang, msgid)))

    def mails_to(self, recipient: str) -> list:
        """Outbox rows (subject, body) sent to RECIPIENT, oldest first: where the live server's e-mail lands."""
        from app.core.mail import OutboxMessage

        with self.app.app_context():
            rows = db.session.execute(sa.select(OutboxMessage.subject, OutboxMessage.body_text)
                                      .where(OutboxMessage.recipient == recipient)
                                      .order_by(OutboxMessage.id)).all()
            db.session.remove()
        return rows

    def run(self, function: Callable):
        """Call FUNCTION() inside an app context on the live database and commit (set-up such as time passing)."""
        with self.app.app_context():
            try:
                result = function()
                db.session.commit()
                return result
            finally:
                db.session.remove()


@pytest.fixture(scope="session")
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Date and time inputs follow the browser's own UI locale, not the context's `locale`: without a
        # Japanese UI (LANGUAGE/LANG here, and Debian's chromium-l10n for its ja.pak) they read 11/29/2026.
        env = {**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "ja"}
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--lang=ja"], env=env)
        yield chromium
        chromium.close()


@pytest.fixture
def open_context(browser, live):
    """open_context(lang, viewport=DESKTOP, **options): a fresh browser context in LANG (closed after the test)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    opened = []

    def _open(lang: str = "ja", *, viewport: dict | None = None, **options):
        context = browser.new_context(base_url=live.url, viewport=viewport or DESKTOP, locale="ja-JP",
                                      timezone_id="Asia/Tokyo", **options)
        context.set_default_timeout(15_000)
        # The language switcher sets this cookie; setting it up front is what a returning visitor has.
        context.add_cookies([{"name": "tsudoi_lang", "value": lang, "url": live.url}])
        opened.append(context)
        return context

    yield _open
    for context in opened:
        context.close()


@pytest.fixture(scope="session")
def _signed_in_states(browser, live):
    return {}


@pytest.fixture
def demo_user(_signed_in_states, open_context, live):
    """demo_user(key, lang, viewport=None): a new page of a context signed in as DEMO_ACCOUNTS[key], in LANG.

    Each account signs in through the form once per session; later contexts reuse its cookies (a password
    hash per sign-in is the slowest thing these tests do). The language cookie is left out, so LANG wins.
    """
    from app.demo.accounts import DEMO_ACCOUNTS

    def _page(key: str, lang: str, *, viewport: dict | None = None, axe: bool = False):
        if key not in _signed_in_states:
            context = open_context(lang)
            sign_in(context.new_page(), DEMO_ACCOUNTS[key].email, DEMO_ACCOUNTS[key].password)
            _signed_in_states[key] = context.storage_state()
        state = dict(_signed_in_states[key])
        state["cookies"] = [c for c in state["cookies"] if c["name"] != "tsudoi_lang"]
        context = open_context(lang, viewport=viewport, storage_state=state)
        if axe:
            with_axe(context)
        return context.new_page()

    return _page


def sign_in(page, email: str, password: str, lang: str | None = None) -> None:
    """Sign in through the login form (fields by name: the labels differ per language).

    Signing in brings the account's own language back; with LANG, the user then picks LANG in the switcher.
    """
    page.goto("/account/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/account/login" not in url)
    if lang:
        page.locator(f".language-switcher button[value='{lang}']").click()
        page.wait_for_function("lang => document.querySelector(`.language-switcher button[value='${lang}']`)"
                               ".getAttribute('aria-current') === 'true'", arg=lang)


def with_axe(context):
    """Make axe-core available in every page of CONTEXT (call before opening pages).

    axe is added as an init script (DevTools protocol) rather than with add_script_tag: the app's
    Content-Security-Policy forbids inline scripts, and bypass_csp=True would audit a page other than the one
    users get. Init scripts are not subject to the page's CSP, so each page is checked as served; they are
    compiled once per context, which is much faster than evaluating axe's source after every navigation.
    """
    if not AXE_JS.exists():
        _missing(f"axe-core is not installed at {AXE_JS} (run `make browser-deps`)")
    context.add_init_script(path=str(AXE_JS))
    return context


def run_axe(page) -> list[dict]:
    """Run axe-core (see with_axe) on PAGE; returns its serious and critical violations."""
    assert page.evaluate("() => typeof window.axe !== 'undefined'"), "axe-core is not loaded: use with_axe()"
    results = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations'],
                                    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                                     'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"] if v["impact"] in IMPACTS
    ]


def shown_text(locator) -> str:
    """The text of LOCATOR as read without furigana (<rt> removed), whitespace collapsed."""
    return locator.evaluate(
        """e => { const c = e.cloneNode(true); c.querySelectorAll('rt, rp').forEach(r => r.remove());
                  return c.textContent.replace(/\\s+/g, ' ').trim(); }""")


def expect_message(live, lang: str, locator, msgid: str, **params) -> None:
    """LOCATOR (waited for) shows MSGID in LANG."""
    from playwright.sync_api import expect

    expect(locator.first).to_be_visible()
    wanted = live.t(lang, msgid, **params)
    assert wanted in shown_text(locator.first), (wanted, shown_text(locator.first))
