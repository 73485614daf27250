"""Indicator services: upsert the catalog from the data file, record staff-entered values. Never commit."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from app.core.audit import record_audit
from app.core.time import fiscal_year as fiscal_year_of
from app.core.time import today_tokyo, utcnow
from app.events.models import EventCategory, EventSeries, WardRelation
from app.extensions import db
from app.facilities.models import Room
from app.indicators.catalog import IndicatorSpec, read_catalog
from app.indicators.errors import FreezeError, InvalidManualValue, InvalidRules
from app.indicators.models import (
    FrozenYear,
    Indicator,
    ManualValue,
    MappingRule,
    MatchKind,
    PlanValue,
    Snapshot,
    SourceKind,
)
from app.indicators.sources import EVENT_KINDS, Rule, YearValue, breakdowns, compute_year
from app.organizations.models import OrganizationKind
from app.utilization import figures

FIRST_FISCAL_YEAR = 2019  # the plan's earliest baseline (令和元年度)

# Mapping rules an event-based indicator starts with (staff change them on the indicator's rules page; once
# saved there, loading the catalog no longer touches them). Values are EventCategory values.
DEFAULT_RULES: dict[str, tuple[Rule, ...]] = {
    "P09-02-1": (Rule(MatchKind.CATEGORY, "participation"),),  # 区民参画会議の参加者数
    "P09-02-2": (Rule(MatchKind.CATEGORY, "safety"),),  # 安全で安心なまちづくりに向けた活動参加者数
    "P09-03-2": (Rule(MatchKind.CATEGORY, "know_the_area"),),  # 地域を知る事業の参加者数
    # 地域と連携・協働、支援しているイベントの参加者数: the events ward staff marked 区と連携・協働 or 区が支援
    # (migration 0025 moved databases still on the old starting rule, every 地域活動・交流 event, to these).
    "P09-05-1": (Rule(MatchKind.WARD_RELATION, "collaboration"), Rule(MatchKind.WARD_RELATION, "support")),
    "P11-03-1": (Rule(MatchKind.CATEGORY, "social_business"),),  # ソーシャルビジネスイベントの参加者数
    "P13-03-1": (Rule(MatchKind.CATEGORY, "tourism"),),  # 港区観光ボランティアガイドと連携した観光案内者数
    "P10-03-2": (Rule(MatchKind.CATEGORY, "community"), Rule(MatchKind.CATEGORY, "international")),  # 連携数(延べ)
    "P14-02-1": (Rule(MatchKind.CATEGORY, "culture_arts"),),  # 文化芸術ネットワーク会議の実参加団体数
}

_INDICATOR_FIELDS = (
    "sort_order", "policy", "measure", "measure_title", "name", "footnote_marker", "unit", "direction",
    "direction_basis", "source_kind", "midterm_status", "footnotes", "review_note", "source_line",
)
_PLAN_VALUE_FIELDS = ("fiscal_year", "year_label", "printed", "value", "is_estimate")


@dataclass
class LoadResult:
    """Codes of the indicators the load added, changed and found unchanged."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _apply(obj, spec, names) -> bool:
    changed = False
    for name in names:
        value = getattr(spec, name)
        current = getattr(obj, name)
        # Decimals compare by value (the database drops trailing zeros; `printed` keeps the exact text).
        if current != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _sync(indicator: Indicator, spec: IndicatorSpec) -> bool:
    changed = _apply(indicator, spec, _INDICATOR_FIELDS)
    existing = {value.kind: value for value in indicator.plan_values}
    for value_spec in spec.plan_values:
        row = existing.pop(value_spec.kind, None)
        if row is None:
            indicator.plan_values.append(PlanValue(kind=value_spec.kind))
            row = indicator.plan_values[-1]
            changed = True
        changed = _apply(row, value_spec, _PLAN_VALUE_FIELDS) or changed
    for stale in existing.values():  # a column removed from the data file
        indicator.plan_values.remove(stale)
        changed = True
    return changed


def load_catalog(specs: list[IndicatorSpec] | None = None) -> LoadResult:
    """Upsert every indicator of the data file by code (idempotent: a second run changes nothing).

    Indicators no longer in the file are kept (staff values may refer to them); manual values are untouched.
    """
    specs = read_catalog() if specs is None else specs
    query = sa.select(Indicator).options(selectinload(Indicator.plan_values))
    by_code = {indicator.code: indicator for indicator in db.session.scalars(query)}
    result = LoadResult()
    for spec in specs:
        indicator = by_code.get(spec.code)
        if indicator is None:
            indicator = Indicator(code=spec.code)
            db.session.add(indicator)
            _sync(indicator, spec)
            result.added.append(spec.code)
        elif _sync(indicator, spec):
            result.updated.append(spec.code)
        else:
            result.unchanged.append(spec.code)
        if indicator.rules_edited_at is None and indicator.source_kind in EVENT_KINDS and not indicator.rules:
            for rule in DEFAULT_RULES.get(spec.code, ()):
                indicator.rules.append(MappingRule(match=rule.match, value=rule.value))
        if (indicator.rules_edited_at is None and indicator.source_kind == SourceKind.BOOKING_COUNT
                and not indicator.rules):
            # 「交流の間」: the rooms of that name in a 伝統文化交流館, until staff first save the room rule.
            for room_id in figures.default_koryu_room_ids():
                indicator.rules.append(MappingRule(match=MatchKind.ROOM, value=str(room_id)))
    db.session.flush()
    return result


def parse_value(text: str | None, unit: str | None) -> Decimal:
    """The Decimal a person typed ('1,234', '４５.２', '45.2%'), checked against the indicator's UNIT."""
    raw = unicodedata.normalize("NFKC", text or "").strip().replace(",", "")
    if unit and raw.endswith(unit):
        raw = raw[: -len(unit)].strip()
    if not raw:
        raise InvalidManualValue(_l("値を入力してください。"), "value")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InvalidManualValue(_l("値は数字で入力してください(例: 45.2)。"), "value")
    if value < 0:
        raise InvalidManualValue(_l("値に負の数は入力できません。"), "value")
    if unit == "%" and value > 100:
        raise InvalidManualValue(_l("割合(%)は0から100までの数で入力してください。"), "value")
    if value.as_tuple().exponent < -4 or abs(value) >= Decimal("1e14"):
        raise InvalidManualValue(_l("値は小数点以下4桁まで、14桁未満の数で入力してください。"), "value")
    return value


def record_manual_value(
    indicator: Indicator,
    *,
    fiscal_year: int,
    value_text: str | None,
    source_document: str | None,
    source_date: date | None,
    note: str | None,
    actor_id: int | None,
) -> ManualValue:
    """Record (or replace) the staff-entered value of INDICATOR for FISCAL_YEAR; the audit log keeps the old one."""
    value = parse_value(value_text, indicator.unit)
    latest_year = fiscal_year_of(today_tokyo())
    if not FIRST_FISCAL_YEAR <= fiscal_year <= latest_year:
        raise InvalidManualValue(
            _l("年度は%(first)s年度から%(last)s年度までで選んでください。", first=FIRST_FISCAL_YEAR, last=latest_year),
            "fiscal_year",
        )
    if is_frozen(fiscal_year):
        raise InvalidManualValue(_l("この年度は確定済みのため、値を変えられません。先に確定を取り消してください。"),
                                 "fiscal_year")
    source_document = (source_document or "").strip()
    if not source_document:
        raise InvalidManualValue(_l("出典(調査名や資料名)を入力してください。"), "source_document")
    if source_date is not None and source_date > today_tokyo():
        raise InvalidManualValue(_l("出典の日付に未来の日付は入力できません。"), "source_date")
    row = db.session.scalar(
        sa.select(ManualValue).where(ManualValue.indicator_id == indicator.id, ManualValue.fiscal_year == fiscal_year)
    )
    previous = None
    if row is None:
        row = ManualValue(indicator_id=indicator.id, fiscal_year=fiscal_year)
        db.session.add(row)
    else:
        previous = {"value": str(row.value), "source_document": row.source_document}
    row.value = value
    row.source_document = source_document
    row.source_date = source_date
    row.note = (note or "").strip() or None
    row.entered_by_id = actor_id
    row.entered_at = utcnow()
    db.session.flush()
    record_audit(
        "indicator.manual_value",
        actor_id=actor_id,
        target_type="indicator",
        target_id=indicator.code,
        details={"fiscal_year": fiscal_year, "value": str(value), "previous": previous},
    )
    return row


# ---------------------------------------------------------------- mapping rules


def parse_room_rules(room_ids: list[str]) -> list[Rule]:
    """Room rules of a booking count from the rules form's checked rooms (ids of existing rooms)."""
    ids = []
    for value in dict.fromkeys(room_ids):
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise InvalidRules(_l("部屋は一覧から選んでください。"))
        ids.append(int(value))
    found = set(db.session.scalars(sa.select(Room.id).where(Room.id.in_(ids)))) if ids else set()
    if set(ids) - found:
        raise InvalidRules(_l("部屋は一覧から選んでください。"))
    return [Rule(MatchKind.ROOM, str(i)) for i in ids]


def parse_rules(*, categories: list[str], organization_kinds: list[str], series_text: str | None,
                ward_relations: list[str] = ()) -> list[Rule]:
    """Rules from the rules form: chosen categories, kinds and ward staff's marks, and event numbers typed as
    '12, 15'."""
    try:
        rules = [Rule(MatchKind.CATEGORY, EventCategory(v).value) for v in dict.fromkeys(categories)]
        rules += [Rule(MatchKind.ORGANIZATION_KIND, OrganizationKind(v).value)
                  for v in dict.fromkeys(organization_kinds)]
        rules += [Rule(MatchKind.WARD_RELATION, WardRelation(v).value) for v in dict.fromkeys(ward_relations)]
    except ValueError:
        raise InvalidRules(_l("分類と団体の種類は一覧から選んでください。")) from None
    text = unicodedata.normalize("NFKC", series_text or "").replace("、", ",").replace(" ", ",")
    numbers = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not (part.isascii() and part.isdigit()) or len(part) > 9:  # some digits pass isdigit(), not int()
            raise InvalidRules(_l("イベント番号は数字をコンマで区切って入力してください(例: 12, 15)。"))
        numbers.append(int(part))
    numbers = list(dict.fromkeys(numbers))
    if numbers:
        found = set(db.session.scalars(sa.select(EventSeries.id).where(EventSeries.id.in_(numbers))))
        missing = [n for n in numbers if n not in found]
        if missing:
            raise InvalidRules(_l("イベント番号 %(numbers)s は見つかりません。",
                                  numbers=", ".join(str(n) for n in missing)))
    rules += [Rule(MatchKind.SERIES, str(n)) for n in numbers]
    return rules


def save_rules(indicator: Indicator, rules: list[Rule], *, actor_id: int | None) -> bool:
    """Replace INDICATOR's mapping rules with RULES (audited with before and after); False when nothing changed."""
    if indicator.source_kind == SourceKind.BOOKING_COUNT:
        if any(rule.match != MatchKind.ROOM for rule in rules):
            raise InvalidRules(_l("この指標は部屋の予約を数えるため、ルールは部屋だけです。"))
    elif indicator.source_kind not in EVENT_KINDS:
        raise InvalidRules(_l("この指標はイベントから計算しないため、対応づけのルールはありません。"))
    elif any(rule.match == MatchKind.ROOM for rule in rules):
        raise InvalidRules(_l("イベントの指標に部屋のルールは使えません。"))
    before = [(r.match.value, r.value) for r in indicator.rules]
    after = [(r.match.value, r.value) for r in rules]
    indicator.rules_edited_at = utcnow()
    if sorted(before) == sorted(after):
        return False
    keep = set(after)
    for row in list(indicator.rules):
        if (row.match.value, row.value) not in keep:
            indicator.rules.remove(row)
    db.session.flush()
    present = {(r.match.value, r.value) for r in indicator.rules}
    for match, value in after:
        if (match, value) not in present:
            indicator.rules.append(MappingRule(match=MatchKind(match), value=value, created_by_id=actor_id))
    db.session.flush()
    record_audit("indicator.rules", actor_id=actor_id, target_type="indicator", target_id=indicator.code,
                 details={"before": before, "after": after})
    return True


# ---------------------------------------------------------------- freezing fiscal years


def frozen_years() -> set[int]:
    """Fiscal years whose values are frozen."""
    return set(db.session.scalars(sa.select(FrozenYear.fiscal_year)))


def is_frozen(year: int) -> bool:
    return db.session.get(FrozenYear, year) is not None


def _check_freezable(year: int, now) -> None:
    if year >= fiscal_year_of(now):
        raise FreezeError(_l("終わった年度だけ確定できます。"))
    if year < FIRST_FISCAL_YEAR:
        raise FreezeError(_l("この年度は確定できません。"))
    if is_frozen(year):
        raise FreezeError(_l("この年度はすでに確定しています。"))


def _values_to_freeze(year: int, now) -> list[tuple[Indicator, YearValue]]:
    """Every indicator (catalog order) with the value freezing YEAR would store: computed from the data now
    (the registry as it is now), or the entered value (None when nothing was entered)."""
    indicators = list(db.session.scalars(
        sa.select(Indicator).options(selectinload(Indicator.manual_values), selectinload(Indicator.rules))
        .order_by(Indicator.policy, Indicator.sort_order, Indicator.code)))
    computed = compute_year(year, [i for i in indicators if i.source_kind.is_computed], now=now, registry_now=True)
    result = []
    for indicator in indicators:
        if indicator.source_kind == SourceKind.MANUAL:
            manual = next((m for m in indicator.manual_values if m.fiscal_year == year), None)
            result.append((indicator, YearValue(year, manual.value if manual else None, "manual",
                                                source_document=manual.source_document if manual else None,
                                                source_date=manual.source_date if manual else None)))
        else:
            result.append((indicator, computed[indicator.id]))
    return result


def preview_freeze(year: int, *, now=None) -> list[tuple[Indicator, YearValue]]:
    """What freezing closed fiscal YEAR would store, for the confirmation page (raises FreezeError as freezing
    would). Writes nothing."""
    now = now or utcnow()
    _check_freezable(year, now)
    return _values_to_freeze(year, now)


def freeze_year(year: int, *, actor_id: int | None, now=None) -> int:
    """Freeze closed fiscal YEAR: snapshot every indicator's value (computed or entered). Returns the count."""
    now = now or utcnow()
    _check_freezable(year, now)
    values = _values_to_freeze(year, now)
    db.session.add(FrozenYear(fiscal_year=year, frozen_at=now, frozen_by_id=actor_id))
    db.session.flush()
    for indicator, item in values:
        if indicator.source_kind == SourceKind.MANUAL:
            db.session.add(Snapshot(
                indicator_id=indicator.id, fiscal_year=year, value=item.value,
                details={"origin": "manual", "source_document": item.source_document},
            ))
            continue
        db.session.add(Snapshot(
            indicator_id=indicator.id, fiscal_year=year, value=item.value, ended=item.ended, reported=item.reported,
            details={"origin": "computed", **breakdowns(indicator, year, now=now)},
        ))
    db.session.flush()
    record_audit("indicator.freeze_year", actor_id=actor_id, target_type="fiscal_year", target_id=year,
                 details={"indicators": len(values)})
    return len(values)


def reopen_year(year: int, *, actor_id: int | None) -> None:
    """Reopen frozen YEAR: its snapshots are dropped and values are computed from live data again (audited)."""
    row = db.session.get(FrozenYear, year)
    if row is None:
        raise FreezeError(_l("この年度は確定していません。"))
    snapshots = db.session.scalars(sa.select(Snapshot).where(Snapshot.fiscal_year == year)).all()
    frozen_values = {s.indicator_id: None if s.value is None else str(s.value) for s in snapshots}
    for snapshot in snapshots:
        db.session.delete(snapshot)
    db.session.delete(row)
    db.session.flush()
    record_audit("indicator.reopen_year", actor_id=actor_id, target_type="fiscal_year", target_id=year,
                 details={"frozen_at": row.frozen_at.isoformat(), "values": frozen_values})
