"""The events benchmark: its generator fills a small database the public pages and open data can serve, and the
ICS comparison prints identical outputs and a ratio."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.events.models import EventOccurrence, EventSeries, Registration
from app.extensions import db
from bench.events_ics import main
from bench.scenarios import events as scenario


def test_generator_fills_a_database_the_routes_serve(app, client):
    with app.app_context():
        scenario.generate(app, 250)
        db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(EventOccurrence))
        registrations = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
        series = db.session.scalar(sa.select(sa.func.count()).select_from(EventSeries))
        routes = scenario.routes(app)
    assert (count, registrations, series) == (250, 1000, 10)
    assert len(routes) == 3
    for route in routes:
        response = client.get(route.path)
        assert response.status_code == route.expect, route.path
    # The ward-wide feed holds a week back to 90 days ahead: about a fifth of the generated year and more.
    assert client.get("/events/feed.ics").data.count(b"BEGIN:VEVENT") > 25
    assert client.get("/opendata/events.csv").data.count(b"\r\n") > 100


def test_ics_comparison_prints_identical_outputs_and_ratio(capsys):
    status = main(["--events", "100", "--repeat", "1"])
    out = capsys.readouterr().out
    assert status in (0, 1)  # 1 = the goal missed; the report says which
    assert "outputs byte-identical: True" in out
    assert re.search(r"ratio app / icalendar: [\d.]+x \(goal <= 1.5x\): (met|MISSED)", out)
