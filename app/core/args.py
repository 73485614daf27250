"""Query-string arguments that several domains read the same way, and notices about the ones that were unusable."""

from __future__ import annotations

import unicodedata
from datetime import date

from flask import abort, g, request
from flask_babel import gettext as _

from app.core.converters import parse_id
from app.core.errors import DomainError
from app.core.filters import fiscal_year_label


def page_notice(message: str) -> None:
    """Show MESSAGE at the top of the page this request renders (base.html), without touching the session."""
    g.setdefault("page_notices", []).append(message)


def fiscal_year_arg(first: int, last: int, *, default: int, strict: bool = False) -> int:
    """?fy= as a fiscal year from FIRST to LAST (full-width digits read as digits); DEFAULT when absent or empty.

    An unusable value shows the DEFAULT year with a page notice saying so, or, with STRICT (downloads, which
    have no page to say it on), is a 400 with that message rather than a file of a year nobody asked for.
    """
    raw = request.args.get("fy", "")
    value = unicodedata.normalize("NFKC", raw).strip()
    if value == "":
        return default
    if value.isascii() and value.isdigit() and first <= int(value) <= last:
        return int(value)
    typed = raw if len(raw) <= 20 else raw[:20] + "…"
    problem = _("「%(value)s」は選べる年度ではありません(%(first)sから%(last)sまで)。",
                value=typed, first=fiscal_year_label(first), last=fiscal_year_label(last))
    if strict:
        raise DomainError(problem)
    page_notice(problem + _("%(year)sを表示しています。", year=fiscal_year_label(default)))
    return default


def enum_arg(name: str, enum_cls):
    """?NAME= as a member of ENUM_CLS, or None when absent, empty or not one of its values (filters: never a 500)."""
    value = request.args.get(name) or None
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


def id_arg(name: str, *, strict: bool = False) -> int | None:
    """?NAME= as an id an id column can hold (converters.parse_id: '²' and 2**63 are not ids); None when absent or
    empty. A value that is not an id is None too, or, with STRICT (the id names what the page is about), a 404."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    value = parse_id(raw)
    if not value and strict:
        abort(404)
    return value or None


def date_arg(name: str, *, default: date, first: date, last: date) -> tuple[date, str | None]:
    """?NAME= as an ISO day from FIRST to LAST: (the day, None); DEFAULT when absent or empty. An unusable value gives
    (DEFAULT, "format") or (DEFAULT, "range"), for the page to say, in its own words, what it shows instead."""
    raw = request.args.get(name) or ""
    if not raw:
        return default, None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return default, "format"
    if not first <= value <= last:
        return default, "range"
    return value, None
