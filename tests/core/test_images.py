"""Event images: checked, re-encoded without EXIF, served only for visible events; bad files lose nothing."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from app.core import images
from app.events.models import EventSeries
from app.extensions import db
from tests.events.factories import form_data
from tests.factories import app_context, login, make_user, post_form, uploads_under
from tests.organizations.factories import make_organization


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    uploads_under(tmp_path, monkeypatch)
    return tmp_path / "events"


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (3000, 2000), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x8825] = {1: "N", 2: (35.0, 39.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _create(client, org_id, **files):
    return post_form(client, f"/events/new?org={org_id}", {**form_data(), **files},
                     content_type="multipart/form-data")


def test_upload_is_reencoded_without_exif_and_served(client, app, uploads):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    original = _jpeg_with_exif()
    assert b"SecretCamera" in original
    response = _create(client, org.id, image=(io.BytesIO(original), "photo.jpg"))
    assert response.status_code == 303, response.get_data(as_text=True)
    with app_context():
        series = db.session.scalar(sa.select(EventSeries))
        name, series_id = series.image_name, series.id
    stored = (uploads / name).read_bytes()
    assert b"SecretCamera" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and max(image.size) == 1600 and not image.getexif()
    # Drafts are private, their image too; the editor sees it.
    assert app.test_client().get(f"/events/{series_id}/image.jpg").status_code == 404
    served = client.get(f"/events/{series_id}/image.jpg")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.get_data() == stored


@pytest.mark.parametrize(("payload", "message"), [
    (b"%PDF-1.4 not an image", "画像を読み込めませんでした"),
    (b"GIF89a\x01\x00truncated", "画像を読み込めませんでした"),
])
def test_bad_files_are_refused_and_nothing_is_saved(client, uploads, payload, message):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    response = _create(client, org.id, image=(io.BytesIO(payload), "file.jpg"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and "日本語教室" in html
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventSeries)) == 0
    assert list(uploads.iterdir()) == []


def test_oversized_and_bomb_images_are_refused(app):
    # Checked on the function: an HTTP upload this large would only exercise the test client's temp files.
    with app.app_context():
        with pytest.raises(images.InvalidImage, match="5MB"):
            images.reencode(b"\xff\xd8\xff" + b"0" * images.MAX_BYTES)
        huge = io.BytesIO()
        Image.new("1", (8000, 6000)).save(huge, format="PNG")
        with pytest.raises(images.InvalidImage):
            images.reencode(huge.getvalue())


def test_path_of_refuses_foreign_names(app, uploads):
    with app.app_context():
        assert images.path_of("../secret_key") is None
        assert images.path_of("x.png") is None
        assert images.path_of("missing.jpg") is None


def test_images_over_25_megapixels_are_refused_before_decoding(client, uploads, monkeypatch):
    """A 30-megapixel image (well under the old 40 MP cap) is refused with a form error saying the limit, and
    Pillow never decodes its pixels."""
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    login(client, editor.email)
    big = io.BytesIO()
    Image.new("L", (6000, 5000)).save(big, format="PNG")  # 30 MP in a 30 KB file
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    response = _create(client, org.id, image=(io.BytesIO(big.getvalue()), "big.png"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "画像の画素数が多すぎます(2500万画素まで)" in html
    assert (6000, 5000) not in decoded
    assert not uploads.exists() or not any(uploads.iterdir())
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(EventSeries.id))) == 0


def test_a_24_megapixel_camera_photo_is_still_taken(app):
    photo = io.BytesIO()
    Image.new("RGB", (6000, 4000), (10, 120, 200)).save(photo, format="JPEG", quality=60)
    with app.app_context():
        encoded = images.reencode(photo.getvalue())
    with Image.open(io.BytesIO(encoded)) as image:
        assert image.size == (1600, 1067)
