"""iCalendar feeds: the ward-wide feed (by district or category), a group's feed and a person's private feed,
with ETag and Last-Modified so that calendar apps poll cheaply."""

from __future__ import annotations

from datetime import time as dtime
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

from flask import (
    Response,
    abort,
    current_app,
    request,
)
from flask_babel import gettext as _

from app.core.districts import District
from app.core.i18n import current_language, plain
from app.core.time import today_tokyo, tokyo_to_utc, utcnow
from app.events import cache as event_cache
from app.events import ical, queries
from app.events import registrations as registration_services
from app.events.models import (
    EventCategory,
    EventOccurrence,
    EventStatus,
)
from app.events.views.common import bp, visible_series
from app.extensions import db
from app.organizations.models import Organization, VerificationStatus

FEED_PAST_DAYS = 7  # public feeds keep a week of past events, so a subscriber's calendar still shows them


WARD_FEED_DAYS = 90  # the ward-wide feed (and its district / category variants): the next 90 days


ORGANIZATION_FEED_PAST_DAYS, ORGANIZATION_FEED_DAYS = 30, 365


def _not_modified(tag: str, modified) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return tag in {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
    if modified and request.headers.get("If-Modified-Since"):
        try:
            since = parsedate_to_datetime(request.headers["If-Modified-Since"])
        except (TypeError, ValueError):
            return False
        return since is not None and since.tzinfo is not None and modified.replace(microsecond=0) <= since
    return False


def _ics_headers(tag: str, modified, *, private: bool) -> dict[str, str]:
    headers = {"ETag": f'"{tag}"', "Cache-Control": "private, max-age=300" if private else "public, max-age=300"}
    if modified:
        headers["Last-Modified"] = format_datetime(modified.replace(microsecond=0), usegmt=True)
    return headers


def _ics_body(body: bytes, headers: dict[str, str], disposition: str = 'inline; filename="events.ics"') -> Response:
    return Response(body, mimetype="text/calendar", headers={**headers, "Content-Disposition": disposition})


def _ics_response(occurrences, name: str, *, private: bool = False,
                  disposition: str = 'inline; filename="events.ics"'):
    body = ical.build_calendar(occurrences, name=name, base_url=current_app.config["BASE_URL"],
                               language=current_language().code)
    tag, modified = ical.etag(body), ical.last_modified(occurrences)
    headers = _ics_headers(tag, modified, private=private)
    if _not_modified(tag, modified):
        return Response(status=304, headers=headers)
    return _ics_body(body, headers, disposition)


def _public_feed(name: str, *, days_before: int, days_after: int, **where):
    """A public feed through the feed cache: keyed on its window (whole Tokyo days), language and the data's
    change signature (one aggregate query). A matching If-None-Match gets 304 without building anything; a
    cached body is served as it is; only a change in the data builds the calendar again."""

    today = today_tokyo()
    since = tokyo_to_utc(today - timedelta(days=days_before), dtime())
    until = tokyo_to_utc(today + timedelta(days=days_after + 1), dtime())
    count, latest = queries.feed_signature(since=since, until=until, **where)
    language = current_language().code
    key = ("feed", tuple(sorted((k, str(v)) for k, v in where.items())), language, today.isoformat(), count,
           latest.isoformat() if latest else "", name)
    tag = ical.etag(repr(key).encode())
    # The window moves at midnight (Tokyo): content can change then without any row changing.
    modified = max(latest, since) if latest else since
    headers = _ics_headers(tag, modified, private=False)
    if _not_modified(tag, modified):
        return Response(status=304, headers=headers)

    def build() -> bytes:
        occurrences = queries.feed_occurrences(since=since, until=until, **where)
        return ical.build_calendar(occurrences, name=name, base_url=current_app.config["BASE_URL"],
                                   language=language)

    return _ics_body(event_cache.feeds.get_or_make(key, build, single_flight=True), headers)


@bp.get("/feed.ics")
def feed():
    """Ward-wide feed, the next 90 days; ?district= and ?category= narrow it (unknown values: 404)."""
    district = category = None
    name = plain(_("港区のイベント"))
    try:
        if request.args.get("district"):
            district = District(request.args["district"])
            name = f"{name} {plain(str(district.label))}"
        if request.args.get("category"):
            category = EventCategory(request.args["category"])
            name = f"{name} {plain(str(category.label))}"
    except ValueError:
        abort(404)
    return _public_feed(name, days_before=FEED_PAST_DAYS, days_after=WARD_FEED_DAYS, district=district,
                        category=category)


@bp.get("/occurrences/<int:occurrence_id>/event.ics")
def occurrence_ics(occurrence_id: int):
    """One date of an event as a calendar file ("add to my calendar"), seen by whoever may see the event's page.
    A draft (seen by its editors only) is not kept by shared caches."""
    occurrence = db.get_or_404(EventOccurrence, occurrence_id)
    series = visible_series(occurrence.series_id)
    title, _lang = series.text("title", current_language().code)
    return _ics_response([occurrence], plain(title), private=series.status != EventStatus.PUBLISHED,
                         disposition=f'attachment; filename="event-{occurrence.id}.ics"')


@bp.get("/my/<token>/feed.ics")
def my_feed(token: str):
    """The private "my events" feed: a secret URL (calendar apps cannot sign in); 404 for a wrong token."""
    user = registration_services.user_for_feed_token(token)
    if user is None:
        abort(404)
    occurrences = queries.feed_occurrences_of_user(user.id, since=utcnow() - timedelta(days=30))
    return _ics_response(occurrences, plain(_("申し込んだイベント")), private=True)


@bp.get("/organizations/<int:org_id>/feed.ics")
def organization_feed(org_id: int):
    organization = db.session.get(Organization, org_id)
    if organization is None or organization.status not in (VerificationStatus.VERIFIED, VerificationStatus.EXPIRED):
        abort(404)
    return _public_feed(organization.name_in(current_language().code), days_before=ORGANIZATION_FEED_PAST_DAYS,
                        days_after=ORGANIZATION_FEED_DAYS, organization_id=org_id)
