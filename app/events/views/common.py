"""What every event page shares: the blueprint, the template globals other pages use to show events, and
the lookups that turn an unknown or forbidden event into a 404 or 403."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    get_template_attribute,
    request,
)
from flask_login import current_user
from markupsafe import Markup

from app.core.i18n import current_language
from app.core.time import today_tokyo
from app.events import cache as event_cache
from app.events import queries, venue
from app.events import series as series_services
from app.events.models import (
    EventOccurrence,
    EventSeries,
)
from app.extensions import db
from app.organizations.models import Membership, MembershipRole, Organization

bp = Blueprint("events", __name__, url_prefix="/events")


PAGE_SIZE = 30


@bp.app_template_global("event_venue")
def event_venue(series: EventSeries, occurrence: EventOccurrence | None = None) -> tuple[str | None, str | None]:
    """(name, address) of an event's venue in the current language: OCCURRENCE's own booked room when given and
    linked, else the series' booked room, else its free text."""
    if occurrence is not None:
        return venue.venue_of_occurrence(occurrence, current_language().code)
    return venue.venue_of(series, current_language().code)


@bp.app_template_global("event_cards")
def event_cards(rows: list[queries.CardRow], lang: str) -> Markup:
    """The <li> cards of ROWS, each rendered once per (row, language) and then served from the card cache.

    A row holds every value its card shows (counts included), so a cached card can never be out of date: when
    anything changes, the row differs and the old entry is simply not asked for again.
    """
    macro = get_template_attribute("events/_card.html", "card")
    root = request.script_root
    return Markup("".join(  # noqa: S704 - each part was rendered by the autoescaping card macro
        event_cache.cards.get_or_make(("card", root, lang, row), lambda row=row: str(macro(row, lang)))
        for row in rows))


# Pages of the domains below events (a group's page, a booking's page) show events through these globals: they
# cannot import events without an import running upward.
@bp.app_template_global("organization_event_rows")
def organization_event_rows(org_id: int) -> list[queries.CardRow]:
    """The card rows of a group's events, for its public page."""
    return queries.card_rows(queries.Filters(organization_id=org_id), limit=50)


@bp.app_template_global("booking_venue")
def booking_venue(booking) -> dict:
    """For a booking's page: the events using BOOKING as their venue, and the groups whose new event it can be the
    venue of (the booker's groups where they are officer or editor, while the booking is held and not past)."""
    organizations = []
    if (current_user.is_authenticated and booking.user_id == current_user.id and booking.state in venue.VENUE_STATES
            and booking.day >= today_tokyo()):
        organizations = list(db.session.scalars(
            sa.select(Organization).join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == current_user.id,
                   Membership.role.in_([MembershipRole.OFFICER, MembershipRole.EDITOR]))
            .order_by(Organization.name_ja)))
    return {"events": venue.events_using(booking.id), "organizations": organizations}


def visible_series(series_id: int) -> EventSeries:
    series = db.session.get(EventSeries, series_id)
    if series is None or not series_services.is_visible(current_user, series):
        abort(404)
    return series


def editable_series(series_id: int) -> EventSeries:
    series = db.get_or_404(EventSeries, series_id)
    if not series_services.can_edit(current_user, series):
        abort(403)
    return series
