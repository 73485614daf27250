"""Schemathesis against the app in-process (WSGI): every operation of the OpenAPI document, fed generated input,
answers without a 5xx and as the document says (status code, content type, headers, body schema) (#20).

Bounded and deterministic: a few derandomized examples per operation, once with generated path ids (mostly
unknown: 404s) and once with the ids of rows seeded here (the 200/201 answers and the business-rule 4xx).

SQLite only: it checks the document against the code, which is the same on both databases; the PostgreSQL
specifics of the API (NUL refused before the database, locks, 503 on a lost database) have their own tests that
run on both. Running it twice would double its cost in CI for no new answer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from app.accounts.models import User
from app.bookings import services as booking_services
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import UserCategory
from app.indicators import services as indicator_services
from tests.api.factories import bearer, make_token
from tests.events.factories import make_series, occurrence_ids
from tests.facilities.factories import make_center
from tests.factories import app_context, make_user
from tests.organizations.factories import make_organization

EXAMPLES = 6  # per operation and mode; ~20 operations x 3 runs

# What the document promises. Left out: positive_data_acceptance (a request valid by the schema may still break a
# business rule, a documented 422 or 409: a past day, a range over 62 days) and the stateful checks that need
# links between operations, which the document does not declare.


def documented_status(ctx, response, case):
    """The status is listed by the operation itself: its `default` (the Error shape) must not cover an answer the
    document does not name, such as a business rule's 422 or a conflict's 409."""
    documented = {code for code in case.operation.responses.status_codes if code != "default"}
    if str(response.status_code) not in documented:
        raise AssertionError(f"{response.status_code} is not documented for {case.operation.label} "
                             f"(documented: {', '.join(sorted(documented))}): {response.text[:300]}")


CHECKS = [documented_status, *(getattr(schemathesis.checks, name) for name in (
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection"))]


def _sqlite_only(request):
    if request.getfixturevalue("database_url").startswith("postgresql"):
        pytest.skip("the document is checked against the code once, on SQLite (see the module's docstring)")


_FIRST_INDICATOR = "P09-02-1"  # computed from events: yearly values and a latest one


def _book(user, center) -> int:
    with app_context():
        booking = booking_services.book_slots(
            user=db.session.get(User, user.id), room_id=center.meeting_id, day=today_tokyo() + timedelta(days=10),
            unit_keys=[f"s{center.slot_ids['morning']}"], purpose="会合", attendees=5, category=UserCategory.RESIDENT,
            organization_id=None, equipment_ids=[])
        db.session.commit()
        return booking.id


def _seed():
    """A ward-staff user who is an officer of a group, with a token; a facility, a published event."""
    user = make_user(role=Role.WARD_STAFF)
    organization = make_organization(officer_id=user.id)
    center = make_center()
    series = make_series(organization_id=organization.id, actor_id=user.id)
    with app_context():
        indicator_services.load_catalog()  # decimals as printed in the plan
        db.session.commit()
    booking = _book(user, center)
    return user, {
        "room_id": center.meeting_id, "event_id": series.id, "occurrence_id": occurrence_ids(series.id)[0],
        "org_id": organization.id, "booking_id": booking, "code": _FIRST_INDICATOR,
    }, center


def test_every_operation_answers_as_documented(request, app):
    _sqlite_only(request)
    user, ids, center = _seed()
    today = today_tokyo()
    seeded_queries = {"GET /api/v1/utilization": {
        "from": (today - timedelta(days=30)).isoformat(), "to": (today + timedelta(days=30)).isoformat(),
        "facility_id": center.facility_id}}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    failures, answered = [], set()
    for operation in operations:
        params = {name: value for name, value in ids.items()
                  if any(p.name == name for p in operation.path_parameters)}
        query = seeded_queries.get(operation.label)
        runs = [(GenerationMode.POSITIVE, None, None), (GenerationMode.NEGATIVE, None, None)]
        if params or query:  # the seeded rows: the answers with bodies
            runs.append((GenerationMode.POSITIVE, params or None, query))
        for mode, path_parameters, query in runs:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, query=query)

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def check(case):
                # A DELETE of the token revokes it: every case gets a token of its own.
                _tid, secret = make_token(user)
                response = case.call_and_validate(headers=bearer(secret), checks=CHECKS)
                answered.add((case.operation.label, response.status_code))

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid: no parameter and no body (GET /facilities), or a path parameter any
                # string fits (GET /indicators/{code}). The positive runs cover the operation.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collected: every operation is tried
                failures.append(f"{operation.label} {mode.value} {path_parameters} {query}: {error}")
    assert not failures, "\n\n".join(failures)
    # The seeded rows were reached: the answers whose bodies carry decimals, nullable names and bookings.
    assert {("GET /api/v1/indicators/{code}", 200), ("GET /api/v1/utilization", 200),
            ("GET /api/v1/organizations/{org_id}", 200), ("GET /api/v1/events/{event_id}", 200),
            ("POST /api/v1/bookings/{booking_id}/cancel", 200)} <= answered, sorted(answered)
