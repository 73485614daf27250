"""Staff utilization pages (read-only): overview of every facility, one facility or room, CSV and XLSX exports."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from app.core.args import fiscal_year_arg, id_arg
from app.core.converters import ID_MAX
from app.core.permissions import Role, role_required
from app.core.time import fiscal_year, format_wareki_year, today_tokyo
from app.dashboards import export, queries
from app.extensions import db
from app.facilities.models import Facility, Room
from app.utilization.access import can_see
from app.utilization.compute import FORMULAS, MIX_KEYS, MIX_LABELS
from app.utilization.figures import DEFINITIONS

bp = Blueprint("dashboards", __name__)

STAFF = (Role.FACILITY_STAFF, Role.WARD_STAFF)
MIN_YEAR, MAX_YEAR = 2000, 2100


def _year(*, strict: bool = False) -> int:
    """The fiscal year asked for (?fy=2026), this fiscal year by default; see fiscal_year_arg for bad values."""
    return fiscal_year_arg(MIN_YEAR, MAX_YEAR, default=fiscal_year(today_tokyo()), strict=strict)


def _context(year: int) -> dict:
    return {
        "year": year, "year_label": format_wareki_year(year, fiscal=True),
        "previous_label": format_wareki_year(year - 1, fiscal=True), "formulas": FORMULAS,
        "definitions": DEFINITIONS,
        "weekdays": queries.WEEKDAY_LABELS, "mix_keys": MIX_KEYS, "mix_labels": MIX_LABELS,
    }


@bp.get("/staff/utilization")
@role_required(*STAFF)
def overview():
    """Every facility the user may see: 利用率 this year and last, 区民センター against the plan's target."""
    year = _year()
    data = queries.overview(current_user, year)
    return render_template("dashboards/overview.html", data=data, target_label=queries.TARGET_LABEL,
                           **_context(year))


@bp.get("/staff/utilization/facilities/<int:facility_id>")
@role_required(*STAFF)
def facility(facility_id: int):
    """One facility (or one of its rooms with ?room_id=): heatmap, months, rooms, two years, least-used slots."""
    if facility_id > ID_MAX:
        abort(404)
    if not can_see(current_user, facility_id):
        abort(403)
    item = db.session.get(Facility, facility_id) or abort(404)
    room = None
    room_id = id_arg("room_id", strict=True)
    if room_id is not None:
        room = db.session.get(Room, room_id)
        if room is None or room.facility_id != facility_id:
            abort(404)
    year = _year()
    report = queries.facility_report(item, year, room=room)
    return render_template("dashboards/facility.html", report=report, **_context(year))


def _export_rows():
    facility_id = id_arg("facility_id", strict=True)
    if facility_id is not None and not can_see(current_user, facility_id):
        abort(403)
    year = _year(strict=True)
    figures = queries.figure_rows(current_user, year) if facility_id is None else ()
    return year, queries.export_rows(current_user, year, facility_id), figures


@bp.get("/staff/utilization/export.csv")
@role_required(*STAFF)
def export_csv():
    """利用率 per facility, room and month of a fiscal year as CSV (UTF-8 with BOM)."""
    year, rows, figures = _export_rows()
    return Response(export.to_csv(rows, figures), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=utilization-{year}.csv"})


@bp.get("/staff/utilization/export.xlsx")
@role_required(*STAFF)
def export_xlsx():
    """The same rows as the CSV, as an Excel workbook."""
    year, rows, figures = _export_rows()
    return Response(export.to_xlsx(rows, figures),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=utilization-{year}.xlsx"})


@bp.app_template_filter("dash_float")
def dash_float(value):
    """A Decimal as a float for chart JSON (None stays None: a gap in the chart)."""
    return None if value is None else float(value)


@bp.app_template_filter("dash_rate")
def dash_rate(row):
    """A row's 利用率 as a float for chart JSON, None when there is no row or nothing was bookable."""
    return None if row is None or row.rate is None else float(row.rate)


@bp.app_template_filter("dash_month")
def dash_month(key: int) -> str:
    """A month key (year * 100 + month) as '2026年4月'."""
    return _("%(year)d年%(month)d月", year=key // 100, month=key % 100)


@bp.app_template_filter("dash_month_name")
def dash_month_name(month: int) -> str:
    """A month number as '4月'."""
    return _("%(month)d月", month=month)
