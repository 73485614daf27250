"""Indicator pages: the staff catalog and manual-value entry (ward staff), and the public transparency page."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.permissions import Role, role_required
from app.extensions import db
from app.indicators import export, queries, services
from app.indicators.forms import ManualValueForm
from app.indicators.models import SourceKind

bp = Blueprint("indicators", __name__)


@bp.app_template_filter("indicator_value")
def indicator_value(value: Decimal | None, unit: str | None = None) -> str:
    """A value with thousands separators and its unit ('15,781人', '45.2%'); '' when unknown."""
    if value is None:
        return ""
    return f"{value:,f}{unit or ''}"


@bp.app_template_filter("progress_percent")
def progress_percent(rate: Decimal | None) -> str:
    """A 進捗率 as a percentage with one decimal ('78.3%'); '' when it cannot be computed."""
    if rate is None:
        return ""
    return f"{(rate * 100).quantize(Decimal('0.1')):,f}%"


@bp.get("/indicators")
def public_list():
    """Everyone: the plan's indicators with their printed values and the latest published survey values."""
    return render_template("indicators/public.html", policies=queries.summaries_by_policy(),
                           policy_titles=queries.POLICY_TITLES)


@bp.get("/staff/indicators")
@role_required(Role.WARD_STAFF)
def staff_list():
    """Ward staff: every indicator per policy with baseline, targets, printed mid-term values and source."""
    return render_template("indicators/staff_list.html", policies=queries.summaries_by_policy(),
                           policy_titles=queries.POLICY_TITLES)


@bp.get("/staff/indicators/export.csv")
@role_required(Role.WARD_STAFF)
def staff_export():
    """Ward staff: the catalog with the latest values as CSV (UTF-8 with BOM) for the 政策評価."""
    body = export.to_csv(queries.summaries_by_policy())
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=indicators.csv"},
    )


def _indicator_or_404(code: str):
    indicator = queries.get_by_code(code)
    if indicator is None:
        abort(404)
    return indicator


def _detail(indicator, form: ManualValueForm | None = None, status: int = 200):
    if form is None and indicator.source_kind == SourceKind.MANUAL:
        form = ManualValueForm()
    return render_template(
        "indicators/staff_detail.html",
        summary=queries.summarize(indicator),
        indicator=indicator,
        form=form,
        policy_titles=queries.POLICY_TITLES,
    ), status


@bp.get("/staff/indicators/<code>")
@role_required(Role.WARD_STAFF)
def staff_detail(code: str):
    """Ward staff: one indicator as printed, its notes, and the values staff entered."""
    return _detail(_indicator_or_404(code))


@bp.post("/staff/indicators/<code>/values")
@role_required(Role.WARD_STAFF)
def enter_value(code: str):
    """Ward staff: record a survey value for a fiscal year (re-entering a year replaces it, audited)."""
    indicator = _indicator_or_404(code)
    if indicator.source_kind != SourceKind.MANUAL:
        abort(404)  # computed indicators take their values from Tsudoi's data
    form = ManualValueForm()
    if not form.validate_on_submit():
        return _detail(indicator, form, 422)
    try:
        services.record_manual_value(
            indicator,
            fiscal_year=int(form.fiscal_year.data),
            value_text=form.value.data,
            source_document=form.source_document.data,
            source_date=form.source_date.data,
            note=form.note.data,
            actor_id=current_user.id,
        )
    except services.InvalidManualValue as error:
        db.session.rollback()
        getattr(form, error.field).errors.append(error.message)
        return _detail(_indicator_or_404(code), form, 422)
    db.session.commit()
    flash(_("値を保存しました。"), "success")
    return redirect(url_for("indicators.staff_detail", code=code))
