"""A facility name's reading (名称_カナ): stored on the facility, typed by its staff (checked, normalised, kept on
errors, audited), shown by the API, preferred by the open-data CSV over the generated reading; the demo has them."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.core.readings import clean_reading
from app.extensions import db
from app.facilities.models import Facility
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, login, make_user, post_form

MESSAGE = "名称の読みは、カタカナ・長音(ー)・中点(・)・スペースで、200文字以内で入力してください。"


def _stored(facility_id: int) -> str | None:
    with app_context():
        return db.session.get(Facility, facility_id).name_kana


def _set(facility_id: int, value: str | None) -> None:
    with app_context():
        db.session.get(Facility, facility_id).name_kana = value
        db.session.commit()


def _staff_of(facility_id: int, **options):
    staff = make_user(role=Role.FACILITY_STAFF, **options)
    assign_staff(staff.id, facility_id)
    return staff


def _csv_kana(client) -> dict[str, str]:
    body = client.get("/opendata/facilities.csv").data.decode("utf-8-sig")
    return {row["名称"]: row["名称_カナ"] for row in csv.DictReader(io.StringIO(body, newline=""))}


@pytest.mark.usefixtures("app")  # the factories write through the test app
def test_the_column_holds_a_reading_and_none_by_default():
    c = make_center(name="高輪区民センター")
    assert _stored(c.facility_id) is None
    _set(c.facility_id, "タカナワクミンセンター")
    assert _stored(c.facility_id) == "タカナワクミンセンター"


@pytest.mark.parametrize(("typed", "stored"), [
    ("たかなわ くみん せんたー", "タカナワ クミン センター"),  # hiragana made katakana
    ("ﾀｶﾅﾜｸﾐﾝｾﾝﾀｰ", "タカナワクミンセンター"),  # half-width kana widened
    ("  タカナワ　　クミン・センター ", "タカナワ クミン・センター"),  # spaces folded, ideographic space too
    ("", None),
])
def test_clean_reading_normal_form(typed, stored):
    assert clean_reading(typed) == stored


@pytest.mark.parametrize("typed", ["Takanawa", "高輪区民センター", "タカナワ(シバ)", "ア" * 201])
def test_clean_reading_refuses_other_characters(typed):
    with pytest.raises(ValueError):
        clean_reading(typed)


def test_staff_form_normalises_hiragana_and_audits(client):
    c = make_center(name="芝浦港南区民センター")
    staff = _staff_of(c.facility_id)
    login(client, staff.email)
    url = f"/facilities/{c.facility_id}/reading"
    page = client.get(url).get_data(as_text=True)
    assert "名称(カナ)" in page and "芝浦港南区民センター" in page
    response = post_form(client, url, {"name_kana": "しばうらこうなんくみんせんたー"})
    assert response.status_code == 303
    assert _stored(c.facility_id) == "シバウラコウナンクミンセンター"
    after = client.get(url).get_data(as_text=True)
    assert 'value="シバウラコウナンクミンセンター"' in after and "名称の読みを保存しました。" in after
    with app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "facility.name_kana"))
        assert (event.actor_id, event.target_type, event.target_id) == (staff.id, "facility", str(c.facility_id))
        assert event.details == {"from": None, "to": "シバウラコウナンクミンセンター"}
    # Saving the same reading again changes nothing and writes no second audit row; an empty field clears it.
    assert post_form(client, url, {"name_kana": "シバウラコウナンクミンセンター"}).status_code == 303
    assert post_form(client, url, {"name_kana": " "}).status_code == 303
    assert _stored(c.facility_id) is None
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                                 .where(AuditEvent.action == "facility.name_kana")) == 2


@pytest.mark.parametrize("bad", ["Shibaura", "芝浦", "シバウラ!", "ア" * 201])
def test_staff_form_refuses_other_characters_and_keeps_what_was_typed(client, bad):
    c = make_center()
    _set(c.facility_id, "モトノヨミ")
    login(client, _staff_of(c.facility_id).email)
    response = post_form(client, f"/facilities/{c.facility_id}/reading", {"name_kana": bad})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert MESSAGE in html and f'value="{bad}"' in html and 'aria-invalid="true"' in html
    assert _stored(c.facility_id) == "モトノヨミ"  # nothing saved
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                                 .where(AuditEvent.action == "facility.name_kana")) == 0


def test_staff_form_in_english_keeps_the_input(client):
    c = make_center()
    login(client, _staff_of(c.facility_id, language="en").email)
    response = post_form(client, f"/facilities/{c.facility_id}/reading", {"name_kana": "Takanawa"})
    assert response.status_code == 422 and 'value="Takanawa"' in response.get_data(as_text=True)
    assert _stored(c.facility_id) is None


def test_only_the_facilitys_staff_edit_the_reading_and_the_page_links_it(client):
    c, other = make_center(), make_center()
    outsider = _staff_of(other.facility_id)
    login(client, outsider.email)
    assert client.get(f"/facilities/{c.facility_id}/reading").status_code == 403
    show = client.get(f"/facilities/{other.facility_id}").get_data(as_text=True)
    assert f'href="/facilities/{other.facility_id}/reading"' in show
    anonymous = client.application.test_client()
    assert f"/facilities/{c.facility_id}/reading" not in anonymous.get(f"/facilities/{c.facility_id}").get_data(
        as_text=True)


def test_api_lists_the_reading_or_null_and_documents_it(client):
    known, unknown = make_center(name="赤坂区民センター"), make_center(name="麻布区民センター")
    _set(known.facility_id, "アカサカクミンセンター")
    listing = {f["id"]: f for f in client.get("/api/v1/facilities").get_json()}
    assert listing[known.facility_id]["name_kana"] == "アカサカクミンセンター"
    assert "name_kana" in listing[unknown.facility_id] and listing[unknown.facility_id]["name_kana"] is None
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Facility"]["properties"]
    assert schema["name_kana"]["type"] == "string" and schema["name_kana"].get("nullable") is True


def test_csv_uses_the_stored_reading_and_generates_one_otherwise(client):
    stored = make_center(name="区民協働スペース(芝)")
    make_center(name="高輪区民センター")
    _set(stored.facility_id, "クミンキョウドウスペース シバ")
    assert _csv_kana(client) == {"区民協働スペース(芝)": "クミンキョウドウスペース シバ",
                                 "高輪区民センター": "タカナワクミンセンター"}


def test_demo_facilities_have_valid_readings(app):
    from app.demo.facilities import FACILITIES

    for spec in FACILITIES:
        assert spec.name_kana and clean_reading(spec.name_kana) == spec.name_kana, spec.name_ja
    assert {s.name_ja: s.name_kana for s in FACILITIES}["伝統文化交流館"] == "デントウブンカコウリュウカン"
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = dict(db.session.execute(sa.select(Facility.name_ja, Facility.name_kana)).all())
    assert stored == {s.name_ja: s.name_kana for s in FACILITIES}
    assert stored["赤坂区民センター"] == "アカサカクミンセンター"
