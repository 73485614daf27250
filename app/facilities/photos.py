"""Facility and room photos: uploaded by the facility's staff, type and size checked and re-encoded as JPEG (which
drops EXIF, GPS included) with the event images' checks, stored by a random name under instance/uploads/facilities."""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.audit import record_audit
from app.core.images import InvalidImage, reencode
from app.extensions import db
from app.facilities.errors import PhotoError
from app.facilities.models import Facility, FacilityPhoto, Room

MAX_PHOTOS_PER_FACILITY = 30

__all__ = ["InvalidImage", "PhotoError", "add_photo", "path_of", "photos_of", "remove_photo"]


def upload_dir() -> Path:
    """Where facility photos live (created on first use)."""
    path = Path(current_app.instance_path) / "uploads" / "facilities"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(name: str) -> Path | None:
    """The file of a stored photo name, or None for names that are not ours."""
    if not name or "/" in name or "\\" in name or not name.endswith(".jpg"):
        return None
    path = upload_dir() / name
    return path if path.is_file() else None


def photos_of(facility_id: int) -> list[FacilityPhoto]:
    """A facility's photos (its own first, then per room), in upload order."""
    return list(db.session.scalars(sa.select(FacilityPhoto).where(FacilityPhoto.facility_id == facility_id)
                                   .order_by(FacilityPhoto.room_id.is_not(None), FacilityPhoto.room_id,
                                             FacilityPhoto.sort_order, FacilityPhoto.id)))


def add_photo(*, facility: Facility, room_id: int | None, data: bytes, alt_ja: str, alt_en: str | None = None,
              alt_easy: str | None = None, actor) -> FacilityPhoto:
    """Check, re-encode and store an uploaded photo of FACILITY (or of one of its rooms). Raises InvalidImage."""
    if room_id is not None:
        room = db.session.get(Room, room_id)
        if room is None or room.facility_id != facility.id:
            raise PhotoError(_l("その部屋はこの施設にありません。"))
    count = db.session.scalar(sa.select(sa.func.count(FacilityPhoto.id)).where(
        FacilityPhoto.facility_id == facility.id))
    if count >= MAX_PHOTOS_PER_FACILITY:
        raise PhotoError(_l("写真は1つの施設に{n}枚までです。古い写真を削除してください。").format(
            n=MAX_PHOTOS_PER_FACILITY))
    encoded = reencode(data)
    name = f"{secrets.token_hex(16)}.jpg"
    photo = FacilityPhoto(facility_id=facility.id, room_id=room_id, file_name=name, alt_ja=alt_ja,
                          alt_en=alt_en or None, alt_easy=alt_easy or None, sort_order=count, created_by_id=actor.id)
    db.session.add(photo)
    db.session.flush()
    (upload_dir() / name).write_bytes(encoded)  # written once the row is valid; a rollback leaves an orphan only
    record_audit("facility.photo_add", actor_id=actor.id, target_type="facility_photo", target_id=photo.id,
                 details={"facility_id": facility.id, "room_id": room_id})
    return photo


def remove_photo(photo: FacilityPhoto, *, actor) -> str:
    """Delete a photo's row; returns its file name, which the caller unlinks after the commit."""
    record_audit("facility.photo_delete", actor_id=actor.id, target_type="facility_photo", target_id=photo.id,
                 details={"facility_id": photo.facility_id, "room_id": photo.room_id})
    name = photo.file_name
    db.session.delete(photo)
    return name
