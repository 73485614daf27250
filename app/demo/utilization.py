"""Demo: build the utilization rollup over the demo bookings, as the daily `utilization.extend-rollup` job does in
production, so the dashboards and the facility indicators read it from the first request."""

from __future__ import annotations

from app.demo.loaders import ORDER_INDICATORS, DemoReport, demo_loader
from app.utilization import rollup


@demo_loader("utilization_rollup", order=ORDER_INDICATORS + 50)
def load_utilization_rollup(session, report: DemoReport) -> None:
    """Build the rollup when it was never built; otherwise grow it to the default range (new months only)."""
    if rollup.coverage(session) is None:
        report.add("utilization rollup rows", rollup.rebuild(session)[2])
        return
    written = rollup.extend(session)
    if written:
        report.add("utilization rollup rows", written)
    else:
        report.exists("utilization rollup months")
