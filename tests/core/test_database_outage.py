"""A database outage answers 503 with Retry-After (HTML, and JSON under /api/), not a 500 (#20)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.core.errors import ERROR_TITLES
from app.core.i18n import plain, use_language
from app.extensions import db
from tests.apps import extra_app
from tests.factories import login, make_user


@pytest.fixture
def broken_app(tmp_path):
    """An app whose database cannot be opened (its folder does not exist): every query fails to connect."""
    url = f"sqlite:///{tmp_path / 'missing' / 'gone.sqlite3'}"
    with extra_app(SQLALCHEMY_DATABASE_URI=url, RATELIMIT_STORAGE_URI="memory://") as application:
        yield application


def _title(app, status: int) -> str:
    with app.test_request_context(), use_language("ja"):
        return plain(str(ERROR_TITLES[status]))


@pytest.mark.parametrize("path", ["/", "/events/", "/facilities/"])
def test_html_pages_answer_503_with_retry_after(broken_app, path):
    response = broken_app.test_client().get(path)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    html = response.get_data(as_text=True)
    assert _title(broken_app, 503) in html and "Traceback" not in html


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/facilities", "/api/v1/me"])
def test_api_answers_503_json_with_retry_after(broken_app, path):
    response = broken_app.test_client().get(path, headers={"Authorization": "Bearer tsd_anything-at-all"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "service_unavailable"


@contextmanager
def failing_queries(app, error_class, table: str = "event_series"):
    """Every SQL statement naming TABLE raises ERROR_CLASS, as the driver's error wrapped by SQLAlchemy."""

    def fail(_conn, _cursor, statement, *_args):
        if table in statement:
            raise error_class(statement, {}, Exception("server closed the connection unexpectedly"))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail)


def test_an_operational_error_in_the_middle_of_a_request_is_503(app, client):
    """The database goes away after the request began (the signed-in user was loaded): OperationalError."""
    user = make_user()
    login(client, user.email)
    with failing_queries(app, sa.exc.OperationalError):
        response = client.get("/events/")
        assert response.status_code == 503 and "Retry-After" in response.headers
        assert _title(app, 503) in response.get_data(as_text=True)
        api = client.get("/api/v1/events")
        assert api.status_code == 503 and api.get_json()["error"]["code"] == "service_unavailable"
    assert client.get("/events/").status_code == 200  # and back when the database is


def test_other_database_errors_stay_500(app, client):
    """A bug (say, a constraint the code did not expect) is not an outage: no Retry-After that would mislead."""
    with failing_queries(app, sa.exc.IntegrityError):
        response = client.get("/events/")
    assert response.status_code == 500 and "Retry-After" not in response.headers
