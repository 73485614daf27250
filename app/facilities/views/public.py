"""Public facility pages: the list and a facility with its rooms, 時間区分, equipment and photos (no login)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user

from app.core.args import enum_arg
from app.core.districts import District
from app.extensions import db
from app.facilities import queries
from app.facilities.access import active_facility_or_404
from app.facilities.models import Equipment, FacilityKind
from app.facilities.photos import photos_of
from app.facilities.views.common import bp


@bp.get("/")
def index():
    district = enum_arg("district", District)
    kind = enum_arg("kind", FacilityKind)
    facilities = queries.list_facilities(district=district, kind=kind)
    return render_template("facilities/index.html", facilities=facilities, district=district, kind=kind,
                           districts=list(District), kinds=list(FacilityKind))


@bp.get("/<int:facility_id>")
def show(facility_id: int):
    facility = active_facility_or_404(facility_id)
    rooms = queries.facility_rooms(facility.id)
    slots = sorted(queries.facility_slots(facility.id), key=lambda s: (s.on_date or date.min, s.weekday or -1,
                                                                         s.start))

    equipment = list(db.session.scalars(sa.select(Equipment).where(
        Equipment.facility_id == facility.id, Equipment.active.is_(True)).order_by(Equipment.id)))

    photos = photos_of(facility.id)
    return render_template("facilities/show.html", facility=facility, rooms=rooms, slots=slots, equipment=equipment,
                           facility_photos=[p for p in photos if p.room_id is None],
                           room_photos=[p for p in photos if p.room_id is not None],
                           room_names={r.id: r.name for r in rooms},
                           is_staff=current_user.is_authenticated and queries.is_facility_staff(current_user,
                                                                                                facility.id))
