"""GET /api/v1/indicators and /api/v1/indicators/{code}: public, exact decimals, unknowns as null."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.indicators import services
from app.indicators.models import Indicator


@pytest.fixture
def catalog(app):
    with app.app_context():
        services.load_catalog()
        indicator = db.session.scalar(sa.select(Indicator).where(Indicator.code == "P09-01-1"))
        services.record_manual_value(
            indicator, fiscal_year=2024, value_text="48.5", source_document="実態調査",
            source_date=date(2025, 3, 10), note="内部メモ", actor_id=None,
        )
        db.session.commit()


def test_list_is_public_and_complete(client, catalog):
    response = client.get("/api/v1/indicators")
    assert response.status_code == 200
    body = response.get_json()
    assert len(body) == 40
    assert [item["policy"] for item in body].count(9) == 10
    assert len(client.get("/api/v1/indicators?policy=14").get_json()) == 7
    assert client.get("/api/v1/indicators?policy=3").status_code == 422


def test_detail_has_exact_values_and_unknowns(client, catalog):
    item = client.get("/api/v1/indicators/P09-02-2").get_json()
    assert item["name"] == "安全で安心なまちづくりに向けた活動参加者数"
    assert item["source"] == {"kind": "participant_sum", "computed": True,
                              "rules": [{"match": "category", "value": "safety"}]}
    final = next(v for v in item["plan_values"] if v["kind"] == "final_target")
    assert final == {"kind": "final_target", "fiscal_year": 2026, "year_label": "令和8年度末", "value": "16128",
                     "printed": "16,128 人", "is_estimate": False}
    garbled = client.get("/api/v1/indicators/P10-00-1").get_json()
    assert {v["kind"]: v["value"] for v in garbled["plan_values"]}["final_target"] is None
    assert garbled["midterm_status"] is None


def test_detail_with_a_manual_value_and_its_judgement(client, catalog):
    item = client.get("/api/v1/indicators/P09-01-1").get_json()
    assert item["yearly_values"] == [{"fiscal_year": 2024, "value": "48.5", "origin": "manual", "partial": False,
                                      "through": None, "booked_ahead": None, "frozen": False,
                                      "completeness": None, "reported": None, "ended": None,
                                      "source_document": "実態調査", "source_date": "2025-03-10"}]
    expected = (Decimal("48.5") - Decimal("45.8")) / (Decimal("50.0") - Decimal("45.8"))
    assert Decimal(item["latest"]["progress_rate"]) == expected
    # 2024 is before the target's year (令和8年度末): not judged 未達成 but set against the line from the
    # baseline, 45.8 + (50.0 - 45.8) x 4 / 6 = 48.6 for 2024, which 48.5 does not reach.
    assert item["latest"]["judgement"] is None and item["latest"]["judgement_pending"] is False
    assert item["latest"]["target"]["year_label"] == "令和8年度末" and item["latest"]["target"]["value"] == "50"
    assert (item["latest"]["pace"], item["latest"]["on_pace"]) == ("48.6", False)
    assert "内部メモ" not in client.get("/api/v1/indicators/P09-01-1").get_data(as_text=True)


def test_unknown_code_is_a_json_404(client, catalog):
    response = client.get("/api/v1/indicators/NOPE")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/indicators" in paths and "/api/v1/indicators/{code}" in paths


def test_three_grade_judgement_when_configured(client, catalog, monkeypatch):
    monkeypatch.setitem(client.application.config, "INDICATOR_JUDGEMENT_SCHEME", "abc")
    # 進捗率 (48.5 - 45.8) / (50.0 - 45.8) = 0.64 >= 0.5: B.
    assert client.get("/api/v1/indicators/P09-01-1").get_json()["latest"]["judgement"] == "B"
    monkeypatch.setitem(client.application.config, "INDICATOR_JUDGEMENT_B_THRESHOLD", "0.7")
    assert client.get("/api/v1/indicators/P09-01-1").get_json()["latest"]["judgement"] == "C"
