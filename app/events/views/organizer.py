"""Organizer pages: creating and editing a series, submitting it, cancelling it or one occurrence, the group's
events, and the registrants of an occurrence (list, CSV, message, promote, remove)."""

from __future__ import annotations

from datetime import time as dtime

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from app.bookings.models import Booking
from app.core import images
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language, plain
from app.core.spreadsheet import neutralize
from app.core.time import to_tokyo
from app.core.transactions import FLASH, request_transaction
from app.core.uploads import accepts_uploads
from app.events import queries, venue
from app.events import registrations as registration_services
from app.events import series as series_services
from app.events.forms import (
    CancelEventForm,
    EventForm,
    MessageForm,
    OccurrenceForm,
    SubmitForm,
    fill_from_series,
)
from app.events.models import (
    EventOccurrence,
    EventSeries,
    EventStatus,
    Registration,
)
from app.events.views.common import bp, editable_series
from app.extensions import db, limiter
from app.organizations.access import editable_organization
from app.organizations.models import Organization, VerificationStatus


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
    """The saved series, committed; None with the error on the form (the field an InvalidEvent names, the image
    field for a bad image, else the title)."""
    with request_transaction(form=form, errors={images.InvalidImage: form.image, DomainError: form.title_ja}) as tx:
        saved = series_services.save_series(organization=organization, actor=current_user, data=form.to_input(),
                                     series=series, check_venue=False)
        venue.set_venue_booking(saved, form.room_booking_id.data, actor=current_user)
        if form.remove_image.data:
            saved.image_name = None
        upload = form.image.data
        if upload and getattr(upload, "filename", ""):
            saved.image_name = images.store(upload.read())
    return None if tx.failed else saved


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
            return redirect(url_for("events.show", series_id=saved.id), 303)
    elif request.method == "GET":
        form.contact_email.data = organization.public_email
        form.district.data = organization.district.value
        _prefill_from_booking(form, request.args.get("booking", type=int))
    return _form_page(form, organization, None, 200 if request.method == "GET" else 422)


@bp.route("/<int:series_id>/edit", methods=["GET", "POST"])
@accepts_uploads
@login_required
def edit(series_id: int):
    series = editable_series(series_id)
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
            return redirect(url_for("events.show", series_id=series_id), 303)
        series = db.session.get(EventSeries, series_id)
    return _form_page(form, organization, series, 200 if request.method == "GET" else 422)


@bp.post("/<int:series_id>/submit")
@login_required
def submit(series_id: int):
    series = editable_series(series_id)
    form = SubmitForm()
    if not form.validate_on_submit():
        flash(_("公開する日時の形が正しくありません。"), "error")
        return redirect(url_for("events.show", series_id=series_id), 303)
    with request_transaction(errors=FLASH) as tx:
        status = series_services.submit(series, actor=current_user, publish_at=form.publish_at_utc())
    if tx.ok:
        flash(_("公開しました。") if status == EventStatus.PUBLISHED
              else _("公開を申請しました。区の職員が確認してから公開されます。"), "success")
    return redirect(url_for("events.show", series_id=series_id), 303)


@bp.route("/<int:series_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(series_id: int):
    series = editable_series(series_id)
    form = CancelEventForm()
    if form.validate_on_submit():
        with request_transaction(errors=form.reason) as tx:
            told = series_services.cancel_series(series, actor=current_user, reason=form.reason.data)
        if tx.ok:
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
        with request_transaction(form=form, errors=form.start_time) as tx:
            changed = series_services.edit_occurrences(occurrence, actor=current_user, following=following,
                                                day=form.day.data, start_time=form.start_time.data,
                                                end_time=form.end_time.data, capacity=form.capacity.data,
                                                venue_booking_id=form.room_booking_id.data)
        if tx.ok:
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
        with request_transaction(errors=form.reason) as tx:
            told = series_services.cancel_occurrence(occurrence, actor=current_user, reason=form.reason.data)
        if tx.ok:
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
    if not series_services.can_edit(current_user, occurrence.series):
        abort(403)
    return occurrence


def _registrations_page(occurrence, message_form=None, status=200):
    return render_template("events/registrations.html", occurrence=occurrence, series=occurrence.series,
                           registrations=registration_services.registrations_of(occurrence.id),
                           positions=registration_services.waitlist_positions([occurrence.id]),
                           action_form=ActionForm(),
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
    with request_transaction(errors=form.body) as tx:
        count = registration_services.message_registrants(occurrence, actor=current_user, subject=form.subject.data,
                                             body=form.body.data, include_waitlisted=form.include_waitlisted.data)
    if tx.failed:
        return _registrations_page(occurrence, form, 422)
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
    for number, registration in enumerate(registration_services.registrations_of(occurrence_id), start=1):
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
        with request_transaction(errors=FLASH, success=_("参加を確定しました。本人にメールで知らせました。")):
            registration_services.promote_by_hand(registration_id=registration_id, actor=current_user)
    return redirect(url_for("events.registrations", occurrence_id=occurrence.id), 303)


@bp.post("/registrations/<int:registration_id>/remove")
@login_required
def remove_registration(registration_id: int):
    registration = db.session.get(Registration, registration_id) or abort(404)
    occurrence = _organizer_occurrence(registration.occurrence_id)
    if ActionForm().validate_on_submit():
        with request_transaction(errors=FLASH, success=_("申し込みを取り消しました。")):
            registration_services.cancel_registration(registration_id=registration_id, user=current_user,
                                                      by_organizer=True)
    return redirect(url_for("events.registrations", occurrence_id=occurrence.id), 303)
