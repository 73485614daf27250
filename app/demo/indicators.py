"""Demo loader: the plan's indicator catalog (the same data as `flask indicators load`)."""

from __future__ import annotations

from app.demo.loaders import ORDER_INDICATORS, demo_loader
from app.indicators import services


@demo_loader("indicators", order=ORDER_INDICATORS)
def load_indicators(session, report) -> None:
    """Upsert the catalog; counts indicators added and already there."""
    result = services.load_catalog()
    report.add("indicators", len(result.added))
    report.exists("indicators", len(result.updated) + len(result.unchanged))
