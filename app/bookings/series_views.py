"""Weekly booking series pages (on the bookings blueprint): plan then confirm, the series, cancel the rest."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.bookings import access
from app.bookings import series as series_services
from app.bookings.forms import SeriesForm, StaffSeriesForm
from app.bookings.models import BookingSeries
from app.bookings.views import (
    _day_arg,
    _equipment_choices,
    _organization_choices,
    _room_or_404,
    _unit_choices,
    bp,
    desk_ban_override,
    desk_ban_warning,
    desk_organization_choices,
    desk_party,
)
from app.core.forms import ActionForm
from app.core.permissions import Role, role_required
from app.core.time import hhmm, today_tokyo
from app.core.transactions import FLASH, VIEW, request_transaction
from app.extensions import db
from app.facilities.access import staff_facility


def _fingerprint(form: SeriesForm, room_id: int) -> str:
    """What the plan shown was computed from: a changed input after the plan means showing a new plan first."""
    values = [room_id, form.day.data and form.day.data.isoformat(), sorted(form.units.data or []),
              form.interval_weeks.data, form.count.data, form.until.data and form.until.data.isoformat(),
              form.attendees.data, form.category.data, form.organization_id.data, sorted(form.equipment.data or [])]
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:32]


def _render(form: SeriesForm, room, status: int, *, plan=None, error=None, action_url: str | None = None,
            ban: str | None = None):
    return render_template("bookings/series_new.html", form=form, room=room, facility=room.facility, plan=plan,
                           error=error, hm=hhmm, action_url=action_url or url_for("bookings.series_new"),
                           ban=ban), status


@bp.route("/series/new", methods=["GET", "POST"])
@login_required
def series_new():
    """Book the same room and 時間区分 every week: first a plan of every date (free, taken, closed), then confirm."""
    form = SeriesForm()
    room = _room_or_404(form.room_id.data if request.method == "POST" else request.args.get("room"))
    _prepare(form, room)
    form.organization_id.choices = _organization_choices()
    if request.method == "GET":
        return _render(form, room, 200)
    if not form.validate_on_submit():
        return _render(form, room, 422)
    return _plan_or_book(form, room, user=current_user)


def _prepare(form: SeriesForm, room) -> None:
    if request.method == "GET":
        form.room_id.data = str(room.id)
        form.day.data = _day_arg(request.args.get("day"))
    form.units.choices = _unit_choices(room, form.day.data)
    form.equipment.choices = _equipment_choices(room.facility_id)


@bp.route("/desk/<int:facility_id>/series", methods=["GET", "POST"])
@role_required(Role.FACILITY_STAFF)
def desk_series(facility_id: int):
    """The desk books a weekly series for a resident or a registered group: the same plan, rules and fees."""
    facility = staff_facility(facility_id)
    form = StaffSeriesForm()
    room = _room_or_404(form.room_id.data if request.method == "POST" else request.args.get("room"))
    if room.facility_id != facility.id:
        abort(404)
    _prepare(form, room)
    form.organization_id.choices = desk_organization_choices()
    action_url = url_for("bookings.desk_series", facility_id=facility.id)
    if request.method == "GET":
        return _render(form, room, 200, action_url=action_url)
    if not form.validate_on_submit():
        return _render(form, room, 422, action_url=action_url)
    party = desk_party(form)
    if party is None:
        return _render(form, room, 422, action_url=action_url)
    resident, organization = party
    return _plan_or_book(form, room, user=resident, actor=current_user,
                         organization_id=organization.id if organization else None, action_url=action_url,
                         ban=desk_ban_warning(resident))


def _plan_or_book(form: SeriesForm, room, *, user, actor=None, organization_id: int | None = None,
                  action_url: str | None = None, ban: str | None = None):
    """Show the plan (again, when the input changed since), or book it; errors re-render the form with the input.

    BAN: the desk's warning that USER is barred; booking then needs the override and a reason (desk_ban_override)."""
    on_behalf = actor is not None
    options = dict(
        user=user, room_id=room.id, first_day=form.day.data, interval_weeks=form.interval_weeks.data,
        count=form.count.data, until=form.until.data, unit_keys=form.units.data or [],
        attendees=form.attendees.data, category=form.category_value,
        organization_id=organization_id if on_behalf else form.organization_id.data,
        equipment_ids=form.equipment.data or [],
    )
    fingerprint = _fingerprint(form, room.id)
    mode = form.mode.data if form.mode.data in ("all", "free") else None
    planning = mode is None or form.confirm.data != fingerprint  # the plan first (writes nothing), then confirm
    override = desk_ban_override(form) if ban and not planning else None
    barred = not planning and ban and override is None  # never book a barred resident silently: plan again
    with request_transaction(errors=VIEW, commit=not (planning or barred)) as tx:
        if planning or barred:
            plan = series_services.plan_series(on_behalf=on_behalf, **options)
        else:
            series, booked = series_services.book_series(purpose=form.purpose.data, skip_conflicts=mode == "free",
                                                         actor=actor, ban_override_reason=override, **options)
    if isinstance(tx.error, series_services.SeriesConflict):
        plan = _plan_or_none(options, on_behalf=on_behalf)
        form.confirm.data = fingerprint if plan else ""
        return _render(form, room, 409, plan=plan, error=tx.error.message, action_url=action_url, ban=ban)
    if tx.failed:
        form.confirm.data = ""
        return _render(form, room, tx.status(), error=tx.error.message, action_url=action_url, ban=ban)
    if planning:
        form.confirm.data = fingerprint
        return _render(form, room, 200, plan=plan, action_url=action_url, ban=ban)
    if barred:
        return _render(form, room, 422, plan=plan, action_url=action_url, ban=ban)
    flash(_("くり返しの予約を受け付けました(%(n)s回)。", n=len(booked)), "success")
    return redirect(url_for("bookings.series_show", series_id=series.id), 303)


def _plan_or_none(options: dict, *, on_behalf: bool = False):
    with request_transaction(errors=VIEW, commit=False) as tx:
        plan = series_services.plan_series(on_behalf=on_behalf, **options)
    return None if tx.failed else plan


def _series_for_user(series_id: int) -> BookingSeries:
    """The series, if the current user made it, is an officer of its group or staff of its facility; else 404."""
    series = db.session.get(BookingSeries, series_id)
    if series is None or not access.can_manage(current_user, series):
        abort(404)
    return series


@bp.get("/series/<int:series_id>")
@login_required
def series_show(series_id: int):
    series = _series_for_user(series_id)
    bookings = series_services.series_bookings(series.id)
    return render_template("bookings/series_show.html", series=series, bookings=bookings, hm=hhmm,
                           today=today_tokyo(), remaining=series_services.remaining(series.id),
                           net=sum(b.fee_net_yen for b in bookings if b.state.is_active))


@bp.route("/series/<int:series_id>/cancel", methods=["GET", "POST"])
@login_required
def series_cancel(series_id: int):
    """Cancel the rest of a series from a chosen date, after saying what would be lost."""
    series = _series_for_user(series_id)
    try:
        from_day = date.fromisoformat(request.values.get("from", ""))
    except ValueError:
        from_day = None
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        with request_transaction(errors=FLASH) as tx:
            cancelled = series_services.cancel_series(series, actor=current_user, from_day=from_day)
        if tx.ok:
            flash(_("%(n)s件の予約を取り消しました。", n=len(cancelled)), "success")
        return redirect(url_for("bookings.series_show", series_id=series.id), 303)
    preview = series_services.cancellation_preview(series, actor=current_user, from_day=from_day)
    if not preview.bookings:
        flash(_("取り消せる予約が残っていません。"), "error")
        return redirect(url_for("bookings.series_show", series_id=series.id), 303)
    return render_template("bookings/series_cancel.html", series=series, preview=preview, form=form, hm=hhmm,
                           from_day=from_day), 400 if request.method == "POST" else 200
