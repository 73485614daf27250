"""Organization logos: checked and re-encoded without EXIF (app/core/images.py), shown with alt text on the
group's page and on its event cards, served only for groups whose page one may see; bad files lose nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.core import images
from app.extensions import db
from app.organizations.models import Organization
from tests.events.factories import make_series
from tests.factories import app_context, login, make_user, post_form, uploads_under
from tests.organizations.factories import make_organization


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    uploads_under(tmp_path, monkeypatch)
    return tmp_path / "logos"


def _png_with_exif() -> bytes:
    image = Image.new("RGB", (1200, 900), (20, 120, 60))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif)
    return out.getvalue()


def _profile(**overrides) -> dict:
    data = {"kind": "neighborhood_association", "district": "shiba", "name_ja": "芝町会", "name_en": "Shiba Assoc."}
    data.update(overrides)
    return data


def _edit(client, org_id, **data):
    return post_form(client, f"/organizations/{org_id}/edit", _profile(**data), content_type="multipart/form-data",
                     page=f"/organizations/{org_id}/edit")


def test_officer_uploads_a_logo_shown_with_alt_text(client, app, uploads):
    officer = make_user()
    org = make_organization(name="芝町会", officer_id=officer.id)
    make_series(organization_id=org.id, actor_id=officer.id, texts={"title_ja": "夏まつり"})
    login(client, officer.email)
    response = _edit(client, org.id, logo=(io.BytesIO(_png_with_exif()), "logo.png"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with app_context():
        name = db.session.get(Organization, org.id).logo_name
    assert name and name.endswith(".jpg")
    stored = (uploads / name).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and max(image.size) <= images.LOGO_SIDE
        assert not image.getexif()

    anonymous = app.test_client()
    page = anonymous.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert f"/organizations/{org.id}/logo.jpg?v={name[:8]}" in page and 'alt="芝町会のロゴ"' in page
    served = anonymous.get(f"/organizations/{org.id}/logo.jpg?v={name[:8]}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.get_data() == stored
    cards = anonymous.get("/events/").get_data(as_text=True)
    assert f"/organizations/{org.id}/logo.jpg?v={name[:8]}" in cards

    # Removing it: the page shows none and the URL answers 404.
    assert _edit(client, org.id, remove_logo="y").status_code == 303
    assert anonymous.get(f"/organizations/{org.id}/logo.jpg").status_code == 404
    assert "logo.jpg" not in anonymous.get("/events/").get_data(as_text=True)


@pytest.mark.parametrize(("payload", "message"), [
    (b"GIF89a not really", "画像を読み込めませんでした"),
    (b"%PDF-1.4 not an image", "画像を読み込めませんでした"),
])
def test_bad_logo_is_refused_and_nothing_is_saved(client, uploads, payload, message):
    officer = make_user()
    org = make_organization(name="芝町会", officer_id=officer.id)
    login(client, officer.email)
    response = _edit(client, org.id, name_ja="新しい名前", logo=(io.BytesIO(payload), "logo.gif"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'value="新しい名前"' in html  # what was typed stays in the form
    with app_context():
        assert db.session.get(Organization, org.id).name_ja == "芝町会"  # nothing half-saved
    assert list(uploads.iterdir()) == []


def test_oversized_logo_is_refused(app):
    # Through the form a 5 MB body is refused the same way (the events image test covers the form path).
    with app.test_request_context(), pytest.raises(images.InvalidImage, match="5MB"):
        images.store(b"\xff\xd8\xff" + b"0" * images.MAX_BYTES, kind="logos", max_side=images.LOGO_SIDE)


def test_logo_of_a_pending_group_is_not_public(client, app, uploads):
    officer = make_user()
    org = make_organization(name="申請中の会", officer_id=officer.id, verified=False)
    login(client, officer.email)
    assert _edit(client, org.id, logo=(io.BytesIO(_png_with_exif()), "logo.png")).status_code == 303
    assert client.get(f"/organizations/{org.id}/logo.jpg").status_code == 200  # its officer sees it
    assert app.test_client().get(f"/organizations/{org.id}/logo.jpg").status_code == 404
    assert app.test_client().get("/organizations/999999/logo.jpg").status_code == 404
