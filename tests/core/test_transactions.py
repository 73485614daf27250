"""The request transaction (app/core/transactions.py): one commit on success; on a DomainError a rollback, nothing
written, the message where the page shows it and the page's status; 303 after a POST (the source guards are in
test_view_sources.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Blueprint, get_flashed_messages, jsonify, redirect, request
from wtforms import Form, StringField

from app.core.audit import AuditEvent, record_audit
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.transactions import FLASH, VIEW, request_transaction
from app.events.errors import InvalidEvent
from app.extensions import db
from tests.apps import extra_app


class NoteForm(Form):
    """A plain WTForms form (no CSRF): the helper is under test, not the token."""

    title = StringField()
    body = StringField()


class Crash(Exception):
    """Not a DomainError: the helper must let it through."""


def _service(kind: str) -> int:
    """A stand-in service: writes a row and never commits, then breaks the rule KIND names (or not, for "ok")."""
    record_audit("test.transactions", details={"kind": kind})
    db.session.flush()
    if kind == "conflict":
        raise Conflict("その枠はほかの予約と重なりました。")
    if kind == "forbidden":
        raise NotAllowed("この操作はできません。")
    if kind == "invalid":
        raise DomainError("入力が正しくありません。")
    if kind == "title":
        raise InvalidEvent("タイトルが長すぎます。", field="title")
    if kind == "unknown_field":
        raise InvalidEvent("どこかが正しくありません。", field="no_such_field")
    if kind == "crash":
        raise Crash("boom")
    return 1


bp = Blueprint("tx_test", __name__, url_prefix="/tx-test")


@bp.post("/flash/<kind>")
def flashed(kind: str):
    with request_transaction(errors=FLASH, success="保存しました。"):
        _service(kind)
    return redirect("/tx-test/messages", 303)


@bp.get("/messages")
def messages():
    return jsonify(get_flashed_messages(with_categories=True))


@bp.post("/form/<kind>")
def on_form(kind: str):
    form = NoteForm(request.form)
    with request_transaction(form=form, errors=form.body) as tx:
        _service(kind)
    if tx.failed:
        return jsonify(title=form.title.errors, body=form.body.errors), 422
    return redirect("/tx-test/messages", 303)


@bp.post("/mapped/<kind>")
def mapped(kind: str):
    form = NoteForm(request.form)
    with request_transaction(errors={NotAllowed: form.title, Conflict: FLASH}) as tx:
        _service(kind)
    if tx.failed:
        return jsonify(title=form.title.errors, body=form.body.errors, flashed=get_flashed_messages()), 422
    return redirect("/tx-test/messages", 303)


@bp.post("/view/<kind>")
def own_page(kind: str):
    with request_transaction(errors=VIEW) as tx:
        _service(kind)
    if tx.failed:
        return f"error: {tx.error.message}", tx.status()
    return redirect("/tx-test/messages", 303)


@bp.post("/unplaced/<kind>")
def unplaced(kind: str):
    with request_transaction():
        _service(kind)
    return redirect("/tx-test/messages", 303)


@bp.post("/preview/<kind>")
def preview(kind: str):
    with request_transaction(errors=VIEW, commit=False) as tx:
        _service(kind)
    return ("failed" if tx.failed else "previewed"), 200


@pytest.fixture(scope="module")
def tx_app(app, database_url):
    """An app with the routes above, on the test database (its schema built by the session's app)."""
    with extra_app("testing", SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI="memory://",
                   WTF_CSRF_ENABLED=False) as test_app:
        test_app.register_blueprint(bp)
        yield test_app


@pytest.fixture
def tx_client(tx_app):
    return tx_app.test_client()


def _rows(tx_app) -> int:
    with tx_app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "test.transactions"))


def test_success_commits_once_flashes_and_answers_303(tx_app, tx_client):
    response = tx_client.post("/tx-test/flash/ok")
    assert response.status_code == 303
    assert response.headers["Location"] == "/tx-test/messages"
    assert _rows(tx_app) == 1
    assert tx_client.get("/tx-test/messages").json == [["success", "保存しました。"]]


def test_a_domain_error_is_rolled_back_and_flashed(tx_app, tx_client):
    response = tx_client.post("/tx-test/flash/conflict")
    assert response.status_code == 303
    assert _rows(tx_app) == 0  # the row the service flushed is gone
    assert tx_client.get("/tx-test/messages").json == [["error", "その枠はほかの予約と重なりました。"]]


def test_the_field_the_exception_names_gets_the_message(tx_app, tx_client):
    response = tx_client.post("/tx-test/form/title", data={"title": "x", "body": "y"})
    assert response.status_code == 422
    assert response.json == {"title": ["タイトルが長すぎます。"], "body": []}
    assert _rows(tx_app) == 0


@pytest.mark.parametrize("kind", ["invalid", "unknown_field"])
def test_otherwise_the_views_field_gets_it(tx_app, tx_client, kind):
    response = tx_client.post(f"/tx-test/form/{kind}", data={"title": "x", "body": "y"})
    assert response.status_code == 422
    assert response.json["title"] == []
    assert len(response.json["body"]) == 1
    assert _rows(tx_app) == 0


def test_a_map_sends_each_kind_of_error_to_its_place(tx_app, tx_client):
    forbidden = tx_client.post("/tx-test/mapped/forbidden")
    assert forbidden.json == {"title": ["この操作はできません。"], "body": [], "flashed": []}
    conflict = tx_client.post("/tx-test/mapped/conflict")
    assert conflict.json == {"title": [], "body": [], "flashed": ["その枠はほかの予約と重なりました。"]}
    # A DomainError the map has no place for goes on to the app's error page, with its own status.
    other = tx_client.post("/tx-test/mapped/invalid")
    assert other.status_code == 400
    assert "入力が正しくありません。" in other.get_data(as_text=True)
    assert _rows(tx_app) == 0


@pytest.mark.parametrize(("kind", "status"), [("conflict", 409), ("forbidden", 403), ("invalid", 422),
                                              ("title", 422)])
def test_the_view_shows_the_error_with_the_right_status(tx_app, tx_client, kind, status):
    response = tx_client.post(f"/tx-test/view/{kind}")
    assert response.status_code == status
    assert response.get_data(as_text=True).startswith("error: ")
    assert _rows(tx_app) == 0


@pytest.mark.parametrize(("kind", "status"), [("conflict", 409), ("forbidden", 403), ("invalid", 400)])
def test_an_error_with_no_place_reaches_the_error_page_with_its_status(tx_app, tx_client, kind, status):
    response = tx_client.post(f"/tx-test/unplaced/{kind}")
    assert response.status_code == status
    assert _rows(tx_app) == 0


def test_without_errors_given_success_still_commits(tx_app, tx_client):
    assert tx_client.post("/tx-test/unplaced/ok").status_code == 303
    assert _rows(tx_app) == 1


def test_other_exceptions_are_not_caught(tx_app, tx_client):
    assert tx_client.post("/tx-test/unplaced/crash").status_code == 500
    assert _rows(tx_app) == 0


def test_commit_false_writes_nothing(tx_app, tx_client):
    assert tx_client.post("/tx-test/preview/ok").get_data(as_text=True) == "previewed"
    assert tx_client.post("/tx-test/preview/conflict").get_data(as_text=True) == "failed"
    assert _rows(tx_app) == 0


def test_status_keeps_403_404_409_and_maps_the_rest():
    from app.core.transactions import Outcome

    assert Outcome(Conflict("x")).status() == 409
    assert Outcome(NotAllowed("x")).status() == 403
    assert Outcome(DomainError("x")).status() == 422
    assert Outcome(DomainError("x")).status(keep=(409,), otherwise=400) == 400
    assert Outcome(Conflict("x")).status(keep=(409,), otherwise=400) == 409
    with pytest.raises(RuntimeError):
        Outcome().status()


def test_a_mistyped_place_fails_at_once(tx_app):
    with tx_app.test_request_context(method="POST"):
        with pytest.raises(ValueError):
            request_transaction(errors="flsh").__enter__()
        with pytest.raises(TypeError):
            request_transaction(errors={DomainError: object()}).__enter__()
