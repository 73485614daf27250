"""The staff page for a facility name's reading in katakana (名称_カナ of the open data), on the facilities bp."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.permissions import Role, role_required
from app.core.transactions import request_transaction
from app.facilities import services
from app.facilities.access import staff_facility
from app.facilities.forms import FacilityReadingForm
from app.facilities.models import Facility
from app.facilities.views.common import bp


def _page(facility: Facility, form: FacilityReadingForm, status: int = 200):
    return render_template("facilities/reading.html", facility=facility, form=form), status


@bp.route("/<int:facility_id>/reading", methods=["GET", "POST"])
@role_required(Role.FACILITY_STAFF)
def reading_edit(facility_id: int):
    """Staff of the facility give (or clear) the reading of its name; what they typed stays on error."""
    facility = staff_facility(facility_id)
    if request.method == "GET":
        return _page(facility, FacilityReadingForm(data={"name_kana": facility.name_kana}))
    form = FacilityReadingForm()
    if not form.validate_on_submit():
        return _page(facility, form, 422)
    with request_transaction(errors=form.name_kana) as tx:
        changed = services.set_name_reading(facility, value=form.name_kana.data, actor=current_user)
    if tx.failed:
        return _page(facility, form, 422)
    flash(_("名称の読みを保存しました。") if changed else _("変更はありませんでした。"), "success")
    return redirect(url_for("facilities.reading_edit", facility_id=facility.id), 303)
