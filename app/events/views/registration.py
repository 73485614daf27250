"""Registering for an occurrence and cancelling: members with one click, guests by an e-mail link."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.limits import recipient_limit
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language
from app.core.transactions import FLASH, VIEW, request_transaction
from app.events import registrations as registration_services
from app.events import series as series_services
from app.events.forms import (
    GuestRegistrationForm,
)
from app.events.models import (
    EventOccurrence,
    Registration,
    RegistrationStatus,
)
from app.events.views.common import bp
from app.extensions import db, limiter


@bp.post("/occurrences/<int:occurrence_id>/register")
@login_required
def register(occurrence_id: int):
    occurrence = db.session.get(EventOccurrence, occurrence_id)
    if occurrence is None or not series_services.is_visible(current_user, occurrence.series):
        abort(404)
    series_id = occurrence.series_id
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH) as tx:
        status = registration_services.register(occurrence_id=occurrence_id, user=current_user).status
    if tx.failed:
        return redirect(url_for("events.show", series_id=series_id), 303)
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
    with request_transaction(errors=FLASH, success=_("申し込みを取り消しました。")):
        registration_services.cancel_registration(registration_id=registration_id, user=current_user)
    return redirect(url_for("events.mine"), 303)


@bp.route("/occurrences/<int:occurrence_id>/guest", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@recipient_limit()  # one guest's mailbox must not be flooded from rotating client addresses (#20)
def guest_register(occurrence_id: int):
    """Registration without an account: the guest confirms their e-mail address before a place is taken."""
    occurrence = db.session.get(EventOccurrence, occurrence_id)
    if occurrence is None or not series_services.is_visible(None, occurrence.series):
        abort(404)
    form = GuestRegistrationForm()
    if form.validate_on_submit():
        with request_transaction(errors=form.email) as tx:
            registration_services.request_guest_registration(occurrence_id=occurrence_id, email=form.email.data,
                                                name=form.name.data, language=current_language().code)
        if tx.ok:
            return render_template("events/guest_result.html", series=occurrence.series, sent_to=form.email.data,
                                   lang=current_language().code)
    return render_template("events/guest.html", form=form, occurrence=occurrence, series=occurrence.series,
                           lang=current_language().code), 200 if request.method == "GET" else 422


@bp.route("/guest/confirm/<token>", methods=["GET", "POST"])
def guest_confirm(token: str):
    # A button confirms (POST): mail scanners that open links must not take a seat.
    language = current_language().code
    try:
        data = registration_services.load_guest_token(
            "guest-confirm", token, max_age=registration_services.GUEST_CONFIRM_MAX_AGE_S)
    except DomainError as exc:
        return render_template("events/guest_result.html", message=exc.message, lang=language), 400
    occurrence = db.session.get(EventOccurrence, data["o"]) or abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction(errors=VIEW) as tx:
            status = registration_services.register_guest(
                occurrence_id=data["o"], email=data["e"], name=data["n"], language=data.get("l")).status
        if tx.failed:
            return render_template("events/guest_result.html", message=tx.error.message, series=occurrence.series,
                                   lang=language), tx.error.status_code
        return render_template("events/guest_result.html", series=occurrence.series, status=status, lang=language)
    return render_template("events/guest_confirm.html", form=form, occurrence=occurrence, series=occurrence.series,
                           email=data["e"], lang=language)


@bp.route("/guest/cancel/<token>", methods=["GET", "POST"])
def guest_cancel(token: str):
    language = current_language().code
    try:
        data = registration_services.load_guest_token("guest-cancel", token)
    except DomainError as exc:
        return render_template("events/guest_result.html", message=exc.message, lang=language), 400
    registration = db.session.get(Registration, data["r"])
    if registration is None or registration.guest_email != data["e"]:
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction(errors=VIEW) as tx:
            registration_services.cancel_registration(registration_id=registration.id, user=None, by_guest_link=True)
        if tx.failed:
            return render_template("events/guest_result.html", message=tx.error.message,
                                   lang=language), tx.error.status_code
        return render_template("events/guest_result.html", cancelled=True, lang=language)
    return render_template("events/guest_cancel.html", form=form, registration=registration,
                           occurrence=registration.occurrence, series=registration.occurrence.series, lang=language)
