"""Equipment filter in the grid and the free-room search; facility and room photos (staff upload, re-encoded
without EXIF, alt text per language, public image, other facilities' staff refused)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities import photos
from app.facilities.models import EquipmentKind, FacilityPhoto
from tests.facilities.factories import add_equipment, assign_staff, make_center
from tests.factories import app_context, login, make_user, post_form


def test_grid_and_search_filter_rooms_by_equipment(client, app):
    with_piano = make_center(name="ピアノのあるセンター")
    with_projector = make_center(name="映写のできるセンター")
    add_equipment(with_piano.facility_id, "グランドピアノ", 1500, kind=EquipmentKind.PIANO,
                  room_id=with_piano.hall_id)
    add_equipment(with_projector.facility_id, "プロジェクター", 500, kind=EquipmentKind.PROJECTOR)
    grid = client.get(f"/facilities/{with_piano.facility_id}/availability?equipment=piano").get_data(as_text=True)
    assert ">ホール <span" in grid and "会議室1" not in grid and "ホールA" not in grid
    assert "equipment=piano" in grid.split('class="grid-nav"')[1].split("</nav>")[0]  # kept when paging
    # A facility-wide item serves every room.
    every = client.get(f"/facilities/{with_projector.facility_id}/availability?equipment=projector")
    assert "会議室1" in every.get_data(as_text=True) and "音楽スタジオ" in every.get_data(as_text=True)
    # An unknown value is ignored (all rooms), never a 500.
    assert "会議室1" in client.get(
        f"/facilities/{with_piano.facility_id}/availability?equipment=harp").get_data(as_text=True)
    day = (today_tokyo() + timedelta(days=5)).isoformat()
    found = client.get(f"/facilities/search?day={day}&equipment=piano").get_data(as_text=True)
    assert "ピアノのあるセンター ホール</a>" in found and "映写のできるセンター" not in found
    assert "ピアノのあるセンター 会議室1" not in found
    projector = client.get(f"/facilities/search?day={day}&equipment=projector").get_data(as_text=True)
    assert "映写のできるセンター 会議室1" in projector and "ピアノのあるセンター" not in projector


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    monkeypatch.setattr(photos, "upload_dir", lambda: tmp_path)
    return tmp_path


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (2400, 1600), (30, 120, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    exif[0x8825] = {1: "N", 2: (35.0, 39.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _staff(c):
    staff = make_user(role=Role.FACILITY_STAFF)
    assign_staff(staff.id, c.facility_id)
    return staff


def test_staff_upload_is_reencoded_without_exif_and_shown_with_alt_text(client, uploads):
    c = make_center(name="写真のセンター")
    login(client, _staff(c).email)
    page = f"/facilities/{c.facility_id}/photos"
    original = _jpeg_with_exif()
    response = post_form(client, page, {"room_id": str(c.hall_id), "alt_ja": "舞台のある広いホール",
                                        "alt_en": "A large hall with a stage", "alt_easy": "ひろい ホール",
                                        "photo": (io.BytesIO(original), "hall.jpg")},
                         content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    with app_context():
        photo = db.session.scalar(sa.select(FacilityPhoto))
        photo_id, name, room_id = photo.id, photo.file_name, photo.room_id
    assert room_id == c.hall_id
    stored = (uploads / name).read_bytes()
    assert b"SecretCamera" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and max(image.size) == 1600 and not image.getexif()
    anonymous = client.application.test_client()
    served = anonymous.get(f"/facilities/photos/{photo_id}.jpg")
    assert served.status_code == 200 and served.get_data() == stored
    ja = anonymous.get(f"/facilities/{c.facility_id}").get_data(as_text=True)
    assert 'alt="舞台のある広いホール"' in ja and "部屋の写真" in ja
    en = anonymous.get(f"/facilities/{c.facility_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'alt="A large hall with a stage"' in en
    assert anonymous.get("/facilities/photos/99999.jpg").status_code == 404


@pytest.mark.parametrize(("payload", "message"), [
    (b"%PDF-1.4 not an image", "画像を読み込めませんでした"),
    (b"GIF89a\x01\x00truncated", "画像を読み込めませんでした"),
])
def test_bad_files_are_refused_and_nothing_is_saved(client, uploads, payload, message):
    c = make_center()
    login(client, _staff(c).email)
    page = f"/facilities/{c.facility_id}/photos"
    response = post_form(client, page, {"alt_ja": "和室の写真", "room_id": "",
                                        "photo": (io.BytesIO(payload), "x.jpg")}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'value="和室の写真"' in html
    missing_alt = post_form(client, page, {"alt_ja": "", "photo": (io.BytesIO(_jpeg_with_exif()), "a.jpg")},
                            content_type="multipart/form-data")
    assert missing_alt.status_code == 422 and "写真の説明を入力してください" in missing_alt.get_data(as_text=True)
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(FacilityPhoto.id))) == 0
    assert list(uploads.iterdir()) == []


def test_only_the_facilitys_staff_manage_photos_and_delete_removes_the_file(client, uploads):
    c, other = make_center(), make_center()
    outsider = make_user(role=Role.FACILITY_STAFF)
    assign_staff(outsider.id, other.facility_id)
    staff = _staff(c)
    login(client, staff.email)
    page = f"/facilities/{c.facility_id}/photos"
    post_form(client, page, {"alt_ja": "外観", "room_id": "", "photo": (io.BytesIO(_jpeg_with_exif()), "a.jpg")},
              content_type="multipart/form-data")
    with app_context():
        photo_id = db.session.scalar(sa.select(FacilityPhoto.id))
    intruder = client.application.test_client()
    login(intruder, outsider.email)
    assert intruder.get(page).status_code == 403
    assert post_form(intruder, f"/facilities/photos/{photo_id}/delete", {},
                     page=f"/facilities/{other.facility_id}/photos").status_code == 403
    resident = client.application.test_client()
    login(resident, make_user().email)
    assert resident.get(page).status_code == 403
    done = post_form(client, f"/facilities/photos/{photo_id}/delete", {}, page=page)
    assert done.status_code == 303 and list(uploads.iterdir()) == []
