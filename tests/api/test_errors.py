"""Every error under /api/ is JSON {"error": {"code", "message"}} with the right status and headers."""

from __future__ import annotations

import pytest

from tests.api.factories import bearer, make_token
from tests.factories import make_user


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_401_without_token_is_json_with_bearer_challenge(client):
    response = client.get("/api/v1/me")
    _error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="tsudoi"'


def test_401_with_unknown_token_says_invalid_token(client):
    response = client.get("/api/v1/me", headers=bearer("tsd_unknown"))
    _error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/auth/token/extra", "/api/v2/me", "/api/"])
def test_404_on_unknown_api_paths_is_json(client, path):
    _error(client.get(path), 404, "not_found")


def test_405_is_json_with_allow(client):
    response = client.post("/api/v1/me", json={})
    _error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    response = client.put("/api/v1/auth/token", json={})
    _error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"POST", "DELETE"}


def test_422_lists_field_errors_in_japanese(client):
    response = client.post("/api/v1/auth/token", json={"email": "not-an-address", "name": "x" * 81, "admin": True})
    error = _error(response, 422, "validation_failed")
    assert error["message"] == "入力内容に誤りがあります"
    fields = error["fields"]
    assert fields["email"] == ["メールアドレスの形式が正しくありません。"]
    assert fields["password"] == ["必須項目です。"]
    assert fields["name"] == ["名前は80文字以下にしてください。"]
    assert fields["admin"] == ["この項目は受け付けていません。"]


def test_422_when_the_body_is_not_an_object(client):
    response = client.post("/api/v1/auth/token", json=["a", "b"])
    error = _error(response, 422, "validation_failed")
    assert error["fields"]["_schema"]


def test_400_on_malformed_json(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    _error(response, 400, "bad_request")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_400_on_json_nested_too_deeply(client, depth):
    # Python's parser raised RecursionError (a 500) near its recursion limit; the API reads 32 levels at most.
    body = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    # With a bearer header the body may be as large as signed-in requests' (8 MB), so the parser is reached;
    # without one, bodies over 64 KB are refused before parsing (app/core/uploads.py).
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json",
                           headers=bearer("tsd_unknown"))
    assert "32" in _error(response, 400, "bad_request")["message"]
    anonymous = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    if len(body) > 64 * 1024:
        _error(anonymous, 413, "payload_too_large")
    else:
        assert "32" in _error(anonymous, 400, "bad_request")["message"]


def test_413_on_oversized_body(client, app):
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/api/v1/auth/token", data=too_big, content_type="application/json")
    _error(response, 413, "payload_too_large")


def test_429_is_json(client):
    user = make_user()
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong-password-1"})
    response = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong-password-1"})
    _error(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) > 0


def test_token_required_with_roles_answers_403_json(app):
    """A live token without the role gets 403 in the API shape; the role holder passes."""
    from flask import make_response

    from app.api.security import TokenForbidden, current_api_user, token_required
    from app.core.permissions import Role

    @token_required(roles=(Role.WARD_STAFF,))
    def staff_only():
        return {"id": current_api_user().id}

    resident, staff = make_user(), make_user(role=Role.WARD_STAFF)
    _id, resident_secret = make_token(resident)
    _id, staff_secret = make_token(staff)
    with app.test_request_context("/api/v1/staff-only", headers=bearer(staff_secret)):
        app.preprocess_request()
        assert staff_only() == {"id": staff.id}
    with app.test_request_context("/api/v1/staff-only", headers=bearer(resident_secret)):
        app.preprocess_request()
        with pytest.raises(TokenForbidden) as raised:
            staff_only()
        response = make_response(app.handle_user_exception(raised.value))
        _error(response, 403, "forbidden")
    # The requirement is documented on the operation.
    assert staff_only._apidoc["manual_doc"]["security"] == [{"bearerAuth": []}]
    assert staff_only._apidoc["response"]["responses"][403] == ["FORBIDDEN"]


def test_unexpected_exception_is_500_json_without_internals(app):
    from flask import make_response

    with app.test_request_context("/api/v1/me"):
        app.preprocess_request()
        response = make_response(app.handle_user_exception(RuntimeError("secret internals")))
        _error(response, 500, "internal_error")
        assert "secret internals" not in response.get_data(as_text=True)


def test_error_messages_follow_the_language_cookie(client):
    from app.core.i18n import LANGUAGE_COOKIE

    client.set_cookie(LANGUAGE_COOKIE, "ja-easy")
    assert client.get("/api/v1/nothing-here").get_json()["error"]["message"] == "ページがありません"
    user = make_user()
    response = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong-password-1"})
    assert response.get_json()["error"]["message"] == "メールアドレスか、パスワードがちがいます。"
    assert "<ruby>" not in response.get_data(as_text=True)


def test_domain_errors_answer_409_with_their_message(app):
    """Services raise DomainError subclasses; the API answers their status, code and message."""
    from flask import make_response

    from app.core.errors import Conflict, DomainError

    class SlotTaken(DomainError):
        status_code = 409  # no code of its own: the status's code, not the generic "invalid"

    class CapacityReached(Conflict):
        code = "capacity_reached"

    with app.test_request_context("/api/v1/bookings"):
        app.preprocess_request()
        response = make_response(app.handle_user_exception(SlotTaken("この時間はすでに予約されています。")))
        assert _error(response, 409, "conflict")["message"] == "この時間はすでに予約されています。"
        response = make_response(app.handle_user_exception(CapacityReached("定員に達しました。")))
        _error(response, 409, "capacity_reached")
        response = make_response(app.handle_user_exception(DomainError("入力が正しくありません。")))
        _error(response, 400, "invalid")


def test_a_token_callers_messages_follow_their_profile_language(client):
    """A token call has no session: its owner's profile language applies as on pages (after the cookie,
    before Accept-Language), for the schema's field messages and the services' messages alike."""
    from app.core.i18n import LANGUAGE_COOKIE

    english = make_user(language="en")
    _id, secret = make_token(english)
    response = client.post("/api/v1/bookings", json={}, headers={**bearer(secret), "Accept-Language": "ja"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "required" in text.lower() and "\\u" not in text  # English, no Japanese
    _id, plain = make_token(make_user(language="ja"))
    japanese = client.post("/api/v1/bookings", json={}, headers={**bearer(plain), "Accept-Language": "en"})
    assert "\\u" in japanese.get_data(as_text=True)  # Japanese, as the profile says
    client.set_cookie(LANGUAGE_COOKIE, "ja")  # the latest explicit choice still wins
    assert "\\u" in client.post("/api/v1/bookings", json={}, headers=bearer(secret)).get_data(as_text=True)
