"""Alert pages: newly available slots (public), watch a slot, my alerts, unsubscribe and cancel links from e-mails."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from app.alerts import reminders, services
from app.alerts.forms import WatchForm
from app.alerts.models import SlotWatch
from app.core.args import id_arg
from app.core.converters import parse_id
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language
from app.core.time import hhmm, today_tokyo
from app.core.transactions import VIEW, request_transaction
from app.extensions import db, limiter
from app.facilities import queries as facility_queries
from app.facilities.models import Facility, Room, TimeSlot

bp = Blueprint("alerts", __name__, url_prefix="/alerts")



@bp.get("/freed")
def freed():
    """Slots that became free again in the last days and are still free: anyone may book them, first come."""
    return render_template("alerts/freed.html", offers=services.newly_available(),
                           openings=services.lottery_openings())



def _watch_form(facility: Facility, formdata=None) -> WatchForm:
    form = WatchForm(formdata=formdata) if formdata is not None else WatchForm()
    form.room_id.choices = [SelectChoice("", _("どの部屋でも"))] + [
        SelectChoice(r.id, r.name) for r in facility_queries.facility_rooms(facility.id)]
    slots = db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id == facility.id)
                               .order_by(TimeSlot.start_time, TimeSlot.id))
    seen, choices = set(), [SelectChoice("", _("どの時間区分でも"))]
    for slot in slots:
        label = f"{slot.label} {slot.start_time:%H:%M}–{slot.end_time:%H:%M}"
        if label not in seen:  # weekday variants with the same times read the same
            seen.add(label)
            choices.append(SelectChoice(slot.id, label))
    form.slot_id.choices = choices
    return form


def _facility_or_404(raw) -> Facility:
    facility_id = parse_id(raw)  # 0 for what is not an id
    facility = db.session.get(Facility, facility_id) if facility_id else None
    if facility is None or not facility.active:
        abort(404)
    return facility


@bp.route("/new", methods=["GET", "POST"])
@login_required
@limiter.limit("60 per hour", methods=["POST"])  # with ALERTS_MAX_WATCHES: no flood of watches or audit rows
def new():
    """Watch a room / 時間区分 / day (from the availability grid) or a facility and day (from its page)."""
    if request.method == "GET":
        room_id = id_arg("room")
        room = db.session.get(Room, room_id) if room_id else None
        facility = _facility_or_404(room.facility_id if room is not None else request.args.get("facility"))
        form = _watch_form(facility)
        form.facility_id.data = str(facility.id)
        form.room_id.data = room.id if room is not None and room.facility_id == facility.id else None
        slot_id = id_arg("slot")
        form.slot_id.data = slot_id if slot_id in {c.value for c in form.slot_id.choices} else None
        try:
            form.day.data = date.fromisoformat(request.args.get("day", ""))
        except ValueError:
            form.day.data = today_tokyo() + timedelta(days=1)
        return _new_page(form, facility)
    facility = _facility_or_404(request.form.get("facility_id"))
    form = _watch_form(facility, request.form)
    if not form.validate_on_submit():
        return _new_page(form, facility, 422)
    with request_transaction(errors=form.day, success=_("空きが出たらメールでお知らせします。")) as tx:
        services.add_watch(user=current_user, facility_id=facility.id, day=form.day.data,
                           room_id=form.room_id.data, slot_id=form.slot_id.data)
    if tx.failed:
        return _new_page(form, facility, tx.status(keep=(409,)))
    return redirect(url_for("alerts.mine"), 303)


def _new_page(form: WatchForm, facility: Facility, status: int = 200):
    return render_template("alerts/new.html", form=form, facility=facility), status


@bp.get("/mine")
@login_required
def mine():
    watches = services.watches_of(current_user)
    return render_template("alerts/mine.html", watches=watches, form=ActionForm(), hm=hhmm)


@bp.post("/<int:watch_id>/delete")
@login_required
def delete(watch_id: int):
    watch = db.session.get(SlotWatch, watch_id)
    if watch is None or watch.user_id != current_user.id:
        abort(404)  # another user's watch: no hint that it exists
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(success=_("お知らせを解除しました。")):
        services.remove_watch(watch, user=current_user)
    return redirect(url_for("alerts.mine"), 303)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The link in an alert e-mail: GET asks, POST stops the watch (no sign-in: the signed token is the key)."""
    try:
        watch = services.watch_for_token(token)
    except DomainError as exc:
        return render_template("alerts/result.html", message=exc.message), 400
    if watch is None:
        return render_template("alerts/result.html", message=_("このお知らせは、すでに解除されています。"))
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction():
            services.unsubscribe(token)
        return render_template("alerts/result.html", done=_("お知らせを解除しました。"))
    return render_template("alerts/unsubscribe.html", watch=watch, form=form)


@bp.route("/cancel/<token>", methods=["GET", "POST"])
def cancel(token: str):
    """The one-click cancel link of a reminder: GET shows what cancelling means, POST cancels (once)."""
    form = ActionForm()
    confirmed = form.validate_on_submit()
    with request_transaction(errors=VIEW, commit=confirmed) as tx:
        target = reminders.load_cancel_link(token)
        if confirmed:
            target = reminders.cancel_by_link(token)
    if tx.failed:
        return render_template("alerts/result.html", message=tx.error.message), tx.status(keep=(409,), otherwise=400)
    if not confirmed:
        if request.method == "POST":
            abort(400)
        return render_template("alerts/cancel.html", target=target, form=form, hm=hhmm, lang=current_language().code)
    if target.registration is not None:
        return render_template("alerts/result.html", done=_("申し込みを取り消しました。"))
    if target.booking.late_cancellation:
        done = _("予約を取り消しました。直前の取消しのため、しばらく新しい予約はできません。")
    else:
        done = _("予約を取り消しました。")
    return render_template("alerts/result.html", done=done)
