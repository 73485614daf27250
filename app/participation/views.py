"""Door and report pages: registrant's ticket (code + QR), organizer's check-in page, participation reports,
and the staff list of ended occurrences without an approved report."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.forms import ActionForm
from app.core.i18n import current_language
from app.core.permissions import Role, role_required
from app.core.time import utcnow
from app.core.transactions import FLASH, request_transaction
from app.events import tickets
from app.events.models import EventOccurrence, Registration, RegistrationStatus
from app.extensions import db
from app.organizations.access import editable_organization
from app.participation import checkin as door
from app.participation import reports
from app.participation.forms import (
    BREAKDOWN_LABELS,
    CheckinCodeForm,
    ReportForm,
    ReturnReportForm,
    WalkinForm,
)
from app.participation.models import BREAKDOWN_FIELDS, CheckinMethod, CountingMethod, ParticipationReport

bp = Blueprint("participation", __name__, url_prefix="/participation")


def _own_registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.user_id is None or registration.user_id != current_user.id:
        abort(404)
    if registration.status != RegistrationStatus.CONFIRMED:
        abort(404)
    return registration


def _organized(occurrence_id: int) -> EventOccurrence:
    occurrence = db.get_or_404(EventOccurrence, occurrence_id)
    if not door.can_check_in(current_user, occurrence):
        abort(403)
    return occurrence


def _code_for(registration_id: int) -> str:
    """The registration's check-in code, made when it was confirmed (this GET writes nothing); 404 if it has none."""
    code = tickets.code_of(registration_id)
    if code is None:
        abort(404)
    return code


# ---------------------------------------------------------------- registrant


def _ticket_page(registration: Registration, qr_url: str):
    occurrence = registration.occurrence
    code = _code_for(registration.id)
    return render_template("participation/ticket.html", registration=registration, occurrence=occurrence,
                           series=occurrence.series, code=tickets.format_code(code), qr_url=qr_url,
                           lang=current_language().code)


def _qr_response(registration: Registration) -> Response:
    code = _code_for(registration.id)
    response = Response(tickets.qr_svg(registration.occurrence_id, code), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/registrations/<int:registration_id>/ticket")
@login_required
def ticket(registration_id: int):
    registration = _own_registration(registration_id)
    return _ticket_page(registration, url_for("participation.ticket_qr", registration_id=registration_id))


@bp.get("/registrations/<int:registration_id>/qr.svg")
@login_required
def ticket_qr(registration_id: int):
    return _qr_response(_own_registration(registration_id))


@bp.get("/tickets/<token>")
def ticket_by_token(token: str):
    # The link from the confirmation e-mail: works for guests too (the signed token is the credential).
    registration = tickets.registration_for_ticket(token)
    if registration is None:
        abort(404)
    response = _ticket_page(registration, url_for("participation.ticket_qr_by_token", token=token))
    return response, 200, {"Referrer-Policy": "no-referrer"}


@bp.get("/tickets/<token>/qr.svg")
def ticket_qr_by_token(token: str):
    registration = tickets.registration_for_ticket(token)
    if registration is None:
        abort(404)
    return _qr_response(registration)


@bp.app_template_global("checkin_code")
def checkin_code_of(registration) -> str:
    """For e-mail templates: the registration's check-in code as shown to people ('' when it has none)."""
    code = tickets.code_of(registration.id) if registration is not None else None
    return tickets.format_code(code) if code else ""


@bp.app_template_global("checkin_ticket_url")
def checkin_ticket_url(registration) -> str:
    """For e-mail templates: the absolute ticket link of a confirmed registration ('' otherwise)."""
    return tickets.ticket_url(registration)


# ---------------------------------------------------------------- door


def _door_page(occurrence: EventOccurrence, form: CheckinCodeForm, status: int = 200):
    return render_template(
        "participation/checkin.html", occurrence=occurrence, series=occurrence.series, form=form,
        counts=door.door_counts(occurrence.id), people=door.door_list(occurrence.id),
        action_form=ActionForm(), lang=current_language().code, window=door.checkin_window(occurrence),
        now=utcnow(),
    ), status


@bp.get("/occurrences/<int:occurrence_id>/checkin")
@login_required
def checkin(occurrence_id: int):
    occurrence = _organized(occurrence_id)
    return _door_page(occurrence, CheckinCodeForm())


@bp.post("/occurrences/<int:occurrence_id>/checkin")
@login_required
def checkin_code(occurrence_id: int):
    occurrence = _organized(occurrence_id)
    form = CheckinCodeForm()
    if not form.validate_on_submit():
        return _door_page(occurrence, form, 422)
    method = CheckinMethod.QR if form.via.data == CheckinMethod.QR.value else CheckinMethod.CODE
    with request_transaction(errors=form.code) as tx:
        row, created = door.check_in_by_code(occurrence=occurrence, text=form.code.data, by=current_user,
                                                      method=method)
        name = row.registration.name
    if tx.failed:
        return _door_page(occurrence, form, tx.status(keep=range(400, 600)))
    if created:
        flash(_("%(name)s さんの受付をしました。", name=name), "success")
    else:
        flash(_("%(name)s さんはすでに受付済みです。", name=name), "info")
    return redirect(url_for("participation.checkin", occurrence_id=occurrence_id), 303)


@bp.post("/registrations/<int:registration_id>/checkin")
@login_required
def checkin_manual(registration_id: int):
    registration = db.get_or_404(Registration, registration_id)
    occurrence = _organized(registration.occurrence_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH) as tx:
        _row, created = door.check_in(registration=registration, by=current_user,
                                               method=CheckinMethod.MANUAL)
        name = registration.name
    if tx.ok:
        flash(_("%(name)s さんの受付をしました。", name=name) if created
              else _("%(name)s さんはすでに受付済みです。", name=name), "success" if created else "info")
    return redirect(url_for("participation.checkin", occurrence_id=occurrence.id), 303)


@bp.post("/registrations/<int:registration_id>/uncheck")
@login_required
def uncheck(registration_id: int):
    registration = db.get_or_404(Registration, registration_id)
    occurrence = _organized(registration.occurrence_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = registration.name
    with request_transaction():
        undone = door.undo_check_in(registration=registration, by=current_user)
    if undone:
        flash(_("%(name)s さんの受付を取り消しました。", name=name), "success")
    return redirect(url_for("participation.checkin", occurrence_id=occurrence.id), 303)


@bp.post("/occurrences/<int:occurrence_id>/walkins")
@login_required
def walkins(occurrence_id: int):
    occurrence = _organized(occurrence_id)
    form = WalkinForm()
    if not form.validate_on_submit() or form.delta.data not in ("1", "-1"):
        abort(400)
    with request_transaction(errors=FLASH):
        door.adjust_walkins(occurrence=occurrence, delta=int(form.delta.data), by=current_user)
    return redirect(url_for("participation.checkin", occurrence_id=occurrence_id) + "#walkins", 303)


# ---------------------------------------------------------------- reports


def _report_page(occurrence: EventOccurrence, form: ReportForm, status: int = 200):
    return render_template(
        "participation/report.html", occurrence=occurrence, series=occurrence.series, form=form,
        history=reports.report_history(occurrence.id), counts=door.door_counts(occurrence.id),
        ended=reports.has_ended(occurrence), breakdown_fields=BREAKDOWN_FIELDS, labels=BREAKDOWN_LABELS,
        lang=current_language().code,
    ), status


@bp.get("/occurrences/<int:occurrence_id>/report")
@login_required
def report(occurrence_id: int):
    occurrence = _organized(occurrence_id)
    latest = reports.latest_report(occurrence.id)
    form = ReportForm()
    if latest is not None:
        # Amending starts from the latest revision.
        form.total.data = latest.total
        form.counting_method.data = latest.counting_method.value
        form.notes.data = latest.notes
        for name in BREAKDOWN_FIELDS:
            getattr(form, name).data = getattr(latest, name)
    else:
        counts = door.door_counts(occurrence.id)
        form.total.data = counts.present
        form.counting_method.data = (CountingMethod.CHECKIN if counts.present else CountingMethod.HEAD_COUNT).value
    return _report_page(occurrence, form)


@bp.post("/occurrences/<int:occurrence_id>/report")
@login_required
def submit_report(occurrence_id: int):
    occurrence = _organized(occurrence_id)
    form = ReportForm()
    if not form.validate_on_submit():
        return _report_page(occurrence, form, 422)
    data = reports.ReportInput(
        total=form.total.data, counting_method=CountingMethod(form.counting_method.data), notes=form.notes.data,
        breakdown={name: getattr(form, name).data for name in BREAKDOWN_FIELDS},
    )
    with request_transaction(form=form, errors=FLASH) as tx:
        saved = reports.submit_report(occurrence=occurrence, actor=current_user, data=data)
        approved = saved.status.value == "approved"
    if tx.failed:
        return _report_page(occurrence, form, 422)
    flash(_("参加報告を送りました。") if approved else _("参加報告を送りました。区の職員が確認します。"), "success")
    return redirect(url_for("participation.report", occurrence_id=occurrence_id), 303)


@bp.get("/organizations/<int:org_id>/reports")
@login_required
def organization_reports(org_id: int):
    organization = editable_organization(org_id)
    return render_template("participation/organization_reports.html", organization=organization,
                           rows=reports.organization_occurrences(org_id), lang=current_language().code)


# ---------------------------------------------------------------- staff


@bp.get("/staff/reports")
@role_required(Role.WARD_STAFF)
def staff_reports():
    return _staff_page(ReturnReportForm())


def _staff_page(return_form: ReturnReportForm, failed_report_id: int | None = None, status: int = 200):
    rows = reports.occurrences_without_approved_report()
    return render_template("participation/staff_reports.html", rows=rows, action_form=ActionForm(),
                           breakdown_labels=BREAKDOWN_LABELS,
                           return_form=return_form, failed_report_id=failed_report_id,
                           lang=current_language().code), status


def _staff_report(report_id: int) -> ParticipationReport:
    report = db.get_or_404(ParticipationReport, report_id)
    return report


@bp.post("/reports/<int:report_id>/approve")
@role_required(Role.WARD_STAFF)
def approve(report_id: int):
    report = _staff_report(report_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH, success=_("参加報告を承認しました。")):
        reports.approve_report(report=report, staff=current_user)
    return redirect(url_for("participation.staff_reports"), 303)


@bp.post("/reports/<int:report_id>/return")
@role_required(Role.WARD_STAFF)
def return_report(report_id: int):
    report = _staff_report(report_id)
    form = ReturnReportForm()
    if not form.validate_on_submit():
        return _staff_page(form, report_id, 422)
    with request_transaction(errors=form.comment, success=_("参加報告を差し戻しました。")) as tx:
        reports.return_report(report=report, staff=current_user, comment=form.comment.data)
    if tx.failed:
        return _staff_page(form, report_id, tx.status(keep=range(400, 600)))
    return redirect(url_for("participation.staff_reports"), 303)


@bp.post("/occurrences/<int:occurrence_id>/remind")
@role_required(Role.WARD_STAFF)
def remind(occurrence_id: int):
    """Ward staff send the overdue report's reminder now (once a day; the job sends the scheduled ones)."""
    occurrence = db.get_or_404(EventOccurrence, occurrence_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH, success=_("役員に催促のメールを送りました。")):
        reports.remind_now(occurrence, staff=current_user)
    return redirect(url_for("participation.staff_reports"), 303)
