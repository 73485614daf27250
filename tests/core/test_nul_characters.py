"""A NUL character in a request's path or query string is a 400 with a message, before any view: PostgreSQL cannot
store or compare it (each such string parameter was a 500 there), and nobody types one. (Form fields drop it:
app/core/forms.py; the API refuses it in JSON bodies: app/api/__init__.py.)"""

from __future__ import annotations

from app.core.i18n import LANGUAGE_COOKIE
from tests.factories import csrf_token, login, make_user

MESSAGE = "アドレスに、使えない文字(NUL 制御文字)が含まれていました。"


def test_query_string_and_path_in_japanese_and_english(client):
    urls = ("/events/?q=%00", "/events/?q%00=1", "/events/?q=a&q=b%00", "/facilities/search?day=2026-12-01%00",
            "/staff/indicators/P09%00", "/organizations/%00")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 400, url
        assert MESSAGE in response.get_data(as_text=True), url
    client.set_cookie(LANGUAGE_COOKIE, "en")
    response = client.get(urls[0])
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert MESSAGE not in response.get_data(as_text=True)
    assert client.get("/events/?q=%E3%81%BE").status_code == 200  # other text passes


def test_api_answers_its_json_error_shape(client):
    response = client.get("/api/v1/events?q=a%00b")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["message"].startswith("アドレスに、使えない文字")


def test_a_post_with_one_in_its_query_string_changes_nothing(client):
    user = make_user(display_name="もとの名前")
    login(client, user.email)
    token = csrf_token(client, "/account/profile")
    response = client.post("/account/profile?x=%00", data={"csrf_token": token, "display_name": "新しい名前",
                                                           "language": "ja"})
    assert response.status_code == 400
    assert "もとの名前" in client.get("/account/profile").get_data(as_text=True)
