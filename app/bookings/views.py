"""Booking pages: the form (quote first, then confirm), my bookings, a booking, cancel, the staff desk."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectChoice

from app.accounts.models import User
from app.accounts.services import normalize_email
from app.bookings import access, ical, quotes, services
from app.bookings.availability import claims_between
from app.bookings.forms import BookingForm, ClosureForm, ExemptDayForm, StaffBookingForm, parse_id
from app.bookings.models import Booking, BookingState
from app.core.db import rows_by_id
from app.core.errors import DomainError
from app.core.filters import date_long
from app.core.forms import ActionForm
from app.core.permissions import Role, role_required
from app.core.time import hhmm, today_tokyo
from app.core.transactions import FLASH, VIEW, request_transaction
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities import services as facility_services
from app.facilities.access import staff_facility
from app.facilities.availability import RoomNode, cells, leaves, slots_for_day, units_for
from app.facilities.models import Closure, ClosureKind, Equipment, Facility, Room
from app.organizations.models import Membership, MembershipRole, Organization, VerificationStatus

bp = Blueprint("bookings", __name__, url_prefix="/bookings")

MAX_DAYS_AWAY = 3660  # pages show days within ten years of today; the services refuse what is outside the window



def _room_or_404(raw) -> Room:
    room_id = parse_id(raw or "")
    room = db.session.get(Room, room_id) if room_id else None
    if room is None or not room.active:
        abort(404)
    return room


def _day_arg(raw: str | None) -> date:
    """A ?day= for a form or the desk sheet: today when missing, malformed or beyond ten years either way (a date
    near the calendar's end would overflow the day arithmetic of the pages)."""
    today = today_tokyo()
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        return today
    return day if abs((day - today).days) <= MAX_DAYS_AWAY else today


def _unit_choices(room: Room, day: date | None) -> list[SelectChoice]:
    """The day's units for ROOM, taken ones disabled (the service still decides)."""
    if day is None or abs((day - today_tokyo()).days) > MAX_DAYS_AWAY:  # the service says why (past, window)
        return []
    slots = facility_queries.facility_slots(room.facility_id)
    holidays = facility_queries.holidays_between(day, day + timedelta(days=1))
    rooms = facility_queries.facility_rooms(room.facility_id)
    nodes = {r.id: RoomNode(r.id, r.parent_id, r.hourly) for r in rooms}
    if room.id not in nodes:
        return []
    my_leaves = leaves(list(nodes.values()))[room.id]
    claims = claims_between(sorted(my_leaves), day, day + timedelta(days=1))
    choices = []
    for unit in units_for(nodes[room.id], slots_for_day(slots, day, holidays)):
        taken = any((leaf, day, c) in claims for leaf in my_leaves for c in cells(unit.start, unit.end))
        label = f"{unit.slot.label} {hhmm(unit.start)}–{hhmm(unit.end)}"
        if taken:
            label += " " + _("(予約済み)")
        choices.append(SelectChoice(unit.key, label, render_kw={"data-slot": unit.slot.id,
                                                                **({"disabled": True} if taken else {})}))
    return choices


def _equipment_choices(facility_id: int) -> list[SelectChoice]:
    rows = db.session.scalars(sa.select(Equipment).where(Equipment.facility_id == facility_id,
                                                         Equipment.active.is_(True)).order_by(Equipment.id))
    return [SelectChoice(e.id, _("%(name)s(%(yen)s円)", name=e.name, yen=format(e.fee_yen, ","))) for e in rows]


def _organization_choices() -> list[SelectChoice]:
    rows = db.session.scalars(
        sa.select(Organization).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == current_user.id, Membership.role == MembershipRole.OFFICER)
        .order_by(Organization.name_ja)
    )
    return [SelectChoice("", _("個人として予約する"))] + [SelectChoice(str(o.id), o.name_ja) for o in rows]


def _render_form(form: BookingForm, room: Room, status: int, *, quote=None, error=None, alternatives=None,
                 action_url: str | None = None, day_url: str | None = None, ban: str | None = None):
    return render_template("bookings/new.html", form=form, room=room, facility=room.facility, quote=quote,
                           error=error, alternatives=alternatives or [], hm=hhmm, ban=ban,
                           action_url=action_url or url_for("bookings.new"),
                           day_url=day_url or url_for("bookings.new")), status


def _quote_terms(form: BookingForm, room: Room, *, user_id: int, organization_id: int | None) -> dict:
    return quotes.quote_terms(user_id=user_id, room_id=room.id, day=form.day.data, unit_keys=form.units.data or [],
                              attendees=form.attendees.data, category=form.category_value,
                              organization_id=organization_id, equipment_ids=form.equipment.data or [])


def _render_quote(form: BookingForm, room: Room, terms: dict, quote, status: int = 200, *, changed=None, **urls):
    """The summary of QUOTE above the form, whose `confirm` field now carries it signed; CHANGED: why it is shown
    again instead of booking (the confirmation was not what the summary before it said)."""
    form.confirm.data = quotes.sign_quote(terms, net_yen=quote.net)
    return _render_form(form, room, status, quote=quote, error=changed, **urls)


QUOTE_CHANGED = _l("予約の内容が、確かめたときと変わりました。新しい内容と料金を確かめてから予約してください。")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = BookingForm()
    room = _room_or_404(form.room_id.data if request.method == "POST" else request.args.get("room"))
    if request.method == "GET":
        form.room_id.data = str(room.id)
        form.day.data = _day_arg(request.args.get("day"))
    form.units.choices = _unit_choices(room, form.day.data)
    form.equipment.choices = _equipment_choices(room.facility_id)
    form.organization_id.choices = _organization_choices()
    if request.method == "GET":
        # From a free cell of the 空き状況 grid (?slot=): that 時間区分's free units come ticked.
        slot_id = request.args.get("slot", type=int)
        if slot_id:
            form.units.data = [c.value for c in form.units.choices
                               if c.render_kw.get("data-slot") == slot_id and not c.render_kw.get("disabled")]
        return _render_form(form, room, 200)
    if not form.validate_on_submit():
        return _render_form(form, room, 422)
    options = dict(
        user=current_user, room_id=room.id, day=form.day.data, unit_keys=form.units.data or [],
        attendees=form.attendees.data, category=form.category_value, organization_id=form.organization_id.data,
        equipment_ids=form.equipment.data or [],
    )
    terms = _quote_terms(form, room, user_id=current_user.id, organization_id=form.organization_id.data)
    fee = quotes.signed_fee(form.confirm.data, terms)
    # First the quote (writes nothing), then the booking of exactly what it said; a confirmation that is not what its
    # quote said (edited below the summary, or the token altered) is quoted again.
    quoting = fee is None
    with request_transaction(errors=VIEW, commit=not quoting) as tx:
        if quoting:
            quote = services.quote(**options)
        else:
            booking = services.book_slots(purpose=form.purpose.data, expected_net_yen=fee, **options)
    if isinstance(tx.error, services.QuoteChanged):
        return _render_quote(form, room, terms, tx.error.quote, 409, changed=tx.error.message)
    if tx.failed:
        form.confirm.data = ""
        if isinstance(tx.error, services.SlotTaken):
            form.units.choices = _unit_choices(room, form.day.data)
            return _render_form(form, room, 409, error=tx.error.message, alternatives=tx.error.alternatives)
        return _render_form(form, room, tx.status(), error=tx.error.message)
    if quoting:
        if form.confirm.data:
            return _render_quote(form, room, terms, quote, 409, changed=QUOTE_CHANGED)
        return _render_quote(form, room, terms, quote)
    flash(_("予約を受け付けました。"), "success")
    return redirect(url_for("bookings.show", booking_id=booking.id), 303)


def _own_bookings(user_id: int, *, since: date | None = None) -> list[Booking]:
    """The user's bookings and those of the groups they are an officer of (any officer may manage them)."""
    stmt = (sa.select(Booking).where(access.visible(Booking, user_id)).order_by(Booking.day.desc(), Booking.id.desc())
            .options(sa.orm.selectinload(Booking.items), sa.orm.joinedload(Booking.room).joinedload(Room.facility)))
    if since:
        stmt = stmt.where(Booking.day >= since)
    return list(db.session.scalars(stmt))


@bp.get("/mine")
@login_required
def mine():
    feed_url = url_for("bookings.feed", token=ical.feed_token(current_user), _external=True)
    bookings = _own_bookings(current_user.id)  # most recent day first
    today = today_tokyo()
    # Upcoming first, the soonest at the top; then the past, the most recent first.
    upcoming = sorted((b for b in bookings if b.day >= today), key=lambda b: (b.day, b.id))
    past = [b for b in bookings if b.day < today]
    organization_ids = {b.organization_id for b in bookings if b.organization_id}
    organizations = rows_by_id(db.session.scalars(
        sa.select(Organization).where(Organization.id.in_(organization_ids)))) if organization_ids else {}
    return render_template("bookings/mine.html", upcoming=upcoming, past=past, today=today, hm=hhmm,
                           feed_url=feed_url, organizations=organizations)


@bp.get("/feed/<token>.ics")
def feed(token: str):
    """The private ICS feed of a user's bookings (the token in the URL is the key; a password change revokes it)."""
    user_id = ical.user_id_for_feed(token, lambda uid: db.session.get(User, uid))
    if user_id is None:
        abort(404)
    body = ical.bookings_calendar(_own_bookings(user_id, since=today_tokyo() - timedelta(days=90)),
                                  name=_("つどい わたしの予約"), base_url=current_app.config["BASE_URL"])
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _booking_for_user(booking_id: int) -> Booking:
    """The booking, if the current user booked it, is an officer of its group or staff of its facility; otherwise
    404 (no leak)."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or not access.can_manage(current_user, booking):
        abort(404)
    return booking


@bp.get("/<int:booking_id>")
@login_required
def show(booking_id: int):
    booking = _booking_for_user(booking_id)
    google = ical.google_calendar_url(booking, base_url=current_app.config["BASE_URL"]) \
        if booking.state.is_active and booking.items else None
    return render_template("bookings/show.html", booking=booking, hm=hhmm, today=today_tokyo(),
                           preview=services.cancellation_preview(booking) if booking.state.is_active else None,
                           google_calendar=google)


@bp.get("/<int:booking_id>/booking.ics")
@login_required
def booking_ics(booking_id: int):
    """One booking as a calendar file ("add to my calendar"), for those who may see its page."""
    booking = _booking_for_user(booking_id)
    body = ical.bookings_calendar([booking], name=_("予約番号 %(n)s", n=booking.id),
                                  base_url=current_app.config["BASE_URL"])
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="booking-{booking.id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int):
    booking = _booking_for_user(booking_id)
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH) as tx:
            services.cancel_booking(booking, actor=current_user)
        if tx.failed:
            return redirect(url_for("bookings.show", booking_id=booking.id), 303)
        flash(_("予約を取り消しました。") if not booking.late_cancellation else
              _("予約を取り消しました。直前の取消しのため、しばらく新しい予約はできません。"), "success")
        return redirect(url_for("bookings.mine"), 303)
    if not booking.state.is_active:
        flash(_("この予約はすでに取り消されているか、終了しています。"), "error")
        return redirect(url_for("bookings.show", booking_id=booking.id), 303)
    return render_template("bookings/cancel.html", booking=booking, form=form,
                           preview=services.cancellation_preview(booking), hm=hhmm)


# --- staff desk ------------------------------------------------------------------------------------------


@bp.get("/desk/<int:facility_id>")
@role_required(Role.FACILITY_STAFF)
def desk(facility_id: int):
    facility = staff_facility(facility_id)
    return _desk_page(facility, _day_arg(request.args.get("day")))


def _desk_page(facility: Facility, day: date, *, exempt_form: ExemptDayForm | None = None, status: int = 200):
    rooms = facility_queries.facility_rooms(facility.id)
    bookings = list(db.session.scalars(
        sa.select(Booking).where(Booking.facility_id == facility.id, Booking.day == day)
        .order_by(Booking.room_id, Booking.id)
        .options(sa.orm.selectinload(Booking.items))
    ))

    user_ids = {b.user_id for b in bookings if b.user_id}
    users = rows_by_id(db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))) if user_ids else {}
    organization_ids = {b.organization_id for b in bookings if b.organization_id}
    organizations = rows_by_id(db.session.scalars(
        sa.select(Organization).where(Organization.id.in_(organization_ids)))) if organization_ids else {}
    by_room: dict[int, list[Booking]] = {}
    for booking in bookings:
        by_room.setdefault(booking.room_id, []).append(booking)
    exempt_form = exempt_form or ExemptDayForm(formdata=None, day=day)
    return render_template("bookings/desk.html", facility=facility, day=day, rooms=rooms, by_room=by_room,
                           users=users, organizations=organizations, hm=hhmm,
                           form=ActionForm(), BookingState=BookingState, today=today_tokyo(),
                           previous=day - timedelta(days=1), following=day + timedelta(days=1),
                           exempt_form=exempt_form), status


@bp.post("/desk/bookings/<int:booking_id>/<action>")
@role_required(Role.FACILITY_STAFF)
def desk_action(booking_id: int, action: str):
    booking = db.get_or_404(Booking, booking_id)
    staff_facility(booking.facility_id)
    if action not in {"approve", "reject", "paid", "checkin", "noshow"}:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH, success=_("記録しました。")):
        if action == "paid":
            services.record_payment(booking, actor=current_user)
        elif action in ("checkin", "noshow"):
            services.mark_attendance(booking, actor=current_user, came=action == "checkin")
        else:
            services.decide_booking(booking, actor=current_user, approve=action == "approve")
    return redirect(url_for("bookings.desk", facility_id=booking.facility_id, day=booking.day.isoformat()), 303)


@bp.post("/desk/<int:facility_id>/exempt")
@role_required(Role.FACILITY_STAFF)
def desk_exempt(facility_id: int):
    facility = staff_facility(facility_id)
    form = ExemptDayForm()
    if not form.validate_on_submit():
        return _desk_page(facility, today_tokyo(), exempt_form=form, status=422)
    with request_transaction(success=_("この日の直前の取消しと無断キャンセルは、利用制限の対象外になりました。")):
        services.add_exempt_day(facility_id=facility.id, day=form.day.data, reason=form.reason.data,
                                actor=current_user)
    return redirect(url_for("bookings.desk", facility_id=facility.id, day=form.day.data.isoformat()), 303)


def _closure_form(facility: Facility, formdata=None) -> ClosureForm:
    form = ClosureForm(formdata=formdata) if formdata is not None else ClosureForm()
    form.room_id.choices = [SelectChoice("", _("施設全体"))] + [
        SelectChoice(str(r.id), r.name) for r in facility_queries.facility_rooms(facility.id)]
    return form


def _closures_page(facility: Facility, form: ClosureForm, status: int = 200):
    return render_template("bookings/closures.html", facility=facility, form=form, action_form=ActionForm(),
                           closures=facility_services.upcoming_closures(facility.id, today_tokyo()),
                           rooms=facility_services.room_names(facility.id), timedelta=timedelta), status


@bp.route("/desk/<int:facility_id>/closures", methods=["GET", "POST"])
@role_required(Role.FACILITY_STAFF)
def closures(facility_id: int):
    facility = staff_facility(facility_id)
    form = _closure_form(facility)
    if request.method == "GET":
        return _closures_page(facility, form)
    if not form.validate_on_submit():
        return _closures_page(facility, form, 422)
    try:
        facility_services.add_closure(facility=facility, room_id=form.room_id.data, kind=ClosureKind(form.kind.data),
                                      first_day=form.first_day.data, last_day=form.last_day.data,
                                      reason=form.reason.data, actor=current_user)
    except (DomainError, ValueError) as exc:
        db.session.rollback()
        form.first_day.errors.append(getattr(exc, "message", None) or _("入力内容を確かめてください。"))
        return _closures_page(facility, form, 422)
    db.session.commit()
    flash(_("休館を登録しました。"), "success")
    return redirect(url_for("bookings.closures", facility_id=facility.id), 303)


@bp.post("/desk/closures/<int:closure_id>/delete")
@role_required(Role.FACILITY_STAFF)
def delete_closure(closure_id: int):
    closure = db.get_or_404(Closure, closure_id)
    facility = staff_facility(closure.facility_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(success=_("休館を取り消しました。")):
        facility_services.remove_closure(closure, actor=current_user)
    return redirect(url_for("bookings.closures", facility_id=facility.id), 303)


def _registered_organizations() -> list[Organization]:
    """Groups the desk may book for: registered (verified by staff), by name."""
    return list(db.session.scalars(sa.select(Organization).where(
        Organization.status == VerificationStatus.VERIFIED).order_by(Organization.name_ja)))


def desk_organization_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("個人として予約する"))] + [
        SelectChoice(str(o.id), f"{o.name_ja}({o.kind.label})") for o in _registered_organizations()]


def desk_party(form):
    """Whom the desk books for: (the user, the group or None), or None with the form's errors set.

    A group's booking without a named contact goes to (and is mailed to) its first officer."""
    organization = None
    if form.organization_id.data is not None:
        organization = db.session.get(Organization, form.organization_id.data) if form.organization_id.data else None
        if organization is None or not organization.is_verified:
            form.organization_id.errors.append(_("登録済みの団体を選んでください。"))
            return None
    if form.user_email.data:
        resident = db.session.scalar(sa.select(User).where(User.email == normalize_email(form.user_email.data)))
    else:
        resident = db.session.scalar(
            sa.select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == organization.id, Membership.role == MembershipRole.OFFICER)
            .order_by(Membership.id).limit(1))
    if resident is None or not resident.is_active:
        form.user_email.errors.append(
            _("このメールアドレスの利用者は登録されていません。") if form.user_email.data
            else _("この団体には連絡先になる役員がいません。メールアドレスを入力してください。"))
        return None
    return resident, organization


def desk_ban_warning(resident) -> str | None:
    """What the desk must know before booking for RESIDENT: until when and why they are barred, or None.

    quote(on_behalf=True) skips the ban (staff may book for anyone), so the desk shows it and asks for an override."""
    until = services.ban_until(resident.id)
    if until is None:
        return None
    reasons = services.ban_reasons(resident.id)
    day = date_long(until)
    if services.BAN_LATE_CANCELLATION in reasons and services.BAN_NO_SHOW in reasons:
        return _("この方は{day}まで新しい予約ができません(直前の取消しと無断キャンセルのため)。").format(day=day)
    if services.BAN_NO_SHOW in reasons:
        return _("この方は{day}まで新しい予約ができません(無断キャンセルのため)。").format(day=day)
    if services.BAN_LATE_CANCELLATION in reasons:
        return _("この方は{day}まで新しい予約ができません(直前の取消しのため)。").format(day=day)
    return _("この方は{day}まで新しい予約ができません。").format(day=day)


def desk_ban_override(form) -> str | None:
    """The reason staff gave for booking a barred resident anyway, or None with the form's errors set (the box
    ticked and a reason typed are both needed)."""
    reason = (form.ban_reason.data or "").strip()
    if not form.ban_override.data:
        form.ban_override.errors.append(_("利用制限中です。予約するには、この欄にチェックを入れ、理由を入力してください。"))
    if not reason:
        form.ban_reason.errors.append(_("例外とする理由を入力してください。"))
    return reason if form.ban_override.data and reason else None


@bp.route("/desk/<int:facility_id>/book", methods=["GET", "POST"])
@role_required(Role.FACILITY_STAFF)
def desk_book(facility_id: int):
    """The desk books on behalf of a resident (phone or counter): same rules and fees, the resident is the user."""
    facility = staff_facility(facility_id)
    form = StaffBookingForm()
    room = _room_or_404(form.room_id.data if request.method == "POST" else request.args.get("room"))
    if room.facility_id != facility.id:
        abort(404)
    urls = dict(action_url=url_for("bookings.desk_book", facility_id=facility.id),
                day_url=url_for("bookings.desk_book", facility_id=facility.id))
    if request.method == "GET":
        form.room_id.data = str(room.id)
        form.day.data = _day_arg(request.args.get("day"))
    form.units.choices = _unit_choices(room, form.day.data)
    form.equipment.choices = _equipment_choices(room.facility_id)
    form.organization_id.choices = desk_organization_choices()
    if request.method == "GET":
        return _render_form(form, room, 200, **urls)
    if not form.validate_on_submit():
        return _render_form(form, room, 422, **urls)
    party = desk_party(form)
    if party is None:
        return _render_form(form, room, 422, **urls)
    resident, organization = party
    urls["ban"] = ban = desk_ban_warning(resident)  # shown on every page from here on, with the override fields
    options = dict(user=resident, room_id=room.id, day=form.day.data, unit_keys=form.units.data or [],
                   attendees=form.attendees.data, category=form.category_value,
                   organization_id=organization.id if organization else None,
                   equipment_ids=form.equipment.data or [])
    terms = _quote_terms(form, room, user_id=resident.id, organization_id=options["organization_id"])
    fee = quotes.signed_fee(form.confirm.data, terms)
    confirming = fee is not None  # else the quote first (writes nothing), or again when the input changed since
    override = desk_ban_override(form) if confirming and ban else None
    barred = confirming and ban and override is None  # never book a barred resident silently: quote again
    with request_transaction(errors=VIEW, commit=confirming and not barred) as tx:
        if confirming and not barred:
            booking = services.book_slots(purpose=form.purpose.data, actor=current_user,
                                          ban_override_reason=override, expected_net_yen=fee, **options)
        else:
            quote = services.quote(on_behalf=True, **options)
    if isinstance(tx.error, services.QuoteChanged):
        return _render_quote(form, room, terms, tx.error.quote, 409, changed=tx.error.message, **urls)
    if tx.failed:
        form.confirm.data = ""
        if isinstance(tx.error, services.SlotTaken):
            form.units.choices = _unit_choices(room, form.day.data)
            return _render_form(form, room, 409, error=tx.error.message, alternatives=tx.error.alternatives, **urls)
        return _render_form(form, room, tx.status(), error=tx.error.message, **urls)
    if not confirming:
        if form.confirm.data:
            return _render_quote(form, room, terms, quote, 409, changed=QUOTE_CHANGED, **urls)
        return _render_quote(form, room, terms, quote, **urls)
    if barred:
        return _render_quote(form, room, terms, quote, 422, **urls)
    flash(_("団体に代わって予約しました。") if organization else _("利用者に代わって予約しました。"), "success")
    return redirect(url_for("bookings.desk", facility_id=facility.id, day=booking.day.isoformat()), 303)


from app.bookings import series_views  # noqa: E402, F401 - registers the series pages on this blueprint
