"""The OpenAPI document generated from the code, and the Swagger UI page built from vendored assets."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_openapi_document_lists_paths_and_bearer_scheme(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = json.loads(response.get_data(as_text=True))
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Tsudoi API"

    assert {"post", "delete"} <= set(spec["paths"]["/api/v1/auth/token"])
    assert "get" in spec["paths"]["/api/v1/me"]

    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"

    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert me["responses"]["401"] == {"$ref": "#/components/responses/UNAUTHORIZED"}
    assert spec["paths"]["/api/v1/auth/token"]["delete"]["security"] == [{"bearerAuth": []}]
    # Exchanging a password for a token needs no token.
    issue = spec["paths"]["/api/v1/auth/token"]["post"]
    assert "security" not in issue
    assert {"201", "401", "403", "422", "429"} <= set(issue["responses"])


def test_openapi_error_schema_is_the_api_error_shape(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]["content"]["application/json"]["schema"]
    assert unauthorized == {"$ref": "#/components/schemas/Error"}
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert {"code", "message", "fields"} <= set(spec["components"]["schemas"]["ErrorBody"]["properties"])
    # The password is write-only and never part of an answer.
    assert spec["components"]["schemas"]["TokenRequest"]["properties"]["password"]["writeOnly"] is True


def test_docs_page_uses_only_vendored_static_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html

    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts, "Swagger UI needs its scripts"
    for attributes in scripts:
        assert re.search(r'src="/static/', attributes), f"inline or external script: {attributes}"
    assets = re.findall(r'(?:src|href)="([^"#]+\.(?:js|css))"', html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui/swagger-ui.css" in assets
    assert "/static/js/api-docs.js" in assets
    for url in assets:
        assert url.startswith("/static/"), url
        asset = client.get(url)
        asset.close()  # static files are streamed from disk
        assert asset.status_code == 200, url
    assert "style=" not in html
    assert "Content-Security-Policy" in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_vendored_swagger_ui_carries_its_version_and_licence():
    vendor = STATIC / "vendor" / "swagger-ui"
    assert re.match(r"swagger-ui-dist \d+\.\d+\.\d+", (vendor / "VERSION").read_text())
    assert "Apache License" in (vendor / "LICENSE").read_text()
    init = (STATIC / "js" / "api-docs.js").read_text()
    assert "data-spec-url" in init
    assert "validatorUrl: null" in init


def test_the_document_says_what_the_answers_carry(client):
    """What schemathesis found (#20), pinned here for a reader: decimals are strings, a description may lack
    Japanese, an error may name its field, and business-rule 422s and 409s are listed per operation."""
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    for schema, name in (("Latest", "value"), ("YearlyValue", "value"), ("PlanValue", "value"),
                         ("UtilizationRow", "rate")):
        assert schemas[schema]["properties"][name]["type"] == "string", (schema, name)
    assert schemas["Organization"]["properties"]["description"] == {"$ref": "#/components/schemas/Descriptions"}
    assert schemas["Descriptions"]["properties"]["ja"]["nullable"] is True
    assert "nullable" not in schemas["Names"]["properties"]["ja"]
    assert {"field", "alternatives"} <= set(schemas["ErrorBody"]["properties"])
    assert "not_cancellable" in paths["/api/v1/bookings/{booking_id}/cancel"]["post"]["responses"]["422"]["description"]
    booking = paths["/api/v1/bookings"]["post"]["responses"]
    assert {"400", "404", "409", "422"} <= set(booking) and "past_date" in booking["422"]["description"]
    assert "62 days" in paths["/api/v1/rooms/{room_id}/availability"]["get"]["responses"]["422"]["description"]
    assert "409" in paths["/api/v1/events/{event_id}/cancel"]["post"]["responses"]
    assert "NUL" in paths["/api/v1/events"]["post"]["responses"]["422"]["description"]
