"""Public event pages: the list with its filters and search, the calendar, an event's page, its image, and
the signed-in user's own events."""

from __future__ import annotations

import hashlib
import json
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Response,
    current_app,
    get_template_attribute,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from app.core import images
from app.core.districts import District
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language
from app.core.time import to_tokyo, today_tokyo, tokyo_to_utc, utcnow
from app.events import cache as event_cache
from app.events import ical, queries, venue
from app.events import registrations as registration_services
from app.events import series as series_services
from app.events.forms import (
    SubmitForm,
)
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventCategory,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.events.views.common import PAGE_SIZE, bp, event_cards, visible_series
from app.extensions import db


@bp.get("/")
def index():
    filters = queries.Filters.from_args(request.args)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)  # a huge offset overflows SQLite
    cards = queries.card_rows(filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    has_next = len(cards) > PAGE_SIZE
    lang = current_language().code
    cards_html = event_cards(cards[:PAGE_SIZE], lang)  # from the card cache: cheap, and what the ETag hashes
    tag = _anonymous_list_etag(cards_html + ("1" if has_next else "0"), lang)
    if tag is not None and tag in _if_none_match():
        return Response(status=304, headers=_list_cache_headers(tag))
    response = make_response(render_template(
        "events/index.html", cards_html=cards_html, filters=filters, page=page, has_next=has_next, lang=lang,
        filters_html=_filters_html(filters, lang),
    ))
    if tag is not None:
        response.headers.update(_list_cache_headers(tag))
    return response


_TEMPLATES_STAMP: list[float] = []


def _templates_stamp() -> float:
    """When the list's templates last changed (a deploy changes the page without changing any data)."""
    if not _TEMPLATES_STAMP:
        folder = Path(current_app.root_path).parent / "templates"
        names = ("base.html", "events/index.html", "events/_card.html", "events/_filters.html")
        _TEMPLATES_STAMP.append(max((folder / name).stat().st_mtime for name in names if (folder / name).exists()))
    return _TEMPLATES_STAMP[0]


def _anonymous_list_etag(cards_html: str, lang: str) -> str | None:
    """An ETag for the list as an anonymous visitor sees it, or None when it must not be revalidated.

    The page is built from its cards (rendered from their rows, counts included), the query string and the
    language, plus the
    visitor's own CSRF secret (the language switcher's token, valid for as long as that session): a 304 is
    only ever answered to the browser whose cached copy carries a token that still works. Signed-in people
    and pages with a flash message are not cached. No Last-Modified: counts change without a timestamp.
    """
    if current_user.is_authenticated or "_flashes" in session or "csrf_token" not in session:
        return None
    key = "\x00".join((cards_html, request.full_path, request.script_root, lang, session["csrf_token"],
                       str(_templates_stamp())))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _if_none_match() -> set[str]:
    header = request.headers.get("If-None-Match") or ""
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()}


def _list_cache_headers(tag: str) -> dict[str, str]:
    # private: the page holds the visitor's CSRF token; no-cache: revalidate each time (a 304 costs one query).
    return {"ETag": f'"{tag}"', "Cache-Control": "private, no-cache", "Vary": "Cookie"}


def _filters_html(filters: queries.Filters, lang: str) -> Markup:
    """The filter form, rendered once per (language, filter values) and cached: it shows ~80 translated labels."""
    key = ("filters", request.script_root, lang, *(tuple(v) if isinstance(v, list) else v
                                                   for v in vars(filters).values()))

    def render() -> str:
        macro = get_template_attribute("events/_filters.html", "filter_form")
        active = any(tuple(v) if isinstance(v, list) else v for v in vars(filters).values())
        return str(macro(filters, active, list(District), list(EventCategory), list(Audience),
                         _accessibility_labels(), FOREIGN_LANGUAGES))

    return Markup(event_cache.cards.get_or_make(key, render))  # noqa: S704 - rendered by the autoescaping macro


@bp.get("/calendar")
def calendar():
    """A month of public occurrences (Sunday-first weeks), with the list's filters; one query whatever the data."""
    import calendar as calendar_module
    from datetime import date


    try:
        year, month = (int(part) for part in request.args.get("month", "").split("-"))
        if not 2000 <= year <= 2100:
            raise ValueError(year)
        first = date(year, month, 1)
    except ValueError:
        first = today_tokyo().replace(day=1)
    last = first.replace(day=calendar_module.monthrange(first.year, first.month)[1])
    filters = queries.Filters.from_args(request.args)
    filters.date_from, filters.date_to = first, last
    lang = current_language().code
    base = url_for("events.index")  # events.show is "/events/<id>": one url_for, not one per link

    def build() -> dict:
        days: dict = {}
        # Up to 1,000 links, built directly rather than by a Jinja loop; the title (organizer text) is escaped.
        for card in queries.card_rows(filters, limit=1000, include_past=True, counts=False):
            css = "calendar-event is-cancelled" if card.cancelled else "calendar-event"
            days.setdefault(to_tokyo(card.starts_at).date(), []).append(
                f'<a class="{css}" href="{base}{card.series_id}">{escape(card.title(lang)[0])}</a>')
        return {day: Markup("".join(links)) for day, links in days.items()}  # noqa: S704 - escaped above

    # The month shows no counts, so its links depend only on what the feeds' change signature covers: cached
    # per (month, filters, language) under that signature (one cheap query), built again after any change.
    signature = queries.feed_signature(since=tokyo_to_utc(first, dtime()),
                                       until=tokyo_to_utc(last + timedelta(days=1), dtime()))
    key = ("calendar", base, lang, *(tuple(v) if isinstance(v, list) else v for v in vars(filters).values()),
           signature)
    by_day = event_cache.pages.get_or_make(key, build, single_flight=True)
    weeks = calendar_module.Calendar(firstweekday=6).monthdatescalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = last + timedelta(days=1)
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "month"}
    return render_template("events/calendar.html", weeks=weeks, by_day=by_day, first=first,
                           previous=previous, following=following, args=args, lang=lang, today=today_tokyo())


def _accessibility_labels():
    return {
        "wheelchair_accessible": _("車いす可"), "sign_language": _("手話通訳"), "captions": _("要約筆記・字幕"),
        "childcare": _("託児"), "no_smoking": _("禁煙"),
    }


def _json_ld(series: EventSeries, occurrences, counts, language: str) -> Markup:
    base = current_app.config["BASE_URL"]
    title, _fallback = series.text("title", language)
    summary, _fallback = series.text("summary", language)
    items = []
    for occurrence in occurrences:
        cancelled = series.status == EventStatus.CANCELLED or occurrence.status == OccurrenceStatus.CANCELLED
        item = {
            "@context": "https://schema.org", "@type": "Event", "name": title,
            "startDate": to_tokyo(occurrence.starts_at).isoformat(),
            "endDate": to_tokyo(occurrence.ends_at).isoformat(),
            "eventStatus": "https://schema.org/EventCancelled" if cancelled else "https://schema.org/EventScheduled",
            "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode" if series.online_url
            and not venue.venue_of_occurrence(occurrence, language)[1] else "https://schema.org/OfflineEventAttendanceMode",
            "organizer": {"@type": "Organization", "name": series.organization.name_in(language),
                          "url": f"{base}/organizations/{series.organization_id}"},
            "url": f"{base}/events/{series.id}",
            "offers": {"@type": "Offer", "price": series.fee_yen, "priceCurrency": "JPY",
                       "availability": "https://schema.org/InStock" if occurrence.capacity is None
                       or counts.get(occurrence.id, 0) < occurrence.capacity else "https://schema.org/SoldOut"},
        }
        if summary:
            item["description"] = summary
        if series.image_name:
            item["image"] = f"{base}/events/{series.id}/image.jpg"
        venue_name, venue_address = venue.venue_of_occurrence(occurrence, language)
        if venue_name or venue_address:
            item["location"] = {"@type": "Place", "name": venue_name or venue_address,
                                "address": venue_address or venue_name}
        elif series.online_url:
            item["location"] = {"@type": "VirtualLocation", "url": series.online_url}
        items.append(item)
    text = json.dumps(items, ensure_ascii=False)
    # Inside <script>, "</script>" or "<!--" in organizer text would end the block: escape <, > and &.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - JSON with markup characters escaped above


@bp.get("/<int:series_id>")
def show(series_id: int):
    series = visible_series(series_id)
    language = current_language().code
    occurrences = [o for o in series.occurrences]
    upcoming = [o for o in occurrences if o.ends_at > utcnow()]
    counts = registration_services.confirmed_counts([o.id for o in occurrences])
    active = registration_services.active_counts([o.id for o in occurrences])
    waiting = {oid: n - counts.get(oid, 0) for oid, n in active.items()}
    mine = {}
    if current_user.is_authenticated:
        mine = {r.occurrence_id: r for r in db.session.scalars(
            sa.select(Registration).where(Registration.user_id == current_user.id,
                                          Registration.occurrence_id.in_([o.id for o in occurrences] or [0]),
                                          Registration.status != RegistrationStatus.CANCELLED))}
    windows = {o.id: registration_services.registration_window(o) for o in upcoming}
    open_ids = set()
    for occurrence in upcoming:
        try:
            registration_services.check_open(occurrence)
        except DomainError:
            continue
        open_ids.add(occurrence.id)
    shown = upcoming[:60]
    return render_template(
        "events/show.html", series=series, upcoming=shown, past=[o for o in occurrences if o.ends_at <= utcnow()],
        counts=counts, waiting=waiting, mine=mine, windows=windows, open_ids=open_ids, lang=language,
        json_ld=_json_ld(series, shown, counts, language), editor=series_services.can_edit(current_user, series),
        action_form=ActionForm(), submit_form=SubmitForm(formdata=None), now=utcnow(),
        accessibility=_accessibility_labels(), languages=FOREIGN_LANGUAGES,
        partners=[row.organization for row in series.partner_rows], venue=venue.venue_of(series, language),
        occurrence_venues={o.id: venue.venue_of_occurrence(o, language) for o in shown if o.room_booking_id},
        google_calendar={o.id: ical.google_calendar_url(o, base_url=current_app.config["BASE_URL"], language=language)
                         for o in shown if o.status != OccurrenceStatus.CANCELLED},
    )


@bp.get("/<int:series_id>/image.jpg")
def image(series_id: int):
    series = visible_series(series_id)
    return images.jpeg_response(images.path_of(series.image_name or ""))


@bp.get("/mine")
@login_required
def mine():
    feed_url = current_app.config["BASE_URL"] + url_for("events.my_feed",
                                                        token=registration_services.my_feed_token(current_user))
    registrations = registration_services.my_registrations(current_user)
    positions = registration_services.waitlist_positions(
        {r.occurrence_id for r in registrations if r.status == RegistrationStatus.WAITLISTED})
    language = current_language().code
    google = {r.id: ical.google_calendar_url(r.occurrence, base_url=current_app.config["BASE_URL"], language=language)
              for r in registrations if r.occurrence.status != OccurrenceStatus.CANCELLED}
    return render_template("events/mine.html", registrations=registrations, positions=positions,
                           action_form=ActionForm(), lang=language, feed_url=feed_url, google_calendar=google)
