"""The booking request's cost: statements per POST /api/v1/bookings, no read-back after the commit, the indexes the
ban and monthly-limit checks rely on, and a response equal to what is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.bookings import services
from app.bookings.models import PENALISED_WHERE
from app.core.time import today_tokyo
from app.extensions import db
from tests.api.factories import bearer, make_token
from tests.facilities.factories import make_center
from tests.factories import make_user, recorded_statements

# Measured: 15 on SQLite and PostgreSQL (token and its last use, rooms with the facility, ban, slots, closures and
# lotteries, monthly count, fees, the inserts, rollup coverage). Before: 18 (the room and its facility's rooms apart,
# and the API read the booking and its items back after the commit).
MAX_STATEMENTS = 16


def _post_counted(app, client, body, secret):
    with recorded_statements(app) as statements:
        response = client.post("/api/v1/bookings", json=body, headers=bearer(secret))
    # Not counted: SQLite's BEGIN IMMEDIATE, and the tests' delivery of the queued mail after the request
    # (MAIL_SEND_AFTER_REQUEST; in production a job sends it).
    return response, [s for s in statements if not s.startswith("BEGIN")
                      and not s.startswith(("SELECT outbox_messages.", "UPDATE outbox_messages"))]


def _body(c, days_ahead=12, slot="evening"):
    return {"room_id": c.hall_a_id, "day": (today_tokyo() + timedelta(days=days_ahead)).isoformat(),
            "units": [f"s{c.slot_ids[slot]}"], "purpose": "API予約", "attendees": 10}


def test_post_booking_statement_count_is_bounded_and_nothing_is_read_back(app, client):
    c = make_center()
    user = make_user()
    _, secret = make_token(user)
    client.post("/api/v1/bookings", json=_body(c, slot="morning"), headers=bearer(secret))  # warm caches
    response, sql = _post_counted(app, client, _body(c), secret)
    assert response.status_code == 201, response.get_json()
    assert len(sql) <= MAX_STATEMENTS, "\n".join(sql)
    inserted = next(i for i, s in enumerate(sql) if s.startswith("INSERT INTO bookings "))
    read_back = [s for s in sql[inserted:] if s.startswith("SELECT") and ("FROM bookings" in s
                                                                           or "FROM booking_items" in s)]
    assert read_back == []


def test_post_response_equals_the_stored_booking(client):
    c = make_center()
    user = make_user()
    _, secret = make_token(user)
    created = client.post("/api/v1/bookings", json=_body(c), headers=bearer(secret))
    assert created.status_code == 201
    body = created.get_json()
    [stored] = client.get("/api/v1/bookings", headers=bearer(secret)).get_json()
    assert body == stored
    assert set(body) == {"id", "facility_id", "room_id", "organization_id", "day", "state", "category", "purpose",
                         "attendees", "fee_gross_yen", "fee_reduction_yen", "fee_net_yen", "hold_until", "created_at",
                         "cancelled_at", "late_cancellation", "items"}
    assert (body["state"], body["fee_net_yen"], body["late_cancellation"], body["cancelled_at"]) == (
        "tentative", 1000, False, None)
    assert body["hold_until"] is not None and body["room_id"] == c.hall_a_id
    assert [set(i) for i in body["items"]] == [{"label", "start", "end", "fee_yen"}]


def test_the_ban_index_repeats_the_ban_query_where():
    """SQLite uses a partial index only when the query has its WHERE term: the two must render alike."""
    for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        rendered = str(services._penalised().compile(dialect=dialect)).replace("bookings.", "")
        assert rendered == PENALISED_WHERE[name]


def _plan(statement, params) -> str:
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}) if not params else
              statement.params(**params).compile(db.engine, compile_kwargs={"literal_binds": True}))
    return " ".join(str(row[-1]) for row in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))


def test_sqlite_plans_use_the_booking_path_indexes(app_ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's statistics; PostgreSQL's planner found the user's rows by index without them")
    # Statistics like a ward's: many bookings of no user (desk, lottery imports) count as one user_id value.
    db.session.execute(sa.text("ANALYZE"))
    db.session.execute(sa.text("DELETE FROM sqlite_stat1 WHERE tbl = 'bookings'"))
    db.session.execute(sa.text(
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('bookings', 'ix_bookings_user_id', '20000 20000'), "
        "('bookings', 'ix_bookings_day', '20000 30'), ('bookings', 'ix_bookings_penalised_user_id', '1 1'), "
        "('bookings', 'ix_bookings_user_id_day', '20000 20 2')"))
    db.session.execute(sa.text("ANALYZE sqlite_schema"))  # reload the statistics
    assert "ix_bookings_penalised_user_id" in _plan(services._any_penalty_statement(), {"user_id": 7})
    first = today_tokyo().replace(day=1)
    count = sa.select(sa.func.count()).where(services.Booking.user_id == 7, services.Booking.day >= first,
                                             services.Booking.day < first + timedelta(days=31))
    assert "ix_bookings_user_id_day" in _plan(count, None)
    db.session.rollback()
