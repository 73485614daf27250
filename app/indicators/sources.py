"""Computed indicator values: what Tsudoi's own data says per fiscal year, with completeness and provenance.

Sources (Indicator.source_kind):
- participant_sum: approved participants (latest report revision) of ended, held occurrences
  (app.events.models.held_clause: also those an event held before it was cancelled) of events matched by
  the indicator's mapping rules (category, organizing group's kind, an explicit event, or the mark ward staff put
  on an event: 区と連携・協働 / 区が支援); an occurrence matched by several rules of one indicator counts once, and
  once in each indicator it is mapped to.
- partner_organizations: distinct co-organizing groups (EventPartner) of matched events with an ended
  occurrence in the year; an indicator printed as 延べ counts each (event, group) pair.
- booking_utilization / booking_count: app.utilization.figures (center_rate, koryu_count: the one function per
  figure that the dashboards, exports and API call too): the 区民センター, and the rooms the 「交流の間」
  indicator's room rule names; days of the year up to today, what is booked later apart (`ahead`).
- registry_count: the organization registry (NPO活動助成制度 uses per year; 商店会 counts as registered now,
  so only the current year is computed; earlier years come from frozen snapshots).
An occurrence counts in the fiscal year it starts (Asia/Tokyo). Reporting completeness = approved reports
÷ ended matched occurrences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core.time import FiscalYear, fiscal_year, to_tokyo, utcnow
from app.events.models import (
    EventCategory,
    EventOccurrence,
    EventPartner,
    EventSeries,
    WardRelation,
    held_clause,
)
from app.extensions import db
from app.facilities.models import Facility
from app.indicators.models import Indicator, MappingRule, MatchKind, SourceKind
from app.organizations.models import NpoGrantUse, Organization, OrganizationKind, VerificationStatus
from app.participation.models import ParticipationReport, ReportStatus
from app.utilization import figures
from app.utilization.compute import booking_stats, compute_utilization

EVENT_KINDS = (SourceKind.PARTICIPANT_SUM, SourceKind.PARTNER_ORGANIZATIONS)
COMPUTED_KINDS = (*EVENT_KINDS, SourceKind.BOOKING_UTILIZATION, SourceKind.BOOKING_COUNT, SourceKind.REGISTRY_COUNT)
# 区民センター利用率 and 「交流の間」利用件数: app.utilization.figures says which facilities and rooms count.
BOOKING_KINDS = (SourceKind.BOOKING_UTILIZATION, SourceKind.BOOKING_COUNT)
# Registry metrics by indicator code (codes of app/indicators/data/indicators.csv).
REGISTRY_METRICS = {
    "P09-01-2": "npo_grants",  # NPO活動助成制度利用団体数: groups using the grant in the year
    "P12-02-1": "federation_members",  # 港区商店街連合会に加入している商店会数
    "P12-02-2": "member_shops",  # 商店会に加入している店舗数: sum of the verified 商店会' shop counts
}


REGISTRY_FORMULAS = {
    "npo_grants": _l("NPO活動助成制度利用団体数 = その年度に助成制度を利用したと登録された団体の数"),
    "federation_members": _l("商店会数 = 確認済みの商店会のうち、港区商店街連合会に加入している数(今の登録情報)"),
    "member_shops": _l(
        "店舗数 = 確認済みの商店会が登録した店舗数の合計(今の登録情報)。報告率 = 店舗数を登録した商店会の割合"
    ),
}


def formula_of(indicator: Indicator):
    """How a computed indicator's value is calculated, to show next to the number (None for manual ones)."""
    if indicator.source_kind == SourceKind.BOOKING_UTILIZATION:
        return figures.DEFINITIONS["rate"]
    if indicator.source_kind == SourceKind.BOOKING_COUNT:
        return figures.DEFINITIONS["count"]
    if indicator.source_kind == SourceKind.REGISTRY_COUNT:
        return REGISTRY_FORMULAS.get(REGISTRY_METRICS.get(indicator.code, ""))
    if indicator.source_kind == SourceKind.PARTNER_ORGANIZATIONS:
        if is_cumulative(indicator):
            return _l("連携数(延べ) = 対象のイベントと共催団体の組み合わせの数(その年度に開催回が終わったイベント)")
        return _l("団体数 = 対象のイベントの共催団体の数(同じ団体は1回だけ数えます)")
    if indicator.source_kind == SourceKind.PARTICIPANT_SUM:
        return _l("参加者数 = 対象のイベントの終わった開催回のうち、区が承認した参加報告(最新の版)の参加者数の合計")
    return None


@dataclass(frozen=True)
class Rule:
    """A mapping rule as plain data (saved or proposed in a preview)."""

    match: MatchKind
    value: str


@dataclass
class YearValue:
    """An indicator's value for one fiscal year and where it came from."""

    fiscal_year: int
    value: Decimal | None
    origin: str  # computed, manual, snapshot
    ended: int | None = None  # completeness denominator (None: completeness does not apply)
    reported: int | None = None
    partial: bool = False  # the year is not over: a year-to-date value
    frozen: bool = False
    source_document: str | None = None
    source_date: date | None = None
    details: dict = field(default_factory=dict)
    through: date | None = None  # booking figures of a year not over: the last day counted
    ahead: Decimal | None = None  # booking figures: already booked for the rest of the year (apart from value)

    @property
    def completeness(self) -> Decimal | None:
        """Share of ended matched occurrences with an approved report; None when not applicable or none ended."""
        if self.ended is None or self.reported is None or self.ended == 0:
            return None
        return (Decimal(self.reported) / Decimal(self.ended)).quantize(Decimal("0.0001")).normalize()


# ---------------------------------------------------------------- events


def _event_scope(year: int, now: datetime):
    """Ended, held occurrences starting in fiscal YEAR (an occurrence counts where it starts)."""
    fy = FiscalYear(year)
    return (
        EventOccurrence.starts_at >= fy.start_at, EventOccurrence.starts_at < fy.end_at,
        EventOccurrence.ends_at <= now, held_clause(),
    )


def _approved():
    return sa.and_(ParticipationReport.id.is_not(None), ParticipationReport.status == ReportStatus.APPROVED)


def _latest_report_join():
    return sa.and_(ParticipationReport.occurrence_id == EventOccurrence.id, ParticipationReport.is_latest.is_(True))


def _series_matches(indicator_ids: Sequence[int], kinds: Iterable[MatchKind]):
    """(indicator_id, series_id) of every saved rule's matching event series, each pair once. Matching is per
    series (few rows), so an occurrence is counted once per indicator however many of its rules match it."""
    rule = sa.orm.aliased(MappingRule)
    cols = (rule.indicator_id.label("indicator_id"), EventSeries.id.label("series_id"))
    scoped = rule.indicator_id.in_(list(indicator_ids))
    selects = {
        MatchKind.CATEGORY: sa.select(*cols).join(
            rule, sa.and_(rule.match == MatchKind.CATEGORY, rule.value == EventSeries.category)),
        MatchKind.ORGANIZATION_KIND: sa.select(*cols).join(
            Organization, Organization.id == EventSeries.organization_id).join(
            rule, sa.and_(rule.match == MatchKind.ORGANIZATION_KIND, rule.value == Organization.kind)),
        MatchKind.SERIES: sa.select(*cols).join(
            rule, sa.and_(rule.match == MatchKind.SERIES, EventSeries.id == sa.cast(rule.value, sa.Integer))),
        MatchKind.WARD_RELATION: sa.select(*cols).join(
            rule, sa.and_(rule.match == MatchKind.WARD_RELATION, rule.value == EventSeries.ward_relation)),
    }
    parts = [selects[kind].where(scoped) for kind in MatchKind if kind in set(kinds)]
    return (sa.union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery("matches")


def _series_totals(year: int, now: datetime):
    """Per series: approved participants, ended occurrences and approved reports of the year, in one pass over
    the year's occurrences (the same work as a raw GROUP BY)."""
    approved = _approved()
    return (
        sa.select(
            EventOccurrence.series_id.label("series_id"),
            sa.func.coalesce(sa.func.sum(sa.case((approved, ParticipationReport.total), else_=0)), 0)
            .label("participants"),
            sa.func.count(EventOccurrence.id).label("ended"),
            sa.func.count(sa.case((approved, EventOccurrence.id))).label("reported"),
        )
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .outerjoin(ParticipationReport, _latest_report_join())
        .where(*_event_scope(year, now))
        .group_by(EventOccurrence.series_id)
        .subquery("per_series")
    )


def _rules_clause(rules: Iterable[Rule]):
    """A WHERE clause matching any of RULES (for previews of unsaved rules); needs Organization joined."""
    rules = list(rules)
    categories = [EventCategory(r.value) for r in rules if r.match == MatchKind.CATEGORY]
    kinds = [OrganizationKind(r.value) for r in rules if r.match == MatchKind.ORGANIZATION_KIND]
    series = [int(r.value) for r in rules if r.match == MatchKind.SERIES and r.value.isdigit()]
    relations = [WardRelation(r.value) for r in rules if r.match == MatchKind.WARD_RELATION]
    clauses = []
    if categories:
        clauses.append(EventSeries.category.in_(categories))
    if kinds:
        clauses.append(Organization.kind.in_(kinds))
    if series:
        clauses.append(EventSeries.id.in_(series))
    if relations:
        clauses.append(EventSeries.ward_relation.in_(relations))
    return sa.or_(*clauses) if clauses else sa.false()


def _event_values(year: int, now: datetime, indicators: Sequence[Indicator]) -> dict[int, YearValue]:
    """Participant sums and partner counts of every event-based indicator in two SQL statements."""
    ids = [i.id for i in indicators]
    if not ids:
        return {}
    partial = fiscal_year(now) <= year
    kinds = {rule.match for indicator in indicators for rule in indicator.rules}
    if not kinds:  # no rules at all: nothing matches
        return {i.id: YearValue(year, None, "computed", ended=0, reported=0, partial=partial) for i in indicators}
    matches = _series_matches(ids, kinds)
    totals = _series_totals(year, now)
    rows = db.session.execute(
        sa.select(matches.c.indicator_id, sa.func.sum(totals.c.participants), sa.func.sum(totals.c.ended),
                  sa.func.sum(totals.c.reported))
        .select_from(matches).join(totals, totals.c.series_id == matches.c.series_id)
        .group_by(matches.c.indicator_id)
    ).all()
    sums = {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in rows}
    partners: dict[int, tuple[int, int]] = {}
    partner_indicators = [i for i in indicators if i.source_kind == SourceKind.PARTNER_ORGANIZATIONS and i.rules]
    if partner_indicators:
        partner_matches = _series_matches([i.id for i in partner_indicators],
                                          {rule.match for i in partner_indicators for rule in i.rules})
        held = (sa.select(EventOccurrence.id).join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                .where(EventOccurrence.series_id == partner_matches.c.series_id, *_event_scope(year, now)))
        pairs = (sa.select(partner_matches.c.indicator_id, partner_matches.c.series_id, EventPartner.organization_id)
                 .join(EventPartner, EventPartner.series_id == partner_matches.c.series_id)
                 .where(held.exists()).distinct().subquery())
        for indicator_id, pair_count, org_count in db.session.execute(
            sa.select(pairs.c.indicator_id, sa.func.count(), sa.func.count(sa.distinct(pairs.c.organization_id)))
            .group_by(pairs.c.indicator_id)
        ):
            partners[indicator_id] = (int(pair_count), int(org_count))
    result = {}
    for indicator in indicators:
        participants, ended, reported = sums.get(indicator.id, (0, 0, 0))
        if indicator.source_kind == SourceKind.PARTNER_ORGANIZATIONS:
            pair_count, org_count = partners.get(indicator.id, (0, 0))
            number = pair_count if is_cumulative(indicator) else org_count
        else:
            number = participants
        # No ended matched occurrence: nothing to compute from (not a zero).
        value = Decimal(number) if ended else None
        result[indicator.id] = YearValue(year, value, "computed", ended=ended, reported=reported, partial=partial)
    return result


def is_cumulative(indicator: Indicator) -> bool:
    """True for a partner count printed as 延べ (each event and partner pair counts)."""
    return "延べ" in indicator.name


PREVIEW_LIMIT = 200  # occurrences listed by a rules preview (the value counts them all)
PROVENANCE_LIMIT = 500  # occurrences or organizations listed on an indicator's page


def preview_rules(
    indicator: Indicator, rules: Iterable[Rule], year: int, *, now: datetime | None = None, limit: int | None = None,
) -> tuple[YearValue, list[tuple[EventOccurrence, ParticipationReport | None]]]:
    """What INDICATOR's value for YEAR would be under RULES (saved or not), and the first LIMIT (PREVIEW_LIMIT)
    matching occurrences in time order with their series and organizing group loaded (value.ended counts all)."""
    now = now or utcnow()
    limit = PREVIEW_LIMIT if limit is None else limit
    clause = _rules_clause(rules)

    def scoped(stmt):
        return (stmt.join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                .join(Organization, Organization.id == EventSeries.organization_id)
                .where(*_event_scope(year, now), clause))

    approved = _approved()
    total, ended, reported = db.session.execute(scoped(
        sa.select(sa.func.coalesce(sa.func.sum(sa.case((approved, ParticipationReport.total), else_=0)), 0),
                  sa.func.count(EventOccurrence.id), sa.func.count(sa.case((approved, EventOccurrence.id))))
        .select_from(EventOccurrence).outerjoin(ParticipationReport, _latest_report_join())
    )).one()
    number = int(total)
    if indicator.source_kind == SourceKind.PARTNER_ORGANIZATIONS:
        pairs = scoped(sa.select(EventSeries.id, EventPartner.organization_id).select_from(EventOccurrence)
                       .join(EventPartner, EventPartner.series_id == EventOccurrence.series_id)).distinct().subquery()
        pair_count, org_count = db.session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(pairs.c.organization_id)))).one()
        number = int(pair_count) if is_cumulative(indicator) else int(org_count)
    value = YearValue(year, Decimal(number) if ended else None, "computed", ended=int(ended),
                      reported=int(reported), partial=fiscal_year(now) <= year)
    rows = db.session.execute(scoped(
        sa.select(EventOccurrence, ParticipationReport).select_from(EventOccurrence)
        .outerjoin(ParticipationReport, _latest_report_join())
    ).options(sa.orm.contains_eager(EventOccurrence.series).contains_eager(EventSeries.organization))
        .order_by(EventOccurrence.starts_at, EventOccurrence.id).limit(limit)).all()
    return value, [(occurrence, report) for occurrence, report in rows]


COUNTED_EVENTS_LIMIT = 300  # events listed beside an event-based indicator's value


def counted_events(indicator: Indicator, year: int, *, now: datetime | None = None,
                   limit: int = COUNTED_EVENTS_LIMIT) -> list[tuple[EventSeries, int, int]]:
    """The events INDICATOR counts in YEAR under its saved rules: (series, ended held occurrences, approved
    participants), most participants first, the first LIMIT; organizations loaded. What the value adds up."""
    now = now or utcnow()
    approved = _approved()
    participants = sa.func.coalesce(sa.func.sum(sa.case((approved, ParticipationReport.total), else_=0)), 0)
    rows = db.session.execute(
        sa.select(EventSeries.id, sa.func.count(EventOccurrence.id), participants).select_from(EventOccurrence)
        .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
        .join(Organization, Organization.id == EventSeries.organization_id)
        .outerjoin(ParticipationReport, _latest_report_join())
        .where(*_event_scope(year, now), _rules_clause(saved_rules(indicator)))
        .group_by(EventSeries.id).order_by(participants.desc(), EventSeries.id).limit(limit)
    ).all()
    series = {s.id: s for s in db.session.scalars(
        sa.select(EventSeries).options(sa.orm.joinedload(EventSeries.organization))
        .where(EventSeries.id.in_([row[0] for row in rows])))} if rows else {}
    return [(series[series_id], int(count), int(total)) for series_id, count, total in rows]


def rule_matches_series(rule: Rule, series: EventSeries) -> bool:
    """Whether RULE matches SERIES (for labelling rows already loaded; the sums are computed in SQL)."""
    if rule.match == MatchKind.CATEGORY:
        return series.category == rule.value
    if rule.match == MatchKind.ORGANIZATION_KIND:
        return series.organization.kind == rule.value
    if rule.match == MatchKind.WARD_RELATION:
        return series.ward_relation is not None and series.ward_relation == rule.value
    return str(series.id) == rule.value


def codes_counting(series: EventSeries, rules: Sequence[tuple[str, Rule]]) -> list[str]:
    """The codes of the indicators whose saved rule (code, rule) pairs RULES take SERIES: what an approved report
    of one of its occurrences feeds."""
    return sorted({code for code, rule in rules if rule_matches_series(rule, series)})


def all_saved_rules() -> list[tuple[str, Rule]]:
    """Every saved mapping rule with its indicator's code, in one query."""
    return [(code, Rule(match, value)) for code, match, value in db.session.execute(
        sa.select(Indicator.code, MappingRule.match, MappingRule.value)
        .join(MappingRule, MappingRule.indicator_id == Indicator.id).order_by(Indicator.code, MappingRule.id))]


def saved_rules(indicator: Indicator) -> list[Rule]:
    """The indicator's saved rules as plain data."""
    return [Rule(rule.match, rule.value) for rule in indicator.rules]


# ---------------------------------------------------------------- bookings and registry


def _year_days(year: int, now: datetime):
    """[first day, end day) of the year, ending after today for the current year (a year-to-date value)."""
    fy = FiscalYear(year)
    today = to_tokyo(now).date()
    return fy.first_day, min(fy.end_day, today + timedelta(days=1))


def _booking_values(indicators: Sequence[Indicator], year: int, now: datetime) -> dict[int, YearValue]:
    """The booking indicators of YEAR from THE functions of app.utilization.figures (what the dashboard card,
    the exports and the API show too): the value so far, and what is booked ahead apart."""
    result = {}
    today = to_tokyo(now).date()
    for indicator in indicators:
        figure = (figures.center_rate if indicator.source_kind == SourceKind.BOOKING_UTILIZATION
                  else figures.koryu_count)(year, today=today)
        result[indicator.id] = YearValue(year, figure.value, "computed", partial=figure.partial,
                                         through=figure.through, ahead=figure.ahead)
    return result


def _verified_shopping_streets():
    return (Organization.kind == OrganizationKind.SHOPPING_STREET, Organization.status == VerificationStatus.VERIFIED)


def _registry_values(indicators: Sequence[Indicator], year: int, now: datetime, *,
                     registry_now: bool = False) -> dict[int, YearValue]:
    """Every registry indicator of YEAR: one statement for the NPO grants, one for the 商店会 (shared)."""
    current = year if registry_now else fiscal_year(now)
    partial = current <= year
    metrics = {i.id: REGISTRY_METRICS.get(i.code) for i in indicators}
    result = {}
    streets_row = None
    for indicator in indicators:
        metric = metrics[indicator.id]
        if metric == "npo_grants":
            if year > current:
                result[indicator.id] = YearValue(year, None, "computed", partial=True)
                continue
            recorded, count = db.session.execute(sa.select(
                sa.func.count(), sa.func.count(sa.case((NpoGrantUse.uses_grant.is_(True), NpoGrantUse.id))),
            ).where(NpoGrantUse.fiscal_year == year)).one()
            # No group recorded for the year at all: not known yet (not a zero).
            result[indicator.id] = YearValue(year, Decimal(count) if recorded else None, "computed",
                                             partial=partial)
            continue
        if metric is None or year != current:
            # The registry holds the groups as they are now: only the current year can be computed.
            result[indicator.id] = YearValue(year, None, "computed", partial=partial)
            continue
        if streets_row is None:
            streets_row = db.session.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count(Organization.in_shotengai_federation),
                    sa.func.count(sa.case((Organization.in_shotengai_federation.is_(True), Organization.id))),
                    sa.func.coalesce(sa.func.sum(Organization.shop_count), 0),
                    sa.func.count(Organization.shop_count),
                ).where(*_verified_shopping_streets())
            ).one()
        streets, answered, members, shops, with_shops = streets_row
        if not streets:  # no verified 商店会 registered: nothing to count from
            result[indicator.id] = YearValue(year, None, "computed", ended=0, reported=0, partial=partial)
        elif metric == "federation_members":
            result[indicator.id] = YearValue(year, Decimal(members), "computed", ended=int(streets),
                                             reported=int(answered), partial=partial)
        else:
            result[indicator.id] = YearValue(year, Decimal(int(shops)), "computed", ended=int(streets),
                                             reported=int(with_shops), partial=partial)
    return result


# ---------------------------------------------------------------- one fiscal year, every indicator


def compute_year(year: int, indicators: Sequence[Indicator], *, now: datetime | None = None,
                 registry_now: bool = False) -> dict[int, YearValue]:
    """Live computed values of the computed INDICATORS for YEAR (by indicator id); manual ones are skipped.

    A fixed number of SQL statements whatever the data: two for every event-based indicator together, one
    utilization and one booking count for the booking indicators together, one or two for the registry ones.
    REGISTRY_NOW: take the registry as it is now as YEAR's value (when a closed year is frozen).
    """
    now = now or utcnow()
    if year > fiscal_year(now):
        return {}
    first = figures.first_fiscal_year()
    if first is not None and year < first:  # before Tsudoi was used: every computed value is unknown
        return {i.id: YearValue(year, None, "computed") for i in indicators if i.source_kind in COMPUTED_KINDS}
    result = _event_values(year, now, [i for i in indicators if i.source_kind in EVENT_KINDS])
    result.update(_booking_values([i for i in indicators if i.source_kind in BOOKING_KINDS], year, now))
    result.update(_registry_values([i for i in indicators if i.source_kind == SourceKind.REGISTRY_COUNT], year,
                                   now, registry_now=registry_now))
    return result


# ---------------------------------------------------------------- breakdowns and provenance (one indicator)


def _month_key(expr):
    """YYYYMM of an instant in Asia/Tokyo (no daylight saving: UTC+9 all year)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.cast(sa.func.strftime("%Y%m", expr, "+9 hours"), sa.Integer)
    return sa.cast(sa.func.to_char(sa.func.timezone("Asia/Tokyo", expr), "YYYYMM"), sa.Integer)


def breakdowns(indicator: Indicator, year: int, *, now: datetime | None = None) -> dict[str, list]:
    """{"district": [[district, value], ...], "month": [[yyyymm, value], ...]} of a computed indicator's year."""
    now = now or utcnow()
    kind = indicator.source_kind
    if kind in EVENT_KINDS:
        clause = _rules_clause(saved_rules(indicator))
        approved = _approved()
        if kind == SourceKind.PARTICIPANT_SUM:
            measure = sa.func.coalesce(sa.func.sum(sa.case((approved, ParticipationReport.total), else_=0)), 0)
        else:
            measure = sa.func.count(sa.distinct(EventPartner.organization_id))
        out = {}
        for name, key in (("district", EventSeries.district), ("month", _month_key(EventOccurrence.starts_at))):
            stmt = (sa.select(key, measure).select_from(EventOccurrence)
                    .join(EventSeries, EventSeries.id == EventOccurrence.series_id)
                    .join(Organization, Organization.id == EventSeries.organization_id)
                    .where(*_event_scope(year, now), clause).group_by(key).order_by(key))
            if kind == SourceKind.PARTICIPANT_SUM:
                stmt = stmt.outerjoin(ParticipationReport, _latest_report_join())
            else:
                stmt = stmt.join(EventPartner, EventPartner.series_id == EventSeries.id)
            out[name] = [[str(k), int(v)] for k, v in db.session.execute(stmt)]
        return out
    if kind in BOOKING_KINDS:
        start, end = _year_days(year, now)
        if kind == SourceKind.BOOKING_UTILIZATION:
            ids, rooms = figures.center_facility_ids(), None
        else:
            koryu = figures.koryu_rooms()
            ids, rooms = sorted({room.facility_id for room in koryu}), [room.id for room in koryu]
        value = _booking_values([indicator], year, now)[indicator.id].value
        if not ids or end <= start or value is None:  # unknown years have no breakdown either
            return {"district": [], "month": []}
        districts = dict(db.session.execute(sa.select(Facility.id, Facility.district)
                                            .where(Facility.id.in_(ids))).all())
        if kind == SourceKind.BOOKING_UTILIZATION:
            per_facility = compute_utilization(start=start, end=end, facility_ids=ids, group_by=("facility",))
            grouped: dict[str, list[int]] = {}
            for row in per_facility:
                pair = grouped.setdefault(str(districts[row.key["facility"]]), [0, 0])
                pair[0] += row.booked
                pair[1] += row.bookable
            months = compute_utilization(start=start, end=end, facility_ids=ids, group_by=("month",))
            return {
                "district": [[d, _pct(b, t)] for d, (b, t) in sorted(grouped.items())],
                "month": [[str(row.key["month"]), _pct(row.booked, row.bookable)] for row in months],
            }
        per_facility = booking_stats(start=start, end=end, room_ids=rooms, group_by=("facility",))
        counts: dict[str, int] = {}
        for row in per_facility:
            key = str(districts[row.key["facility"]])
            counts[key] = counts.get(key, 0) + row.bookings
        months = booking_stats(start=start, end=end, room_ids=rooms, group_by=("month",))
        return {"district": sorted([k, v] for k, v in counts.items()),
                "month": [[str(row.key["month"]), row.bookings] for row in months]}
    if kind == SourceKind.REGISTRY_COUNT and year == fiscal_year(now):
        metric = REGISTRY_METRICS.get(indicator.code)
        stmt = _registry_rows_stmt(metric)
        if stmt is None:
            return {"district": [], "month": []}
        measure = (sa.func.coalesce(sa.func.sum(Organization.shop_count), 0) if metric == "member_shops"
                   else sa.func.count(Organization.id))
        rows = db.session.execute(stmt.with_only_columns(Organization.district, measure)
                                  .group_by(Organization.district).order_by(Organization.district))
        return {"district": [[str(d), int(v)] for d, v in rows], "month": []}
    return {"district": [], "month": []}


def _pct(booked: int, bookable: int) -> str | None:
    if not bookable:
        return None
    return str((Decimal(booked) * 100 / Decimal(bookable)).quantize(Decimal("0.1")))


def _registry_rows_stmt(metric: str | None):
    if metric == "npo_grants":
        return None
    stmt = sa.select(Organization).where(*_verified_shopping_streets())
    if metric == "federation_members":
        return stmt.where(Organization.in_shotengai_federation.is_(True))
    if metric == "member_shops":
        return stmt
    return None


def provenance(indicator: Indicator, year: int, *, now: datetime | None = None, limit: int | None = None) -> dict:
    """What a computed value came from: occurrences with their reports (the first LIMIT (PROVENANCE_LIMIT), with
    `total` to say when the list is cut), facilities, or organizations."""
    now = now or utcnow()
    limit = PROVENANCE_LIMIT if limit is None else limit
    kind = indicator.source_kind
    if kind in EVENT_KINDS:
        value, rows = preview_rules(indicator, saved_rules(indicator), year, now=now, limit=limit)
        return {"occurrences": rows, "total": value.ended}
    if kind == SourceKind.BOOKING_COUNT:
        return {"rooms": figures.koryu_rooms()}
    if kind in BOOKING_KINDS:
        ids = figures.center_facility_ids()
        return {"facilities": list(db.session.scalars(sa.select(Facility).where(Facility.id.in_(ids))
                                                      .order_by(Facility.district, Facility.name_ja)))}
    if kind == SourceKind.REGISTRY_COUNT:
        metric = REGISTRY_METRICS.get(indicator.code)
        if metric == "npo_grants":
            stmt = (sa.select(Organization).join(NpoGrantUse, NpoGrantUse.organization_id == Organization.id)
                    .where(NpoGrantUse.fiscal_year == year, NpoGrantUse.uses_grant.is_(True)))
        else:
            stmt = _registry_rows_stmt(metric)
        if stmt is None or (metric != "npo_grants" and year != fiscal_year(now)):
            return {"organizations": []}
        return {"organizations": list(db.session.scalars(stmt.order_by(Organization.district, Organization.name_ja)
                                                         .limit(limit)))}
    return {}
