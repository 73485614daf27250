"""Participant sums of the plan's indicators per fiscal year, from approved participation reports, and their
provenance (which occurrences count in which indicator)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.core.time import utcnow
from app.events.models import (
    EventOccurrence,
)
from app.extensions import db
from app.indicators.models import Indicator, SourceKind
from app.indicators.sources import compute_year, preview_rules, rule_matches_series, saved_rules
from app.participation.models import (
    ParticipationReport,
)

# ---------------------------------------------------------------- indicators


# The mapping of events to the plan's indicators is the indicators domain's: staff-editable rules per indicator
# (app.indicators.sources). These two read it for the events staff page.


@dataclass(frozen=True)
class ParticipantSum:
    """A computed participant sum for one indicator and fiscal year, with its reporting completeness."""

    indicator_code: str
    fiscal_year: int
    participants: int
    ended_occurrences: int
    approved_reports: int

    @property
    def completeness(self) -> float | None:
        """Share of ended mapped occurrences with an approved report (None when none ended)."""
        return self.approved_reports / self.ended_occurrences if self.ended_occurrences else None


def _participant_indicators():
    from sqlalchemy.orm import selectinload


    return db.session.scalars(sa.select(Indicator).where(Indicator.source_kind == SourceKind.PARTICIPANT_SUM)
                              .options(selectinload(Indicator.rules)).order_by(Indicator.code)).all()


def participant_sums(fiscal_year: int, *, now: datetime | None = None) -> dict[str, ParticipantSum]:
    """Per participant-sum indicator: approved participants of its mapped occurrences starting in FISCAL_YEAR.

    Computed by app.indicators.sources.compute_year (the indicators' mapping rules): an occurrence counts in
    the fiscal year it starts (Asia/Tokyo), only its latest revision counts, and only when approved.
    """
    indicators = _participant_indicators()
    values = compute_year(fiscal_year, indicators, now=now or utcnow())
    result = {}
    for indicator in indicators:
        value = values.get(indicator.id)
        result[indicator.code] = ParticipantSum(
            indicator.code, fiscal_year, int(value.value or 0) if value else 0,
            value.ended or 0 if value else 0, value.reported or 0 if value else 0)
    return result


def mapped_occurrences(fiscal_year: int, *, now: datetime | None = None, limit: int = 1000
                       ) -> list[tuple[EventOccurrence, ParticipationReport | None, list[str]]]:
    """Provenance of participant_sums: the ended mapped occurrences of FISCAL_YEAR, their latest report and the
    codes of the indicators they count in."""
    indicators = _participant_indicators()
    rules = {indicator.code: saved_rules(indicator) for indicator in indicators}
    every = [rule for group in rules.values() for rule in group]
    if not indicators:
        return []
    _value, rows = preview_rules(indicators[0], every, fiscal_year, now=now, limit=limit)
    return [(occurrence, report, [code for code, group in rules.items()
                                  if any(rule_matches_series(rule, occurrence.series) for rule in group)])
            for occurrence, report in rows]
