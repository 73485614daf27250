"""No JSON API write endpoint answers 5xx to a hostile body, and none writes anything when it refuses one.

Method:

1. Every POST/PATCH/PUT/DELETE route under /api/v1 of the URL map must have a row in ROUTES (a new route fails
   `test_every_api_write_route_has_a_baseline`). A row names the caller (a persona of the authorization matrix's
   world, whose row there must allow it, or a fresh user), the path's targets (the matrix's `W` references, or a
   fresh target per request when a success consumes it), and a valid baseline body taken from the API tests.
2. Each field of the baseline (nested objects and the first item of lists included) is replaced in turn by each
   value of HOSTILE, and each object of the body gets an unknown extra field; then the cases of whole_cases replace
   the body itself (empty, not an object, malformed, too deep, text/plain, too large). Body-less routes get those.
3. Every answer is < 500. A 4xx is `{"error": {"code", "message"}}` with a non-empty message, the row count of
   every table is unchanged (one statement counts them all; WRITES_ON_REFUSAL lists the intended exceptions) and so
   is the row a route updates in place (Route.state). A 2xx must be a legitimately accepted value: one the route's
   own schema (its OpenAPI contract) loads as sent (see _not_accepted). Last, the baseline itself must succeed,
   which shows that every case was one field away from a valid request.

One world for the module (tests/core/authz_world.build_world: the authorization matrix's world, as the hostile
query test uses, with the matrix's `W` references and `_resolve` for the paths), row counts instead of rebuilding.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.core.i18n import LANGUAGE_COOKIE
from app.extensions import db
from tests.api.factories import make_token
from tests.core import test_authorization_matrix as matrix
from tests.core.hostile import Crash, ErrorNote, shared_world
from tests.core.test_authorization_matrix import W
from tests.factories import DEFAULT_PASSWORD, app_context, make_user

UNSAFE = {"POST", "PATCH", "PUT", "DELETE"}
SCRIPT = "<script>alert(1)</script>"
HOSTILE = {
    "string": "x", "int": 1, "list": ["x"], "object": {"x": 1}, "null": None, "true": True,
    "2**63": 2**63, "-1": -1, "0": 0, "1e308": 1e308, "NaN": "NaN",
    "9999-12-31": "9999-12-31", "0001-01-01": "0001-01-01", "2026-02-30": "2026-02-30", "10000-01-01": "10000-01-01",
    "naive-datetime": "2026-05-01T10:00:00", "NUL": "a\x00b", "100k": "x" * 100_000, "script": SCRIPT,
    # Not JSON, but Python's parser reads the literals NaN and Infinity (json.dumps writes them so)
    "NaN-literal": float("nan"), "Infinity-literal": float("inf"),
}
UNKNOWN = "unknown-field"


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


_SERIAL = itertools.count(1)


# --- the baselines: one row per write route -------------------------------------------------------------------------

@dataclass
class Route:
    """How to call one write route validly. PERSONA: whose token ("fresh": a new user per request, None: no token).
    KWARGS: the path's values (callables of the world). BODY: callable(world) -> the valid body, None when the route
    reads no body. FRESH: callable(world) -> path values to use instead, for a target one success consumes.
    UNDO: callable(world, response) after a success that would make the next case a conflict.
    STATE: callable(world, path values) -> what the route would update in place (row counts cannot see an UPDATE)."""

    persona: str | None
    source: str
    kwargs: dict = field(default_factory=dict)
    body: object = None
    fresh: object = None
    undo: object = None
    state: object = None


def _event_body(w, **overrides) -> dict:
    """tests/api/test_events.py's _event_body, with every other field an organizer can write."""
    body = {
        "organization_id": w.org_x, "title": {"ja": "商店街の夏まつり", "en": "Summer festival", "easy": "なつまつり"},
        "title_kana": "しょうてんがいのなつまつり",
        "summary": {"ja": "屋台が並びます"}, "description": {"ja": "雨天決行"}, "category": "shopping_street",
        "district": "azabu", "audiences": ["children"], "accessibility": ["wheelchair_accessible"], "capacity": 10,
        "venue_name": "商店街", "venue_address": "港区麻布十番1-1", "online_url": "https://example.jp/live",
        "fee_yen": 500, "fee_note": "材料費", "registration_required": True,
        "registration_opens_at": f"{_day(1)}T09:00:00+09:00", "registration_deadline_days": 1,
        "foreign_languages": ["en"],
        "contact": {"name": "港太郎", "email": "contact@example.jp", "phone": "03-1234-5678"},
        "partner_ids": [w.org_y],
        "recurrence": {"frequency": "weekly", "first_date": _day(7), "until_date": _day(21), "nth": None, "dates": []},
        "start_time": "15:00", "end_time": "20:00", "publish": True, "publish_at": None,
    }
    body.update(overrides)
    return body


def _patch_body(w) -> dict:
    body = _event_body(w, publish=False)  # the event is published already: publishing again is a 409
    del body["organization_id"]
    return body


def _booking_body(w) -> dict:
    """tests/bookings/test_api.py's body; as group X's officer, for the group (the matrix's as-group-x row)."""
    return {"room_id": w.room_f, "day": _day(21), "units": [f"s{w.morning_f}"], "purpose": "API予約",
            "attendees": 5, "category": "resident", "organization_id": w.org_x, "equipment": []}


def _organization_body(w) -> dict:
    """tests/api/test_events.py's registration body with every optional field; ward staff may set verified_until."""
    return {"kind": "shopping_street", "district": "azabu", "name": {"ja": f"麻布十番商店会{next(_SERIAL)}",
            "en": "Azabu-Juban", "easy": "あざぶじゅうばん"}, "description": {"ja": "商店会です", "en": None},
            "public_email": "info@example.jp", "public_phone": "03-0000-0000", "website_url": "https://example.jp",
            "contact_name": "港花子", "contact_email": "hanako@example.jp", "contact_phone": "090-0000-0000",
            "member_count": 30, "shop_count": 80, "in_shotengai_federation": True, "verified_until": "2099-03-31"}


def _cancel_booking(w, response) -> None:
    """Cancel a booking the case made (within the undo window: no consequence), so the slot is free again."""
    answer = w.client.post(f"/api/v1/bookings/{response.get_json()['id']}/cancel",
                           headers={"Authorization": f"Bearer {w.bearer['off_x']}"})
    assert answer.status_code == 200, answer.get_json()


def _row_state(model, key: str, *columns: str):
    """STATE of a route updating one MODEL row whose id is the path value KEY: the COLUMNS' values."""

    def state(w, values):
        with w.app.app_context():
            row = db.session.get(model(), values[key])
            return tuple(getattr(row, column) for column in columns)

    return state


def _event_state(w, values):
    """The event as the public API shows it (texts, times, counts, every occurrence)."""
    return w.client.get(f"/api/v1/events/{values['event_id']}").get_json()


def _registration_state(w, values):
    from app.events.models import Registration

    with w.app.app_context():
        return db.session.execute(sa.select(Registration.id, Registration.status)
                                  .where(Registration.occurrence_id == values["occurrence_id"])
                                  .order_by(Registration.id)).all()


def _token_state(w, values):
    from app.accounts.models import ApiToken

    with w.app.app_context():
        return db.session.execute(sa.select(ApiToken.id, ApiToken.revoked_at).order_by(ApiToken.id)).all()


def _booking_model():
    from app.bookings.models import Booking

    return Booking


def _fresh_series(w) -> dict:
    from tests.events.factories import make_series

    return {"event_id": make_series(organization_id=w.org_x, actor_id=w.users["off_x"].id).id}


def _fresh_booking(w) -> dict:
    from tests.utilization.factories import add_booking

    booking_id = add_booking(w.room_f, date.today() + timedelta(days=25), [(780, 1020)])
    with app_context():
        from app.bookings.models import Booking

        db.session.get(Booking, booking_id).user_id = w.users["res_a"].id
        db.session.commit()
    return {"booking_id": booking_id}


def _fresh_registration(w) -> dict:
    """A new user registered for occurrence X: the caller of the DELETE."""
    from app.events import registrations as registration_services

    user = make_user(email=f"hostile-body-{next(_SERIAL)}@example.jp")
    with w.app.test_request_context():  # the confirmation e-mail builds URLs
        from app.accounts.models import User

        registration_services.register(occurrence_id=w.occ_x, user=db.session.get(User, user.id))
        db.session.commit()
    return {"occurrence_id": w.occ_x, "_user": user}


ROUTES = {
    ("api_auth.TokenResource", "POST"): Route(
        None, "tests/api/test_auth.py",
        body=lambda w: {"email": w.users["res_a"].email, "password": DEFAULT_PASSWORD, "name": "集計スクリプト"}),
    ("api_auth.TokenResource", "DELETE"): Route("fresh", "tests/api/test_auth.py (the token in use is revoked)",
                                                state=_token_state),
    ("api_organizations.OrganizationList", "POST"): Route(
        "ward", "tests/api/test_events.py test_register_an_organization_through_the_api", body=_organization_body),
    ("api_facilities.BookingList", "POST"): Route(
        "off_x", "tests/bookings/test_api.py, the matrix's as-group-x row", body=_booking_body,
        undo=_cancel_booking),
    ("api_facilities.BookingCancel", "POST"): Route(
        "res_a", "tests/bookings/test_api.py", fresh=_fresh_booking,
        state=_row_state(_booking_model, "booking_id", "state", "cancelled_at")),
    ("api_events.EventList", "POST"): Route("off_x", "tests/api/test_events.py _event_body", body=_event_body),
    ("api_events.EventDetail", "PATCH"): Route(
        "off_x", "tests/api/test_events.py (PATCH with the whole event)", kwargs={"event_id": W.patch_target},
        body=_patch_body, state=_event_state),
    ("api_events.EventCancel", "POST"): Route(
        "off_x", "tests/api/test_events.py", body=lambda w: {"reason": "雨天のため"}, fresh=_fresh_series,
        state=_event_state),
    ("api_events.OccurrenceRegistration", "POST"): Route(
        "fresh", "tests/api/test_events.py", kwargs={"occurrence_id": W.occ_x}, state=_registration_state),
    ("api_events.OccurrenceRegistration", "DELETE"): Route(
        "fresh", "tests/api/test_events.py (a fresh registrant cancels)", fresh=_fresh_registration,
        state=_registration_state),
}

# A 2xx to a hostile case is a legitimately accepted value when the route's own schema (its declared contract,
# documented in the OpenAPI document) loads the body unchanged at that field: a string where a string is wanted,
# null where null is allowed, 0 where the range starts at 0, a far but valid date. Whole-body cases may succeed only
# on routes that read no body, or where the body is read as {} (empty, not JSON) and {} is valid (a PATCH of nothing).


def body_schema(endpoint: str, method: str):
    """The marshmallow schema (an instance) the route loads its JSON body with, or None."""
    from flask import current_app

    view = getattr(current_app.view_functions[endpoint].view_class, method.lower())
    for parameter in view._apidoc.get("arguments", {}).get("parameters", []):
        if parameter.get("location") in (None, "json"):
            schema = parameter["schema"]
            return schema() if isinstance(schema, type) else schema
    return None


def _not_accepted(app, endpoint: str, method: str, field_name: str, case: str, sent: bytes) -> str | None:
    """Why a 2xx to this case is not a legitimately accepted value, or None when it is."""
    import marshmallow as ma

    with app.app_context():
        schema = body_schema(endpoint, method)
        if schema is None:
            return None  # the route reads no body
        if field_name == "*":
            return None if case in ("empty", "text/plain") and not schema.validate({}) else "the body is not valid"
        body = json.loads(sent)
        try:
            loaded = schema.load(body)
        except ma.ValidationError as error:
            return f"its schema refuses it: {error.messages}"
    path = [int(step) if step.isdigit() else step for step in field_name.split(".")]
    if case == UNKNOWN:
        return "an unknown field was accepted"
    sent_value, value = body, loaded
    for step in path:
        sent_value = sent_value[step]
        value = value.get(step) if isinstance(value, dict) else value[step] if isinstance(value, list) else value
    if isinstance(sent_value, str | int | float | bool | type(None)) and not isinstance(value, str | int | float | bool
                                                                                        | type(None)):
        return None  # a date, time or enum parsed from its JSON form
    return None if value == sent_value else f"it was read as {value!r}"


# Tables a refused request may still write to, by status, and why.
WRITES_ON_REFUSAL = {
    # A wrong password is audited (and counted against the limits) before the 401: the failure is the record.
    ("api_auth.TokenResource", "POST"): {401: {"audit_events": "failed logins are audited (login.failed)"}},
}


# --- cases --------------------------------------------------------------------------------------------------------

def _field_paths(value, prefix=()):
    """Every field of a body: objects' keys (and their insides), the first item of a non-empty list."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _field_paths(inner, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _field_paths(value[0], (*prefix, 0))


def _objects(value, prefix=()):
    if isinstance(value, dict):
        yield prefix
        for key, inner in value.items():
            yield from _objects(inner, (*prefix, key))
    elif isinstance(value, list) and value:
        yield from _objects(value[0], (*prefix, 0))


def _replaced(body, path, value):
    body = json.loads(json.dumps(body))
    inner = body
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = value
    return body


def _with_unknown(body, path):
    body = json.loads(json.dumps(body))
    inner = body
    for step in path:
        inner = inner[step]
    inner["zz_unknown"] = 1
    return body


def _dotted(path) -> str:
    return ".".join(str(step) for step in path) or "(body)"


def field_cases(body):
    """(field, case name, JSON body) for each field of BODY and each hostile value, and the unknown fields."""
    for path in _field_paths(body):
        for name, value in HOSTILE.items():
            yield _dotted(path), name, _replaced(body, path, value)
    for path in _objects(body):
        yield _dotted(path), UNKNOWN, _with_unknown(body, path)


def whole_cases(body, max_length: int):
    """(case name, raw bytes, content type) replacing the whole body."""
    valid = json.dumps(body if body is not None else {}).encode()
    yield "empty", b"", "application/json"
    yield "[]", b"[]", "application/json"
    yield '"x"', b'"x"', "application/json"
    yield "invalid-json", b'{"a": ', "application/json"
    yield "invalid-utf-8", b'{"a": "\xff\xfe"}', "application/json"
    yield "deeply-nested", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"
    yield "nested-1000", b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "application/json"
    yield "nested-40", b'{"a": ' + b'{"b": ' * 40 + b"1" + b"}" * 40 + b"}", "application/json"
    yield "text/plain", valid, "text/plain"
    yield "over-max-length", b'{"a": "' + b"x" * max_length + b'"}', "application/json"


# --- the world ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(app):
    """The matrix's world, with an event to PATCH, the morning slot of facility F, a client without a session cookie
    (only the bearer token authenticates), a row counter and the exceptions behind 500s; emptied at the end."""
    for w in shared_world(app):  # one world; the loop's end empties it
        w.patch_target = _fresh_series(w)["event_id"]
        with app.app_context():
            from app.facilities.models import TimeSlot

            w.morning_f = db.session.scalar(sa.select(TimeSlot.id).where(
                TimeSlot.facility_id == w.facility_f, TimeSlot.code == "morning", TimeSlot.weekday.is_(None)))
        w.client = app.test_client()
        w.counter = _counter(app)
        w.errors = ErrorNote()
        app.logger.addHandler(w.errors)
        try:
            yield w
        finally:
            app.logger.removeHandler(w.errors)


@pytest.fixture(autouse=True)
def _clean_state():
    """Overrides the suite's per-test emptying: the module shares one world."""
    yield


def _counter(app):
    """A function returning {table: row count} for every table, in one statement."""
    tables = list(db.metadata.sorted_tables)
    statement = sa.select(*[sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name)
                            for t in tables])

    def counts() -> dict[str, int]:
        with app.app_context(), db.engine.connect() as conn:
            return dict(conn.execute(statement).one()._mapping)

    return counts


def _call(world, endpoint: str, method: str, route: Route, *, data: bytes | None, content_type: str | None,
          headers: dict | None = None):
    """One request as the route's caller; returns (response, counts before, counts after)."""
    from app.extensions import limiter

    values = matrix._resolve(route.kwargs, world)
    if route.fresh:
        values.update(route.fresh(world))
    user = values.pop("_user", None)
    headers = dict(headers or {})
    if route.persona == "fresh":
        secret = make_token(user or make_user(email=f"hostile-body-{next(_SERIAL)}@example.jp"))[1]
        headers["Authorization"] = f"Bearer {secret}"
    elif route.persona is not None:
        headers["Authorization"] = f"Bearer {world.bearer[route.persona]}"
    url = world.app.url_map.bind("localhost").build(endpoint, values, method=method)
    limiter.reset()  # the login failure limits would answer 429 to every case after the fifth
    before = world.counter()
    if route.state:
        before["(updated in place)"] = route.state(world, values)
    kwargs = {"headers": headers}
    if data is not None:
        kwargs.update(data=data, content_type=content_type)
    world.errors.errors.clear()
    try:
        response = world.client.open(url, method=method, **kwargs)
    except Exception as error:  # noqa: BLE001 - TESTING propagates the view's exception: that is the 500
        response = Crash(error)
    after = world.counter()
    if route.state:
        after["(updated in place)"] = route.state(world, values)
    if route.undo and 200 <= response.status_code < 300:
        route.undo(world, response)
    return response, before, after


def _problems(world, endpoint, method, field_name, case, sent, response, before, after) -> list[str]:
    where = f"{method} {endpoint} {field_name}={case}"
    status = response.status_code
    if isinstance(response, Crash):
        first = (str(response.error).splitlines() or [""])[0][:200]
        return [f"{where} -> 500 {type(response.error).__name__}: {first}"]
    if status >= 500:
        detail = "".join(f" {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
                         for e in world.errors.errors[-1:])
        return [f"{where} -> {status}{detail}"]
    if 200 <= status < 300:
        reason = _not_accepted(world.app, endpoint, method, field_name, case, sent)
        return [f"{where} -> {status} although {reason}"] if reason else []
    if not 400 <= status < 500:
        return [f"{where} -> {status}"]
    problems = []
    error = (response.get_json(silent=True) or {}).get("error") if response.is_json else None
    if not (isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"]
            and isinstance(error.get("message"), str) and error["message"].strip()):
        problems.append(f"{where} -> {status} without the JSON error shape: {response.get_data(as_text=True)[:200]}")
    allowed = WRITES_ON_REFUSAL.get((endpoint, method), {}).get(status, {})
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in allowed}
    if changed:
        problems.append(f"{where} -> {status} but rows changed: {changed}")
    return problems


# --- the tests ----------------------------------------------------------------------------------------------------

def _write_routes(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
            for method in rule.methods & UNSAFE}


def test_every_api_write_route_has_a_baseline(app):
    routes = _write_routes(app)
    assert routes - set(ROUTES) == set(), "API write routes without a row in ROUTES"
    assert set(ROUTES) - routes == set(), "rows of ROUTES without a route"
    for (endpoint, method), route in ROUTES.items():
        if route.persona not in (None, "fresh"):
            rows = [r for r in matrix.TABLE if (r.endpoint, r.method) == (endpoint, method)]
            assert any(r.expected[route.persona] == "ok" for r in rows), (endpoint, method, route.persona)


@pytest.mark.parametrize(("endpoint", "method"), sorted(ROUTES), ids=[f"{e}-{m}" for e, m in sorted(ROUTES)])
def test_hostile_bodies(world, endpoint: str, method: str):
    """Each field of the baseline with each hostile value, then the whole-body cases: never a 5xx, never a write
    on a refusal, a 2xx only for accepted values; the baseline itself succeeds."""
    route = ROUTES[(endpoint, method)]
    problems, count = [], 0
    baseline = route.body(world) if route.body else None
    cases = []
    if baseline is not None:
        cases += [(name, case, json.dumps(body).encode(), "application/json")
                  for name, case, body in field_cases(baseline)]
    cases += [("*", case, data, content_type)
              for case, data, content_type in whole_cases(baseline, world.app.config["MAX_CONTENT_LENGTH"])]
    for field_name, case, data, content_type in cases:
        response, before, after = _call(world, endpoint, method, route, data=data, content_type=content_type)
        problems += _problems(world, endpoint, method, field_name, case, data, response, before, after)
        count += 1
    response, _before, _after = _call(world, endpoint, method, route,
                                      data=None if baseline is None else json.dumps(route.body(world)).encode(),
                                      content_type="application/json")
    assert 200 <= response.status_code < 300, ("the baseline is refused", response.status_code,
                                              getattr(response, "get_json", lambda **k: None)(silent=True))
    assert not problems, f"{len(problems)} of {count} cases:\n" + "\n".join(problems)


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize(("accept", "japanese"), [("en", False), ("ja", True)])
def test_refusals_speak_the_callers_language(world, accept: str, japanese: bool):
    """A refused body's message (and its field messages) in the caller's language: English with the language
    cookie en, Japanese with ja (the cookie, the latest explicit choice, comes before the token owner's profile)."""
    route = ROUTES[("api_events.EventList", "POST")]
    body = _event_body(world, capacity=2**63, zz_unknown=1)
    world.client.set_cookie(LANGUAGE_COOKIE, accept)
    try:
        response, before, after = _call(world, "api_events.EventList", "POST", route,
                                        data=json.dumps(body).encode(), content_type="application/json")
    finally:
        world.client.delete_cookie(LANGUAGE_COOKIE)
    assert response.status_code == 422 and before == after
    error = response.get_json()["error"]
    texts = [error["message"], *error["fields"]["capacity"], *error["fields"]["zz_unknown"]]
    assert all(bool(JAPANESE.search(text)) is japanese for text in texts), texts
