"""Facility photos (on the facilities blueprint): the public image, and the staff page to upload and delete."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from app.core.db import rows_by_id
from app.core.forms import ActionForm
from app.core.images import jpeg_response
from app.core.permissions import Role, role_required
from app.core.transactions import request_transaction
from app.core.uploads import accepts_uploads
from app.extensions import db
from app.facilities import photos, queries
from app.facilities.access import staff_facility
from app.facilities.forms import PhotoForm
from app.facilities.models import Facility, FacilityPhoto
from app.facilities.views.common import bp


@bp.get("/photos/<int:photo_id>.jpg")
def photo(photo_id: int):
    """A photo of an active facility (public, like the facility page)."""
    item = db.session.get(FacilityPhoto, photo_id)
    facility = db.session.get(Facility, item.facility_id) if item else None
    if item is None or facility is None or not facility.active:
        abort(404)
    return jpeg_response(photos.path_of(item.file_name))


def _page(facility: Facility, form: PhotoForm, status: int = 200):
    return render_template("facilities/photos.html", facility=facility, form=form, action_form=ActionForm(),
                           photos=photos.photos_of(facility.id),
                           rooms=rows_by_id(queries.facility_rooms(facility.id))), status


@bp.route("/<int:facility_id>/photos", methods=["GET", "POST"])
@accepts_uploads
@role_required(Role.FACILITY_STAFF)
def photos_manage(facility_id: int):
    """Staff of the facility upload photos of it or of its rooms, with alt text per language."""
    facility = staff_facility(facility_id)
    form = PhotoForm()
    form.room_id.choices = [SelectChoice("", _("施設全体"))] + [
        SelectChoice(str(r.id), r.name) for r in queries.facility_rooms(facility.id)]
    if request.method == "GET":
        return _page(facility, form)
    if not form.validate_on_submit():
        return _page(facility, form, 422)
    with request_transaction(errors=form.photo, success=_("写真を登録しました。")) as tx:
        photos.add_photo(facility=facility, room_id=form.room_id.data, data=form.photo.data.read(),
                         alt_ja=form.alt_ja.data, alt_en=form.alt_en.data, alt_easy=form.alt_easy.data,
                         actor=current_user)
    if tx.failed:
        return _page(facility, form, 422)
    return redirect(url_for("facilities.photos_manage", facility_id=facility.id), 303)


@bp.post("/photos/<int:photo_id>/delete")
@role_required(Role.FACILITY_STAFF)
def photo_delete(photo_id: int):
    item = db.get_or_404(FacilityPhoto, photo_id)
    facility = staff_facility(item.facility_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction():
        name = photos.remove_photo(item, actor=current_user)
    path = photos.path_of(name)
    if path is not None:
        path.unlink(missing_ok=True)
    flash(_("写真を削除しました。"), "success")
    return redirect(url_for("facilities.photos_manage", facility_id=facility.id), 303)
