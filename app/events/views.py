"""Event pages: public list and event page, organizer editing and workflow, staff review, registrations, ICS."""

from __future__ import annotations

import hashlib
import json
from datetime import time as dtime
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from wtforms import SelectChoice

from app.bookings.models import Booking
from app.core import images
from app.core.converters import ID_MAX
from app.core.districts import District
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language, plain
from app.core.permissions import Role, role_required
from app.core.spreadsheet import neutralize
from app.core.time import to_tokyo, today_tokyo, tokyo_to_utc, utcnow
from app.core.uploads import accepts_uploads
from app.events import cache as event_cache
from app.events import ical, queries, services, venue
from app.events.forms import (
    CancelEventForm,
    EventForm,
    GuestRegistrationForm,
    MessageForm,
    OccurrenceForm,
    ReviewForm,
    SubmitForm,
    fill_from_series,
)
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventCategory,
    EventOccurrence,
    EventSeries,
    EventStatus,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
)
from app.extensions import db, limiter
from app.organizations import services as organization_services
from app.organizations.models import Membership, MembershipRole, Organization, VerificationStatus

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


def _series(series_id: int) -> EventSeries:
    series = db.session.get(EventSeries, series_id)
    if series is None or not services.is_visible(current_user, series):
        abort(404)
    return series


def editable_organization(org_id: int | None) -> Organization:
    """The organization ORG_ID when the signed-in user may write its events; 404 if unknown, 403 otherwise."""
    organization = db.session.get(Organization, org_id) if org_id and 0 < org_id <= ID_MAX else None
    if organization is None:
        abort(404)
    if not organization_services.can_edit_events(current_user, organization):
        abort(403)
    return organization


def _editable(series_id: int) -> EventSeries:
    series = db.get_or_404(EventSeries, series_id)
    if not services.can_edit(current_user, series):
        abort(403)
    return series


# ---------------------------------------------------------------- public


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
    series = _series(series_id)
    language = current_language().code
    occurrences = [o for o in series.occurrences]
    upcoming = [o for o in occurrences if o.ends_at > utcnow()]
    counts = services.confirmed_counts([o.id for o in occurrences])
    waiting = {oid: n - counts.get(oid, 0) for oid, n in services.active_counts([o.id for o in occurrences]).items()}
    mine = {}
    if current_user.is_authenticated:
        mine = {r.occurrence_id: r for r in db.session.scalars(
            sa.select(Registration).where(Registration.user_id == current_user.id,
                                          Registration.occurrence_id.in_([o.id for o in occurrences] or [0]),
                                          Registration.status != RegistrationStatus.CANCELLED))}
    windows = {o.id: services.registration_window(o) for o in upcoming}
    open_ids = set()
    for occurrence in upcoming:
        try:
            services.check_open(occurrence)
        except DomainError:
            continue
        open_ids.add(occurrence.id)
    shown = upcoming[:60]
    return render_template(
        "events/show.html", series=series, upcoming=shown, past=[o for o in occurrences if o.ends_at <= utcnow()],
        counts=counts, waiting=waiting, mine=mine, windows=windows, open_ids=open_ids, lang=language,
        json_ld=_json_ld(series, shown, counts, language), editor=services.can_edit(current_user, series),
        action_form=ActionForm(), submit_form=SubmitForm(formdata=None), now=utcnow(),
        accessibility=_accessibility_labels(), languages=FOREIGN_LANGUAGES,
        partners=[row.organization for row in series.partner_rows], venue=venue.venue_of(series, language),
        occurrence_venues={o.id: venue.venue_of_occurrence(o, language) for o in shown if o.room_booking_id},
    )


@bp.get("/<int:series_id>/image.jpg")
def image(series_id: int):
    series = _series(series_id)
    return images.jpeg_response(images.path_of(series.image_name or ""))


@bp.get("/mine")
@login_required
def mine():
    feed_url = current_app.config["BASE_URL"] + url_for("events.my_feed",
                                                        token=services.my_feed_token(current_user))
    return render_template("events/mine.html", registrations=services.my_registrations(current_user),
                           action_form=ActionForm(), lang=current_language().code, feed_url=feed_url)


# ---------------------------------------------------------------- registrations


@bp.post("/occurrences/<int:occurrence_id>/register")
@login_required
def register(occurrence_id: int):
    occurrence = db.session.get(EventOccurrence, occurrence_id)
    if occurrence is None or not services.is_visible(current_user, occurrence.series):
        abort(404)
    series_id = occurrence.series_id
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        registration = services.register(occurrence_id=occurrence_id, user=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("events.show", series_id=series_id)), 303
    status = registration.status
    db.session.commit()
    if status == RegistrationStatus.CONFIRMED:
        flash(_("申し込みました。確認のメールを送りました。"), "success")
    else:
        flash(_("定員に達しているため、キャンセル待ちで受け付けました。空きが出たらメールでお知らせします。"),
              "success")
    response = redirect(url_for("events.show", series_id=series_id), 303)
    response.headers["X-Registration-Status"] = status.value
    return response


@bp.post("/registrations/<int:registration_id>/cancel")
@login_required
def cancel_registration(registration_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.user_id != current_user.id:
        abort(404)
    try:
        services.cancel_registration(registration_id=registration_id, user=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("申し込みを取り消しました。"), "success")
    return redirect(url_for("events.mine"), 303)


@bp.route("/occurrences/<int:occurrence_id>/guest", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def guest_register(occurrence_id: int):
    """Registration without an account: the guest confirms their e-mail address before a place is taken."""
    occurrence = db.session.get(EventOccurrence, occurrence_id)
    if occurrence is None or not services.is_visible(None, occurrence.series):
        abort(404)
    form = GuestRegistrationForm()
    if form.validate_on_submit():
        try:
            services.request_guest_registration(occurrence_id=occurrence_id, email=form.email.data,
                                                name=form.name.data, language=current_language().code)
        except DomainError as exc:
            db.session.rollback()
            form.email.errors = [*form.email.errors, exc.message]
        else:
            db.session.commit()
            return render_template("events/guest_result.html", series=occurrence.series, sent_to=form.email.data,
                                   lang=current_language().code)
    return render_template("events/guest.html", form=form, occurrence=occurrence, series=occurrence.series,
                           lang=current_language().code), 200 if request.method == "GET" else 422


@bp.route("/guest/confirm/<token>", methods=["GET", "POST"])
def guest_confirm(token: str):
    # A button confirms (POST): mail scanners that open links must not take a seat.
    language = current_language().code
    try:
        data = services.load_guest_token("guest-confirm", token, max_age=services.GUEST_CONFIRM_MAX_AGE_S)
    except DomainError as exc:
        return render_template("events/guest_result.html", message=exc.message, lang=language), 400
    occurrence = db.session.get(EventOccurrence, data["o"]) or abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            registration = services.register_guest(occurrence_id=data["o"], email=data["e"], name=data["n"],
                                                    language=data.get("l"))
        except DomainError as exc:
            db.session.rollback()
            return render_template("events/guest_result.html", message=exc.message, series=occurrence.series,
                                   lang=language), exc.status_code
        status = registration.status
        db.session.commit()
        return render_template("events/guest_result.html", series=occurrence.series, status=status, lang=language)
    return render_template("events/guest_confirm.html", form=form, occurrence=occurrence, series=occurrence.series,
                           email=data["e"], lang=language)


@bp.route("/guest/cancel/<token>", methods=["GET", "POST"])
def guest_cancel(token: str):
    language = current_language().code
    try:
        data = services.load_guest_token("guest-cancel", token)
    except DomainError as exc:
        return render_template("events/guest_result.html", message=exc.message, lang=language), 400
    registration = db.session.get(Registration, data["r"])
    if registration is None or registration.guest_email != data["e"]:
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            services.cancel_registration(registration_id=registration.id, user=None, by_guest_link=True)
        except DomainError as exc:
            db.session.rollback()
            return render_template("events/guest_result.html", message=exc.message, lang=language), exc.status_code
        db.session.commit()
        return render_template("events/guest_result.html", cancelled=True, lang=language)
    return render_template("events/guest_cancel.html", form=form, registration=registration,
                           occurrence=registration.occurrence, series=registration.occurrence.series, lang=language)


# ---------------------------------------------------------------- organizer


def _partner_choices(form, organization_id: int) -> None:
    rows = db.session.execute(
        sa.select(Organization.id, Organization.name_ja)
        .where(Organization.status == VerificationStatus.VERIFIED, Organization.id != organization_id)
        .order_by(Organization.name_ja).limit(500)
    ).all()
    form.partner_ids.choices = [SelectChoice(i, name) for i, name in rows]


def _booking_choices(form, organization_id: int, series: EventSeries | None) -> None:
    """Only the user's and the group's own bookings are offered (never other people's)."""
    bookings = venue.eligible_bookings(current_user, organization_id)
    linked = series.room_booking if series is not None and series.room_booking_id else None
    if linked is not None and linked.id not in {b.id for b in bookings}:
        bookings.insert(0, linked)  # linked by another editor: keep it offered so saving does not drop it
    form.room_booking_id.choices = [SelectChoice("", _("使わない(上の会場名・住所を使う)"))] + [
        SelectChoice(b.id, venue.booking_label(b)) for b in bookings]


def _form_page(form, organization, series, status):
    return render_template("events/form.html", form=form, organization=organization, series=series), status


def _save(form, organization, series):
    try:
        saved = services.save_series(organization=organization, actor=current_user, data=form.to_input(),
                                     series=series, check_venue=False)
        venue.set_venue_booking(saved, form.room_booking_id.data, actor=current_user)
    except services.InvalidEvent as exc:
        db.session.rollback()
        target = form[exc.field] if exc.field and exc.field in form else form.title_ja
        target.errors = [*target.errors, exc.message]
        return None
    except DomainError as exc:
        db.session.rollback()
        form.title_ja.errors = [*form.title_ja.errors, exc.message]
        return None
    if form.remove_image.data:
        saved.image_name = None
    upload = form.image.data
    if upload and getattr(upload, "filename", ""):
        try:
            saved.image_name = images.store(upload.read())
        except images.InvalidImage as exc:
            db.session.rollback()
            form.image.errors = [*form.image.errors, exc.message]
            return None
    db.session.commit()
    return saved


def _occurrence_booking_choices(form, occurrence: EventOccurrence) -> None:
    """The user's and the group's bookings for this date's day, and the one already linked."""
    day = to_tokyo(occurrence.starts_at).date()
    bookings = [b for b in venue.eligible_bookings(current_user, occurrence.series.organization_id) if b.day == day]
    linked = occurrence.room_booking if occurrence.room_booking_id else None
    if linked is not None and linked.id not in {b.id for b in bookings}:
        bookings.insert(0, linked)
    form.room_booking_id.choices = [SelectChoice("", _("使わない(イベント全体の会場を使う)"))] + [
        SelectChoice(b.id, venue.booking_label(b)) for b in bookings]


def _prefill_from_booking(form, booking_id: int | None) -> None:
    """Coming from a booking page: choose that booking and its day and times (only if it is offered)."""
    if booking_id is None or booking_id not in {c.value for c in form.room_booking_id.choices}:
        return
    booking = db.session.get(Booking, booking_id)
    ranges = venue.booked_ranges(booking)
    form.room_booking_id.data = booking.id
    if ranges:
        start, end = ranges[0]
        form.frequency.data, form.first_date.data = "once", booking.day
        form.start_time.data, form.end_time.data = dtime(start // 60, start % 60), dtime(end // 60 % 24, end % 60)
    form.capacity.data = min(form.capacity.data or booking.room.capacity, booking.room.capacity)


@bp.route("/new", methods=["GET", "POST"])
@accepts_uploads
@login_required
def new():
    organization = editable_organization(request.args.get("org", type=int))
    form = EventForm()
    _partner_choices(form, organization.id)
    _booking_choices(form, organization.id, None)
    if form.validate_on_submit():
        saved = _save(form, organization, None)
        if saved is not None:
            flash(_("下書きを保存しました。内容を確かめて公開してください。"), "success")
            return redirect(url_for("events.show", series_id=saved.id))
    elif request.method == "GET":
        form.contact_email.data = organization.public_email
        form.district.data = organization.district.value
        _prefill_from_booking(form, request.args.get("booking", type=int))
    return _form_page(form, organization, None, 200 if request.method == "GET" else 422)


@bp.route("/<int:series_id>/edit", methods=["GET", "POST"])
@accepts_uploads
@login_required
def edit(series_id: int):
    series = _editable(series_id)
    organization = series.organization
    form = EventForm()
    _partner_choices(form, organization.id)
    _booking_choices(form, organization.id, series)
    if request.method == "GET":
        fill_from_series(form, series)
        form.room_booking_id.data = series.room_booking_id
        _prefill_from_booking(form, request.args.get("booking", type=int))
    elif form.validate_on_submit():
        saved = _save(form, organization, series)
        if saved is not None:
            flash(_("イベントを保存しました。"), "success")
            return redirect(url_for("events.show", series_id=series_id))
        series = db.session.get(EventSeries, series_id)
    return _form_page(form, organization, series, 200 if request.method == "GET" else 422)


@bp.post("/<int:series_id>/submit")
@login_required
def submit(series_id: int):
    series = _editable(series_id)
    form = SubmitForm()
    if not form.validate_on_submit():
        flash(_("公開する日時の形が正しくありません。"), "error")
        return redirect(url_for("events.show", series_id=series_id), 303)
    try:
        status = services.submit(series, actor=current_user, publish_at=form.publish_at_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("公開しました。") if status == EventStatus.PUBLISHED
              else _("公開を申請しました。区の職員が確認してから公開されます。"), "success")
    return redirect(url_for("events.show", series_id=series_id), 303)


@bp.route("/<int:series_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(series_id: int):
    series = _editable(series_id)
    form = CancelEventForm()
    if form.validate_on_submit():
        try:
            told = services.cancel_series(series, actor=current_user, reason=form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            form.reason.errors = [*form.reason.errors, exc.message]
        else:
            db.session.commit()
            flash(_("イベントを中止しました。申込者%(count)d人にメールで知らせました。", count=told), "success")
            return redirect(url_for("events.show", series_id=series_id), 303)
    return render_template("events/cancel.html", series=series, form=form,
                           lang=current_language().code), 200 if request.method == "GET" else 422


@bp.route("/occurrences/<int:occurrence_id>/edit", methods=["GET", "POST"])
@login_required
def edit_occurrence(occurrence_id: int):
    """Edit this occurrence, or this and the following ones (editing "all" is the series form)."""
    occurrence = _organizer_occurrence(occurrence_id)
    series = occurrence.series
    form = OccurrenceForm()
    _occurrence_booking_choices(form, occurrence)
    if request.method == "GET":
        local_start, local_end = to_tokyo(occurrence.starts_at), to_tokyo(occurrence.ends_at)
        form.day.data, form.start_time.data = local_start.date(), local_start.time().replace(tzinfo=None)
        form.end_time.data, form.capacity.data = local_end.time().replace(tzinfo=None), occurrence.capacity
        form.room_booking_id.data = occurrence.room_booking_id
    elif form.validate_on_submit():
        following = form.scope.data == "following"
        try:
            changed = services.edit_occurrences(occurrence, actor=current_user, following=following,
                                                day=form.day.data, start_time=form.start_time.data,
                                                end_time=form.end_time.data, capacity=form.capacity.data,
                                                venue_booking_id=form.room_booking_id.data)
        except services.InvalidEvent as exc:
            db.session.rollback()
            target = form._fields.get(exc.field, form.start_time)
            target.errors = [*target.errors, exc.message]
        except DomainError as exc:
            db.session.rollback()
            form.start_time.errors = [*form.start_time.errors, exc.message]
        else:
            db.session.commit()
            flash(_("%(count)d回分を変更しました。", count=len(changed)), "success")
            return redirect(url_for("events.show", series_id=series.id), 303)
    return render_template("events/occurrence_form.html", form=form, occurrence=occurrence, series=series,
                           lang=current_language().code), 200 if request.method == "GET" else 422


@bp.route("/occurrences/<int:occurrence_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_occurrence(occurrence_id: int):
    occurrence = _organizer_occurrence(occurrence_id)
    series = occurrence.series
    form = CancelEventForm()
    if form.validate_on_submit():
        try:
            told = services.cancel_occurrence(occurrence, actor=current_user, reason=form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            form.reason.errors = [*form.reason.errors, exc.message]
        else:
            db.session.commit()
            flash(_("この回を中止しました。申込者%(count)d人にメールで知らせました。", count=told), "success")
            return redirect(url_for("events.show", series_id=series.id), 303)
    return render_template("events/cancel.html", series=series, occurrence=occurrence, form=form,
                           lang=current_language().code), 200 if request.method == "GET" else 422


@bp.get("/organizations/<int:org_id>/manage")
@login_required
def manage(org_id: int):
    organization = editable_organization(org_id)
    return render_template("events/manage.html", organization=organization,
                           series_list=queries.series_of_organization(org_id), lang=current_language().code)


def _organizer_occurrence(occurrence_id: int) -> EventOccurrence:
    occurrence = db.get_or_404(EventOccurrence, occurrence_id)
    if not services.can_edit(current_user, occurrence.series):
        abort(403)
    return occurrence


def _registrations_page(occurrence, message_form=None, status=200):
    return render_template("events/registrations.html", occurrence=occurrence, series=occurrence.series,
                           registrations=services.registrations_of(occurrence.id), action_form=ActionForm(),
                           message_form=message_form or MessageForm(formdata=None),
                           lang=current_language().code), status


@bp.get("/occurrences/<int:occurrence_id>/registrations")
@login_required
def registrations(occurrence_id: int):
    return _registrations_page(_organizer_occurrence(occurrence_id))


@bp.post("/occurrences/<int:occurrence_id>/message")
@login_required
@limiter.limit("20 per hour")
def message(occurrence_id: int):
    occurrence = _organizer_occurrence(occurrence_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _registrations_page(occurrence, form, 422)
    try:
        count = services.message_registrants(occurrence, actor=current_user, subject=form.subject.data,
                                             body=form.body.data, include_waitlisted=form.include_waitlisted.data)
    except DomainError as exc:
        db.session.rollback()
        form.body.errors = [*form.body.errors, exc.message]
        return _registrations_page(occurrence, form, 422)
    db.session.commit()
    flash(_("%(count)d人にメールを送りました。", count=count), "success")
    return redirect(url_for("events.registrations", occurrence_id=occurrence_id), 303)


def _csv_cell(value) -> str:
    """A CSV cell that spreadsheet software will not run as a formula."""
    return neutralize("" if value is None else str(value))


@bp.get("/occurrences/<int:occurrence_id>/registrations.csv")
@login_required
def registrations_csv(occurrence_id: int):
    import csv
    import io

    occurrence = _organizer_occurrence(occurrence_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([plain(_("番号")), plain(_("名前")), plain(_("メールアドレス")), plain(_("状態")),
                     plain(_("申込日時"))])
    for number, registration in enumerate(services.registrations_of(occurrence_id), start=1):
        writer.writerow([number, _csv_cell(registration.name), _csv_cell(registration.email),
                         plain(str(registration.status.label)),
                         to_tokyo(registration.queued_at).strftime("%Y-%m-%d %H:%M")])
    filename = f"registrations-{occurrence.id}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.post("/registrations/<int:registration_id>/promote")
@login_required
def promote(registration_id: int):
    registration = db.session.get(Registration, registration_id) or abort(404)
    occurrence = _organizer_occurrence(registration.occurrence_id)
    if ActionForm().validate_on_submit():
        try:
            services.promote_by_hand(registration_id=registration_id, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("参加を確定しました。本人にメールで知らせました。"), "success")
    return redirect(url_for("events.registrations", occurrence_id=occurrence.id), 303)


@bp.post("/registrations/<int:registration_id>/remove")
@login_required
def remove_registration(registration_id: int):
    registration = db.session.get(Registration, registration_id) or abort(404)
    occurrence = _organizer_occurrence(registration.occurrence_id)
    if ActionForm().validate_on_submit():
        try:
            services.cancel_registration(registration_id=registration_id, user=current_user, by_organizer=True)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("申し込みを取り消しました。"), "success")
    return redirect(url_for("events.registrations", occurrence_id=occurrence.id), 303)


# ---------------------------------------------------------------- staff review


@bp.get("/review")
@role_required(Role.WARD_STAFF)
def review():
    return render_template("events/review.html", queue=queries.review_queue(), form=ReviewForm(formdata=None),
                           lang=current_language().code)


@bp.post("/<int:series_id>/approve")
@role_required(Role.WARD_STAFF)
def approve(series_id: int):
    series = db.session.get(EventSeries, series_id) or abort(404)
    if ReviewForm().validate_on_submit():
        try:
            services.approve(series, staff=current_user)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("公開しました。"), "success")
    return redirect(url_for("events.review"), 303)


@bp.post("/<int:series_id>/return")
@role_required(Role.WARD_STAFF)
def return_to_draft(series_id: int):
    series = db.session.get(EventSeries, series_id) or abort(404)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.return_to_draft(series, staff=current_user, comment=form.comment.data)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("コメントを付けて団体に戻しました。"), "success")
    return redirect(url_for("events.review"), 303)


# ---------------------------------------------------------------- ICS feeds


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


def _ics_body(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, mimetype="text/calendar",
                    headers={**headers, "Content-Disposition": 'inline; filename="events.ics"'})


def _ics_response(occurrences, name: str, *, private: bool = False):
    body = ical.build_calendar(occurrences, name=name, base_url=current_app.config["BASE_URL"],
                               language=current_language().code)
    tag, modified = ical.etag(body), ical.last_modified(occurrences)
    headers = _ics_headers(tag, modified, private=private)
    if _not_modified(tag, modified):
        return Response(status=304, headers=headers)
    return _ics_body(body, headers)


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


@bp.get("/my/<token>/feed.ics")
def my_feed(token: str):
    """The private "my events" feed: a secret URL (calendar apps cannot sign in); 404 for a wrong token."""
    user = services.user_for_feed_token(token)
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
