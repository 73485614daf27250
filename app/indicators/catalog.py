"""Reads the reviewable data file of the plan's indicators (data/indicators.csv) into plain specs."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from app.indicators.models import Direction, PlanValueKind, SourceKind

DATA_DIR = Path(__file__).parent / "data"
CATALOG_PATH = DATA_DIR / "indicators.csv"
PLAN_TEXT_PATH = DATA_DIR / "plan_policies_09_14.txt"  # the plan text the catalog was read from

# A printed cell: a number (thousands separators allowed), then the unit as printed ("15,781 人", "7団体/年").
_PRINTED = re.compile(r"^(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?\s*(?P<unit>.*)$")


class CatalogError(ValueError):
    """The data file is inconsistent (a reviewer's typo): the load stops before writing anything."""


def parse_printed(printed: str, unit: str | None) -> Decimal:
    """The exact Decimal of a printed cell such as '15,781 人' or '24.0%'; its unit must be UNIT."""
    match = _PRINTED.match(printed.strip())
    if not match:
        raise CatalogError(f"not a printed number: {printed!r}")
    if (match["unit"] or None) != (unit or None):
        raise CatalogError(f"unit of {printed!r} is not {unit!r}")
    return Decimal(match["number"].replace(",", "") + (match["fraction"] or ""))


@dataclass(frozen=True)
class PlanValueSpec:
    """One printed column of an indicator's row; printed None = unknown."""

    kind: PlanValueKind
    fiscal_year: int
    year_label: str
    printed: str | None
    value: Decimal | None
    is_estimate: bool


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator as the data file describes it."""

    code: str
    sort_order: int
    policy: int
    measure: str | None
    measure_title: str | None
    name: str
    footnote_marker: str | None
    unit: str | None
    direction: Direction
    direction_basis: str | None
    source_kind: SourceKind
    midterm_status: str | None
    footnotes: str | None
    review_note: str | None
    source_line: int | None
    plan_values: tuple[PlanValueSpec, ...]

    def plan_value(self, kind: PlanValueKind) -> PlanValueSpec | None:
        """The spec of the printed column KIND, if the plan's table has it."""
        return next((v for v in self.plan_values if v.kind == kind), None)


def _opt(text: str) -> str | None:
    text = (text or "").strip()
    return text or None


# (kind, column prefix in the data file)
_COLUMNS = (
    (PlanValueKind.BASELINE, "baseline", "baseline"),
    (PlanValueKind.MIDTERM_TARGET, "midterm", "midterm_target"),
    (PlanValueKind.MIDTERM_ACTUAL, "midterm", "midterm_actual"),
    (PlanValueKind.INTERIM_TARGET, "interim_target", "interim_target"),
    (PlanValueKind.FINAL_TARGET, "final_target", "final_target"),
)


def _row_spec(number: int, row: dict[str, str]) -> IndicatorSpec:
    unit = _opt(row["unit"])
    values = []
    for kind, year_prefix, value_column in _COLUMNS:
        year = _opt(row[f"{year_prefix}_year"])
        if year is None:  # the table has no such column for this indicator
            continue
        printed = _opt(row[value_column])
        estimate = kind == PlanValueKind.MIDTERM_ACTUAL and row["midterm_is_estimate"].strip() == "1"
        values.append(
            PlanValueSpec(
                kind=kind,
                fiscal_year=int(year),
                year_label=row[f"{year_prefix}_year_label"].strip(),
                printed=printed,
                value=None if printed is None else parse_printed(printed, unit),
                is_estimate=estimate,
            )
        )
    return IndicatorSpec(
        code=row["code"].strip(),
        sort_order=number,
        policy=int(row["policy"]),
        measure=_opt(row["measure"]),
        measure_title=_opt(row["measure_title"]),
        name=row["name"].strip(),
        footnote_marker=_opt(row["footnote_marker"]),
        unit=unit,
        direction=Direction(row["direction"].strip() or "unknown"),
        direction_basis=_opt(row["direction_basis"]),
        source_kind=SourceKind(row["source_kind"].strip()),
        midterm_status=_opt(row["midterm_status"]),
        footnotes=_opt(row["footnotes"]),
        review_note=_opt(row["review_note"]),
        source_line=int(row["source_line"]) if _opt(row["source_line"]) else None,
        plan_values=tuple(values),
    )


def read_catalog(path: Path = CATALOG_PATH) -> list[IndicatorSpec]:
    """Every indicator of the data file, in file order; CatalogError on a malformed row or duplicate code."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    specs = []
    for number, row in enumerate(rows, start=1):
        try:
            specs.append(_row_spec(number, row))
        except (KeyError, ValueError) as error:
            raise CatalogError(f"{path.name} row {number + 1}: {error}") from error
    codes = [spec.code for spec in specs]
    if len(set(codes)) != len(codes):
        raise CatalogError(f"{path.name}: duplicate codes")
    return specs
