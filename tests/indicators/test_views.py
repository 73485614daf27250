"""Staff indicator pages, manual-value entry (bad input re-rendered, nothing saved) and the public page."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEvent
from app.core.permissions import Role
from app.extensions import db
from app.indicators import services
from app.indicators.models import Indicator, ManualValue
from tests.factories import login, make_user, post_form

SURVEY = "P09-01-1"  # 町会・自治会活動を担う役員数について「ちょうどいい」と回答した割合 (%), manual
COUNT = "P13-01-2"  # シティプロモーションシンボルマークの利用申請件数 (件), manual
COMPUTED = "P09-04-1"  # 区民センター利用率: from bookings


@pytest.fixture
def staff(client, catalog):
    user = make_user(role=Role.WARD_STAFF, display_name="区職員 山田")
    login(client, user.email)
    return user


def _manual_values(app, code):
    with app.app_context():
        return db.session.execute(
            sa.select(ManualValue.fiscal_year, ManualValue.value, ManualValue.source_document)
            .join(Indicator).where(Indicator.code == code).order_by(ManualValue.fiscal_year)
        ).all()


def test_staff_pages_need_ward_staff(client, catalog):
    assert client.get("/staff/indicators").status_code == 302  # to the login page
    resident = make_user()
    login(client, resident.email)
    assert client.get("/staff/indicators").status_code == 403
    assert client.get(f"/staff/indicators/{SURVEY}").status_code == 403
    response = post_form(client, f"/staff/indicators/{SURVEY}/values",
                         {"fiscal_year": "2024", "value": "50", "source_document": "x"}, page="/")
    assert response.status_code == 403
    assert _manual_values(client.application, SURVEY) == []


def test_staff_list_shows_every_policy_and_unknowns(client, staff):
    html = client.get("/staff/indicators").get_data(as_text=True)
    for policy in range(9, 15):
        assert f"政策({policy})" in html
    assert html.count('href="/staff/indicators/P') == 80  # each indicator: its card and its row of the plan table
    assert "15,781 人" in html and "区民センター利用率" in html
    assert "令和元年度(2019年度)" in html  # fiscal years with the western year
    assert "不明" in html  # the garbled targets of policy 10


def test_detail_shows_review_note_and_no_form_for_computed(client, staff):
    html = client.get("/staff/indicators/P10-00-1").get_data(as_text=True)
    assert "33.7%" in html  # the review note quotes the garbled row
    assert 'name="value"' in html
    computed = client.get(f"/staff/indicators/{COMPUTED}").get_data(as_text=True)
    assert 'name="value"' not in computed
    response = post_form(client, f"/staff/indicators/{COMPUTED}/values",
                         {"fiscal_year": "2024", "value": "50", "source_document": "x"}, page="/")
    assert response.status_code == 404
    assert client.get("/staff/indicators/NOPE").status_code == 404


def test_enter_and_replace_a_manual_value(client, staff, app):
    url, page = f"/staff/indicators/{SURVEY}/values", f"/staff/indicators/{SURVEY}"
    data = {"fiscal_year": "2024", "value": "48.5", "source_document": "令和6年度 町会・自治会実態調査",
            "source_date": "2025-03-10", "note": ""}
    response = post_form(client, url, data, page=page)
    assert response.status_code == 303
    assert _manual_values(app, SURVEY) == [(2024, Decimal("48.5"), "令和6年度 町会・自治会実態調査")]
    html = client.get(page).get_data(as_text=True)
    assert "48.5%" in html
    # 進捗率 toward the target of 令和8年度末: (48.5 - 45.8) / (50.0 - 45.8) = 64.3%. 2024 is before the target's
    # year: no 未達成, but the year's pace on the line from the baseline (48.6%), not reached.
    assert "64.3%" in html and "未達成" not in html
    assert "目標の年度に判定します" in html and "この年度の目安: 48.6% — 目安に届いていません" in html
    assert "進捗率・判定・目安の計算" in html

    response = post_form(client, url, {**data, "value": "５０．２"}, page=page)  # full-width digits
    assert response.status_code == 303
    assert _manual_values(app, SURVEY) == [(2024, Decimal("50.2"), "令和6年度 町会・自治会実態調査")]
    with app.app_context():
        audits = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "indicator.manual_value")).all()
        assert [a.details["value"] for a in audits] == ["48.5", "50.2"]
        assert audits[1].details["previous"]["value"] == "48.5"
    assert "達成" in client.get(page).get_data(as_text=True)


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        (SURVEY, "abc", "数字で入力"),
        (SURVEY, "120", "0から100まで"),
        (SURVEY, "-5", "負の数"),
        (SURVEY, "", "値を入力"),
        (COUNT, "-1", "負の数"),
        (COUNT, "1e5x", "数字で入力"),
    ],
)
def test_bad_values_are_refused_with_the_input_kept(client, staff, app, code, value, message):
    page = f"/staff/indicators/{code}"
    data = {"fiscal_year": "2023", "value": value, "source_document": "区民意識調査 2023", "note": "メモ本文"}
    response = post_form(client, f"{page}/values", data, page=page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="区民意識調査 2023"' in html and "メモ本文" in html
    if value:
        assert f'value="{value}"' in html
    assert _manual_values(app, code) == []


def test_missing_source_and_bad_year_are_refused(client, staff, app):
    page = f"/staff/indicators/{SURVEY}"
    response = post_form(client, f"{page}/values", {"fiscal_year": "2023", "value": "40", "source_document": ""},
                         page=page)
    assert response.status_code == 422
    assert "出典" in response.get_data(as_text=True)
    response = post_form(client, f"{page}/values", {"fiscal_year": "1999", "value": "40", "source_document": "x"},
                         page=page)
    assert response.status_code == 422
    response = post_form(client, f"{page}/values",
                         {"fiscal_year": "2023", "value": "40", "source_document": "x", "source_date": "2023-13-45"},
                         page=page)
    assert response.status_code == 422
    assert _manual_values(app, SURVEY) == []


def test_a_percentage_of_100_and_a_large_count_are_accepted(app_ctx):
    services.load_catalog()
    survey = db.session.scalar(sa.select(Indicator).where(Indicator.code == SURVEY))
    count = db.session.scalar(sa.select(Indicator).where(Indicator.code == COUNT))
    assert services.parse_value("100", survey.unit) == 100
    assert services.parse_value("45.2%", survey.unit) == Decimal("45.2")
    assert services.parse_value("30,000", count.unit) == 30000
    with pytest.raises(services.InvalidManualValue):
        services.parse_value("100.01", survey.unit)
    with pytest.raises(services.InvalidManualValue):
        services.parse_value("NaN", count.unit)


def test_public_page_shows_values_without_personal_data(client, staff, app):
    page = f"/staff/indicators/{SURVEY}"
    post_form(client, f"{page}/values",
              {"fiscal_year": "2024", "value": "48.5", "source_document": "実態調査"}, page=page)
    client.post("/account/logout", data={})
    anonymous = app.test_client()
    response = anonymous.get("/indicators")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "区民センター利用率" in html and "82.9%" in html and "48.5%" in html
    assert "区職員 山田" not in html and staff.email not in html
    assert "上方修正" in html  # the plan's footnotes


def test_csv_export_for_staff(client, staff, app):
    import csv
    import io

    page = f"/staff/indicators/{SURVEY}"
    post_form(client, f"{page}/values",
              {"fiscal_year": "2024", "value": "48.5", "source_document": "=HYPERLINK(\"x\")"}, page=page)
    response = client.get("/staff/indicators/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:4] == ["指標コード", "政策", "施策", "成果指標名"]
    assert len(rows) == 41
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["P09-02-2"][8:13] == ["15,781 人", "15,800 人", "達成", "", "16,128 人"]
    assert by_code["P10-00-1"][12] == ""  # unknown stays empty
    assert by_code[SURVEY][13:15] == ["2024", "48.5"]
    assert by_code[SURVEY][19].startswith("'=")  # no formula reaches the spreadsheet


def test_csv_export_needs_ward_staff(client, catalog):
    resident = make_user()
    login(client, resident.email)
    assert client.get("/staff/indicators/export.csv").status_code == 403
