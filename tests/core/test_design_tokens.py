"""The vendored design tokens (static/vendor/design-tokens, built by `make tokens`) and the stylesheet that uses them.

tokens.css must be the version design/package.json pins, and every custom property app.css reads with var(--…)
must be defined in app.css or tokens.css: an undefined one silently falls back to nothing in the browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor" / "design-tokens"
APP_CSS = ROOT / "static" / "css" / "app.css"
PACKAGE = "@digital-go-jp/design-tokens"

DEFINED = re.compile(r"(--[A-Za-z0-9_-]+)\s*:")
USED = re.compile(r"var\(\s*(--[A-Za-z0-9_-]+)")


def _pinned() -> str:
    return json.loads((ROOT / "design" / "package.json").read_text(encoding="utf-8"))["dependencies"][PACKAGE]


def _without_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)


def test_the_package_is_pinned_exactly_in_package_json_and_the_lock():
    pinned = _pinned()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"{PACKAGE} must be pinned exactly, not {pinned!r}"
    lock = json.loads((ROOT / "design" / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][f"node_modules/{PACKAGE}"]["version"] == pinned


def test_vendored_tokens_are_the_pinned_version_with_their_licence():
    pinned = _pinned()
    assert (VENDOR / "VERSION").read_text(encoding="utf-8").strip() == pinned
    header = (VENDOR / "tokens.css").read_text(encoding="utf-8").split("*/", 1)[0]
    assert f"{PACKAGE} {pinned}" in header, "tokens.css was built from another version: run `make tokens`"
    licence = (VENDOR / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "デジタル庁" in licence


def test_tokens_css_has_the_families_of_tokens_the_stylesheet_builds_on():
    defined = set(DEFINED.findall(_without_comments((VENDOR / "tokens.css").read_text(encoding="utf-8"))))
    for name in ("--color-primitive-blue-900", "--color-neutral-solid-gray-800", "--color-semantic-error-1",
                 "--font-family-sans", "--font-size-16", "--line-height-170", "--border-radius-8",
                 "--elevation-1", "--spacing-16", "--focus-ring-width", "--focus-ring-halo-color"):
        assert name in defined, name


def test_every_custom_property_app_css_uses_is_defined():
    tokens = set(DEFINED.findall(_without_comments((VENDOR / "tokens.css").read_text(encoding="utf-8"))))
    app_css = _without_comments(APP_CSS.read_text(encoding="utf-8"))
    used = set(USED.findall(app_css))
    assert used, "app.css reads no custom property: the regular expression or the file is wrong"
    undefined = sorted(used - tokens - set(DEFINED.findall(app_css)))
    assert not undefined, f"app.css uses custom properties defined nowhere: {undefined}"


def test_pages_load_the_tokens_before_the_stylesheet(client):
    html = client.get("/").get_data(as_text=True)
    tokens = html.find("/static/vendor/design-tokens/tokens.css")
    app_css = html.find("/static/css/app.css")
    assert tokens != -1 and app_css != -1 and tokens < app_css
    response = client.get("/static/vendor/design-tokens/tokens.css")
    assert response.status_code == 200 and "text/css" in response.headers["Content-Type"]
    response.close()
