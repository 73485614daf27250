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
from app.core.errors import DomainError
from app.core.time import fiscal_year as fiscal_year_of
from app.core.time import today_tokyo, utcnow
from app.extensions import db
from app.indicators.catalog import IndicatorSpec, read_catalog
from app.indicators.models import Indicator, ManualValue, PlanValue

FIRST_FISCAL_YEAR = 2019  # the plan's earliest baseline (令和元年度)

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
    db.session.flush()
    return result


class InvalidManualValue(DomainError):
    """A staff-entered value is not acceptable; `field` names the form field at fault."""

    status_code = 422

    def __init__(self, message, field: str):
        super().__init__(message)
        self.field = field


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
